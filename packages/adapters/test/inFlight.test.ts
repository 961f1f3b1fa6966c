/**
 * Reads tracked while in flight (`InFlight`): `cutAll` cancels each as an interruption would and fails it with a
 * connection-class error; an answered or interrupted read is no longer tracked; the first of answer, cut or
 * interruption wins. A watched stream is told of a cut until it is unwatched, and counted only if it ended something.
 */
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { cancellable } from "../src/internal/cancellable.js"
import { cutError, InFlight } from "../src/internal/inFlight.js"

/** A wait whose answer the test gives (`answer`), counting its cancellations. */
const pending = () => {
  const state = { cancelled: 0, resume: undefined as ((outcome: Effect.Effect<number, SqlError>) => void) | undefined }
  return {
    state,
    register: (resume: (outcome: Effect.Effect<number, SqlError>) => void) => {
      state.resume = resume
      return () => {
        state.cancelled++
      }
    },
    answer: (n: number) => state.resume!(Effect.succeed(n))
  }
}

describe("InFlight", () => {
  it.effect("cutAll ends every read waiting: cancelled once, failed with ECONNABORTED naming the node", () =>
    Effect.gen(function*() {
      const reads = new InFlight("replica-1")
      const a = pending()
      const b = pending()
      const fa = yield* Effect.fork(Effect.flip(cancellable(reads.track(a.register))))
      const fb = yield* Effect.fork(Effect.flip(cancellable(reads.track(b.register))))
      yield* Effect.yieldNow()
      expect(reads.cutAll()).toBe(2)
      const [ea, eb] = [yield* Fiber.join(fa), yield* Fiber.join(fb)]
      expect(ea).toBeInstanceOf(SqlError)
      expect(ea.message).toBe(cutError("replica-1").message)
      expect((ea.cause as { code?: string }).code).toBe("ECONNABORTED")
      expect(eb.message).toMatch(/"replica-1"/)
      expect([a.state.cancelled, b.state.cancelled]).toEqual([1, 1])
      // A late answer after the cut changes nothing; nothing is left to cut.
      a.answer(7)
      expect(reads.cutAll()).toBe(0)
    }))

  it.effect("an answered read is no longer tracked and never cancelled", () =>
    Effect.gen(function*() {
      const reads = new InFlight("replica-1")
      const a = pending()
      const fiber = yield* Effect.fork(cancellable(reads.track(a.register)))
      yield* Effect.yieldNow()
      a.answer(42)
      expect(yield* Fiber.join(fiber)).toBe(42)
      expect(reads.cutAll()).toBe(0)
      expect(a.state.cancelled).toBe(0)
    }))

  it.effect("an interrupted read is cancelled once and no longer tracked", () =>
    Effect.gen(function*() {
      const reads = new InFlight("replica-1")
      const a = pending()
      const fiber = yield* Effect.fork(cancellable(reads.track(a.register)))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      expect(a.state.cancelled).toBe(1)
      expect(reads.cutAll()).toBe(0)
      expect(a.state.cancelled).toBe(1)
    }))

  it("a watched stream is told of one cut until unwatched; counted only when it ended something", () => {
    const reads = new InFlight("replica-1")
    const told: Array<string> = []
    reads.watch(() => {
      told.push("waiting")
      return true
    })
    // Its rows had all come: told, but nothing was ended.
    reads.watch(() => {
      told.push("finished")
      return false
    })
    const unwatch = reads.watch(() => {
      told.push("unwatched")
      return true
    })
    unwatch()
    expect(reads.cutAll()).toBe(1)
    expect(told).toEqual(["waiting", "finished"])
    // Each is told once.
    expect(reads.cutAll()).toBe(0)
    expect(told).toHaveLength(2)
  })
})
