import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Lock from "../src/internal/sqliteLock.js"

/** Lets queued microtasks (the lock's look at its waiters) and resumed fibers run. */
const settle = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("SQLite connection lock", () => {
  it.live("a release frees the lock for the running fiber; the first waiter gets it once that fiber stops", () =>
    Effect.gen(function*() {
      const lock = Lock.make()
      expect(lock.tryAcquire()).toBe(true)
      const waiter = yield* Effect.fork(lock.acquire)
      yield* settle
      expect(waiter.unsafePoll()).toBeNull()
      // In one step: released and taken again by the same fiber, without handing it to the waiter.
      lock.release()
      expect(lock.tryAcquire()).toBe(true)
      lock.release()
      expect(lock.isHeld()).toBe(false)
      // The fiber stops: the waiter is given the free lock.
      yield* Fiber.join(waiter)
      expect(lock.isHeld()).toBe(true)
      expect(lock.tryAcquire()).toBe(false)
      lock.release()
      expect(lock.isHeld()).toBe(false)
    }))

  it.live("a waiter passed over once is handed the lock at the next release", () =>
    Effect.gen(function*() {
      const lock = Lock.make()
      expect(lock.tryAcquire()).toBe(true)
      const waiter = yield* Effect.fork(lock.acquire)
      yield* settle
      lock.release()
      expect(lock.tryAcquire()).toBe(true)
      // The look at the waiters finds the lock taken again: the waiter is owed the next release.
      yield* settle
      expect(waiter.unsafePoll()).toBeNull()
      lock.release()
      expect(lock.isHeld()).toBe(true)
      expect(lock.tryAcquire()).toBe(false)
      yield* Fiber.join(waiter)
      lock.release()
      expect(lock.isHeld()).toBe(false)
    }))

  it.live("while others wait, a fiber retaking the lock in one step hands it over after `turns` releases", () =>
    Effect.gen(function*() {
      const lock = Lock.make(3)
      expect(lock.tryAcquire()).toBe(true)
      const waiter = yield* Effect.fork(lock.acquire)
      yield* settle
      // Two releases free it (and the same fiber takes it again), the third hands it to the waiter.
      for (let i = 0; i < 2; i++) {
        lock.release()
        expect(lock.tryAcquire()).toBe(true)
      }
      lock.release()
      expect(lock.tryAcquire()).toBe(false)
      yield* Fiber.join(waiter)
      lock.release()
      expect(lock.isHeld()).toBe(false)
      // Nobody waiting: releases never hand it over, however many.
      for (let i = 0; i < 5; i++) {
        expect(lock.tryAcquire()).toBe(true)
        lock.release()
      }
      expect(lock.isHeld()).toBe(false)
    }))

  it.live("an interrupted waiter leaves the queue; the lock is then freed, not handed to it", () =>
    Effect.gen(function*() {
      const lock = Lock.make()
      expect(lock.tryAcquire()).toBe(true)
      const waiter = yield* Effect.fork(lock.acquire)
      yield* settle
      lock.release()
      expect(lock.tryAcquire()).toBe(true)
      yield* settle
      yield* Fiber.interrupt(waiter)
      lock.release()
      expect(lock.isHeld()).toBe(false)
      expect(lock.tryAcquire()).toBe(true)
    }))

  it.live("a fiber that takes the lock again right after each release cannot keep a waiter out", () =>
    Effect.gen(function*() {
      const lock = Lock.make()
      let turns = 0
      // Holds the lock across a yield (a transaction awaiting something), releases, and takes it again in the same
      // step (no `Effect.forever`: it yields between rounds).
      const round = Effect.zipRight(
        Effect.zipRight(lock.acquire, Effect.yieldNow()),
        Effect.sync(() => {
          turns++
          lock.release()
        })
      )
      const loop: Effect.Effect<never> = Effect.flatMap(round, () => loop)
      const greedy = yield* Effect.fork(loop)
      yield* settle
      const waiter = yield* Effect.fork(Effect.zipRight(lock.acquire, Effect.sync(() => lock.release())))
      yield* Fiber.join(waiter).pipe(Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => "starved" }))
      yield* Fiber.interrupt(greedy)
      expect(turns).toBeGreaterThan(1)
    }))
})
