/**
 * The shared position read: writes join a batch that is read when a session needs it (at once) or after the
 * gathering delay, never a read already under way; one read serves the whole batch; while no session awaits any
 * batch, a batch gathers for longer.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as TestClock from "effect/TestClock"
import * as SharedPosition from "../src/internal/sharedPosition.js"
import type { Position } from "../src/SessionToken.js"

const lsn = (n: number): Position => ({ kind: "lsn", value: `0/${n.toString(16).toUpperCase()}` })

/** A position source that counts its reads and answers the n-th with position n (or waits on `gate` first). */
const source = (gate?: Deferred.Deferred<void>) => {
  let reads = 0
  const read: Effect.Effect<Position | undefined, SqlError> = Effect.suspend(() => {
    const n = ++reads
    return Effect.as(gate === undefined ? Effect.void : Deferred.await(gate), lsn(n))
  })
  return { read, reads: () => reads }
}

/** Lets forked fibers run until `done` holds (at most 100 turns). */
const settle = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 100 && !done(); i++) yield* Effect.yieldNow()
  })

/** A write's join as the primary runs it: the batch's await, after starting the batch's timer if it needs one. */
const start = (shared: ReturnType<typeof SharedPosition.make>) =>
  Effect.suspend(() => {
    const [awaited, timer] = shared.join()
    return timer === undefined ? Effect.succeed(awaited) : Effect.as(timer, awaited)
  })

describe("SharedPosition", () => {
  it.effect("the writes of one batch share one await; only the first starts a timer, and the next batch a new one", () =>
    Effect.gen(function*() {
      const s = source()
      const shared = SharedPosition.make(s.read, "5 millis")
      const [first, timer] = shared.join()
      expect(timer).toBeDefined()
      yield* timer!
      const [second, again] = shared.join()
      expect(second).toBe(first)
      expect(again).toBeUndefined()
      yield* TestClock.adjust("5 millis")
      expect(yield* first).toEqual(lsn(1))
      const [next, nextTimer] = shared.join()
      expect(next).not.toBe(first)
      expect(nextTimer).toBeDefined()
    }))

  it.effect("writes that no read follows share one read, started by the gathering delay", () =>
    Effect.gen(function*() {
      const s = source()
      const shared = SharedPosition.make(s.read, "5 millis")
      const latest = yield* Effect.forEach(Array.from({ length: 20 }), () => start(shared))
      yield* TestClock.adjust("4 millis")
      expect(s.reads()).toBe(0)
      yield* TestClock.adjust("1 millis")
      const positions = yield* Effect.forEach(latest, (l) => l)
      expect(s.reads()).toBe(1)
      expect(new Set(positions.map((p) => p?.value))).toEqual(new Set(["0/1"]))
    }))

  it.effect("a read that needs the position starts the batch at once, without the delay", () =>
    Effect.gen(function*() {
      const s = source()
      const shared = SharedPosition.make(s.read, "1 hour")
      const latest = yield* start(shared)
      expect(yield* latest).toEqual(lsn(1))
      expect(s.reads()).toBe(1)
    }))

  it.effect("a write that finishes while a read is under way joins the next read, never the current one", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const s = source(gate)
      const shared = SharedPosition.make(s.read, "5 millis")
      const first = yield* start(shared)
      const firstFiber = yield* Effect.fork(first)
      yield* settle(() => s.reads() === 1)
      expect(s.reads()).toBe(1)
      const second = yield* start(shared) // the first read is under way: it may predate this write
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(firstFiber)).toEqual(lsn(1))
      expect(yield* second).toEqual(lsn(2))
      expect(s.reads()).toBe(2)
    }))

  it.effect("with no gathering delay, the read starts when the write returns", () =>
    Effect.gen(function*() {
      const s = source()
      const shared = SharedPosition.make(s.read, 0)
      yield* start(shared)
      yield* settle(() => s.reads() === 1)
      expect(s.reads()).toBe(1)
    }))

  it.effect("a batch a session awaits while a read is under way is read as soon as that read ends", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const s = source(gate)
      const shared = SharedPosition.make(s.read, "1 hour")
      const first = yield* start(shared)
      const firstFiber = yield* Effect.fork(first)
      yield* settle(() => s.reads() === 1)
      const second = yield* start(shared)
      const secondFiber = yield* Effect.fork(second) // asks for it while the first read is under way
      yield* settle(() => false)
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(firstFiber)).toEqual(lsn(1))
      // No clock moved: the second read did not wait for the gathering delay.
      expect(yield* Fiber.join(secondFiber)).toEqual(lsn(2))
    }))

  it.effect("under sustained writes one fiber reads batch after batch: no reader or timer is forked by another", () =>
    Effect.gen(function*() {
      // Each read takes 3 ms and a write joins every millisecond: a batch always waits when a read ends.
      const readers = new Set<string>()
      let reads = 0
      const read = Effect.withFiberRuntime<Position | undefined>((fiber) => {
        readers.add(FiberId.threadName(fiber.id()))
        const n = ++reads
        return Effect.as(Effect.sleep("3 millis"), lsn(n))
      })
      // The same delay when quiet: this is about who reads, not how often.
      const shared = SharedPosition.make(read, "5 millis", "5 millis")
      for (let i = 0; i < 200; i++) {
        yield* start(shared)
        yield* TestClock.adjust("1 millis")
      }
      expect(reads).toBeGreaterThan(20)
      // A fork copies its parent's FiberRefs onto longer stacks: a chain of readers grew them by one per batch.
      expect(readers.size).toBe(1)
    }))

  /** Writes `batches` batches 10 ms apart, each read by its gathering delay with no session awaiting it. */
  const quietBatches = (shared: ReturnType<typeof SharedPosition.make>, batches: number) =>
    Effect.gen(function*() {
      for (let i = 0; i < batches; i++) {
        yield* start(shared)
        yield* TestClock.adjust("10 millis")
      }
    })

  it.effect("once batches go unawaited, a batch gathers for the idle delay; a read still starts it at once", () =>
    Effect.gen(function*() {
      const s = source()
      const shared = SharedPosition.make(s.read, "5 millis", "100 millis")
      yield* quietBatches(shared, SharedPosition.QUIET_BATCHES)
      expect(s.reads()).toBe(SharedPosition.QUIET_BATCHES)
      // The next batch: not read after 5 ms, read after 100.
      yield* start(shared)
      yield* TestClock.adjust("99 millis")
      expect(s.reads()).toBe(SharedPosition.QUIET_BATCHES)
      yield* TestClock.adjust("1 millis")
      expect(s.reads()).toBe(SharedPosition.QUIET_BATCHES + 1)
      // Quiet still, a session that needs a batch's position does not wait for the idle delay.
      const awaited = yield* start(shared)
      expect(yield* awaited).toEqual(lsn(SharedPosition.QUIET_BATCHES + 2))
    }))

  it.effect("a session awaiting any batch, even one already read, brings the short delay back", () =>
    Effect.gen(function*() {
      const s = source()
      const shared = SharedPosition.make(s.read, "5 millis", "100 millis")
      yield* quietBatches(shared, SharedPosition.QUIET_BATCHES)
      const late = yield* start(shared)
      yield* TestClock.adjust("100 millis")
      expect(yield* late).toEqual(lsn(SharedPosition.QUIET_BATCHES + 1))
      yield* start(shared)
      yield* TestClock.adjust("5 millis")
      expect(s.reads()).toBe(SharedPosition.QUIET_BATCHES + 2)
    }))

  it.effect("batches a session awaits keep the short delay however many there are", () =>
    Effect.gen(function*() {
      const s = source()
      const shared = SharedPosition.make(s.read, "5 millis", "100 millis")
      for (let i = 1; i <= 3 * SharedPosition.QUIET_BATCHES; i++) {
        const awaited = yield* start(shared)
        yield* TestClock.adjust("5 millis")
        expect(s.reads()).toBe(i)
        yield* awaited
      }
    }))
})
