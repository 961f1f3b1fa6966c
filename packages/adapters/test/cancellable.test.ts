import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { cancellable } from "../src/internal/cancellable.js"

/** Lets the forked fiber run up to its wait. */
const yieldNow = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** A wait whose outcome the test decides, counting cancellations. */
const controlled = () => {
  const state = {
    cancelled: 0,
    resume: undefined as ((outcome: Effect.Effect<number, string>) => void) | undefined
  }
  const wait = cancellable<number, string>((resume) => {
    state.resume = resume
    return () => {
      state.cancelled++
    }
  })
  return { state, wait }
}

describe("cancellable", () => {
  it.live("the callback's value and failure come through; the canceller is not run", () =>
    Effect.gen(function*() {
      const ok = controlled()
      const okFiber = yield* Effect.fork(ok.wait)
      yield* yieldNow
      ok.state.resume!(Effect.succeed(7))
      expect(yield* Fiber.join(okFiber)).toBe(7)
      expect(ok.state.cancelled).toBe(0)

      const failed = controlled()
      const failedFiber = yield* Effect.fork(failed.wait)
      yield* yieldNow
      failed.state.resume!(Effect.fail("refused"))
      expect(yield* Effect.flip(Fiber.join(failedFiber))).toBe("refused")
      expect(failed.state.cancelled).toBe(0)
    }))

  it.live("an interrupted wait runs the canceller once, ends interrupted, and ignores a later callback", () =>
    Effect.gen(function*() {
      const { state, wait } = controlled()
      const fiber = yield* Effect.fork(wait)
      yield* yieldNow
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(state.cancelled).toBe(1)
      state.resume!(Effect.succeed(1))
      yield* yieldNow
      expect(state.cancelled).toBe(1)
    }))

  it.live("a callback during registration answers at once", () =>
    Effect.gen(function*() {
      let cancelled = 0
      const value = yield* cancellable<string, never>((resume) => {
        resume(Effect.succeed("now"))
        return () => {
          cancelled++
        }
      })
      expect(value).toBe("now")
      expect(cancelled).toBe(0)
    }))

  it.live("a failure with the interruption is the failure: the canceller runs only for an interruption alone", () =>
    Effect.gen(function*() {
      const { state, wait } = controlled()
      const fiber = yield* Effect.fork(wait)
      yield* yieldNow
      state.resume!(Effect.die(new Error("driver bug")))
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && !Exit.isInterrupted(exit)).toBe(true)
      expect(state.cancelled).toBe(0)
    }))
})
