/**
 * Waiting for a primary (`primaryWaitTimeout`): the pause schedule as a table, and the real router over in-process
 * fake nodes whose monitor first shows no primary, then one. What the wait does on real servers (a primary stopped
 * and started under writes and transactions) is in faults/primaryWait.integration.test.ts.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import type { NodeHealth } from "@fastorm/health"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as TestServices from "effect/TestServices"
import * as PrimaryWait from "../src/internal/primaryWait.js"
import { fromSqlError, PrimaryUnavailable, toSqlError, WriteOutcomeUnknown } from "../src/RouterError.js"
import { healthy, makeRouter } from "./support/fakeRouter.js"

describe("the pauses between attempts", () => {
  const deadline = 1_000
  it.each([
    // attempt, now, pause
    [0, 0, 25],
    [1, 0, 50],
    [2, 0, 100],
    [3, 0, 200],
    [4, 0, 250],
    [10, 0, 250],
    [4, 900, 100],
    [0, 990, 10],
    [0, 1_000, undefined],
    [3, 1_500, undefined]
  ])("attempt %i at %i ms of a wait ending at 1000 ms: pause %s", (attempt, now, pause) => {
    expect(PrimaryWait.nextPause(attempt, now, deadline)).toBe(pause)
  })

  it("is no wait at all when the timeout is zero", () => {
    expect(PrimaryWait.make(Duration.zero, PrimaryWait.changes())).toBeUndefined()
  })
})

describe("a pause and the primary's changes", () => {
  const unavailable = toSqlError(new PrimaryUnavailable({ node: "(none)", reason: "no node is the primary" }))
  const lostConnect = new SqlError({
    message: "connect ECONNREFUSED",
    cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
  })

  // The test clock never moves here: a pause ends only because the primary changed. A wait that missed the change
  // would never end on the test clock, so each is joined within 10 s of real time: a regression fails, not hangs.
  const joined = <A, E>(fiber: Fiber.Fiber<A, E>) =>
    TestServices.provideLive(
      Effect.timeoutFail(Fiber.join(fiber), {
        duration: Duration.seconds(10),
        onTimeout: () => new Error("the wait did not end when the primary changed")
      })
    )

  // Uninterruptible: as a transaction's connection is acquired, where the pause's race must still end.
  it.effect.each([["interruptible", false], ["uninterruptible", true]] as const)(
    "a pause ends as soon as the primary changes, and the statement is decided again (%s)",
    ([, uninterruptible]) =>
      Effect.gen(function*() {
        const changes = PrimaryWait.changes()
        const wait = PrimaryWait.make(Duration.minutes(1), changes)!
        const state = { up: false, attempts: 0 }
        const attempt = Effect.suspend(() => {
          state.attempts++
          return state.up ? Effect.succeed("ran") : Effect.fail(unavailable)
        })
        const fiber = yield* Effect.fork(uninterruptible ? Effect.uninterruptible(wait(attempt)) : wait(attempt))
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
        expect([state.attempts, fiber.unsafePoll()]).toEqual([1, null])
        state.up = true
        changes.fire()
        expect(yield* joined(fiber)).toBe("ran")
        expect(state.attempts).toBe(2)
      })
  )

  it.effect("a change before the pause begins (after the attempt was decided) is not missed", () =>
    Effect.gen(function*() {
      const changes = PrimaryWait.changes()
      const wait = PrimaryWait.make(Duration.minutes(1), changes)!
      const state = { attempts: 0 }
      // The first attempt fails just as the primary changes; the second one runs.
      const attempt = Effect.suspend(() => {
        state.attempts++
        if (state.attempts > 1) return Effect.succeed("ran")
        changes.fire()
        return Effect.fail(unavailable)
      })
      expect(yield* joined(yield* Effect.fork(wait(attempt)))).toBe("ran")
      expect(state.attempts).toBe(2)
    }))

  const refused = new SqlError({
    message: "password authentication failed",
    cause: Object.assign(new Error("password authentication failed"), { code: "28P01" })
  })
  it.each([
    ["no primary named", unavailable, true],
    [
      "a connect refused",
      toSqlError(new PrimaryUnavailable({ node: "p", reason: "refused", cause: lostConnect })),
      true
    ],
    ["a login refused", toSqlError(new PrimaryUnavailable({ node: "p", reason: "login", cause: refused })), false],
    ["a write of unknown outcome", toSqlError(new WriteOutcomeUnknown({ node: "p", cause: lostConnect })), false],
    ["a statement's own error", new SqlError({ message: "syntax error", cause: { code: "42601" } }), false]
  ])("%s: waits for a primary = %s", (_, error, waits) => {
    expect(PrimaryWait.waitsFor(error)).toBe(waits)
  })

  it.effect("a statement inside a transaction never waits: it runs on the transaction's connection or not at all", () =>
    Effect.gen(function*() {
      const wait = PrimaryWait.make(Duration.minutes(1), PrimaryWait.changes())!
      const state = { attempts: 0 }
      const result = yield* Effect.either(
        wait(Effect.suspend(() => {
          state.attempts++
          return Effect.fail(unavailable)
        })).pipe(
          Effect.provideService(SqlClient.TransactionConnection, [{} as Connection, 0] as const)
        )
      )
      expect(Either.isLeft(result) && result.left).toBe(unavailable)
      expect(state.attempts).toBe(1)
    }))

  it.effect("other failures are not retried", () =>
    Effect.gen(function*() {
      const wait = PrimaryWait.make(Duration.minutes(1), PrimaryWait.changes())!
      const state = { attempts: 0 }
      const other = toSqlError(new WriteOutcomeUnknown({ node: "primary", cause: new Error("connection lost") }))
      const result = yield* Effect.either(wait(Effect.suspend(() => {
        state.attempts++
        return Effect.fail(other)
      })))
      expect(Either.isLeft(result) && result.left).toBe(other)
      expect(state.attempts).toBe(1)
    }))
})

// The configured primary answers as a replica (demoted, a switchover in progress): no node is the primary.
const demoted: NodeHealth.NodeHealth = { ...healthy("primary", "primary", "0/30"), role: "replica" }
const replicas = [healthy("replica-1", "replica", "0/20"), healthy("replica-2", "replica", "0/20")]
const withPrimary = [healthy("primary", "primary", "0/30"), ...replicas]
const withoutPrimary = [demoted, ...replicas]

/** A router whose monitor shows no primary until `appear()`; `primaryWaitTimeout` as given. */
const cluster = (primaryWaitTimeout: Duration.DurationInput | undefined) =>
  Effect.gen(function*() {
    let snapshot: ReadonlyArray<NodeHealth.NodeHealth> = withoutPrimary
    const router = yield* makeRouter({
      snapshot: () => snapshot,
      positions: ["0/10", "0/11", "0/12"],
      readWrite: primaryWaitTimeout === undefined ? {} : { primaryWaitTimeout }
    })
    return { router, appear: () => (snapshot = withPrimary) }
  })

/** Waits for a primary counted so far on the cluster `fake`, by outcome. */
const waitsCounted = Effect.map(Metric.snapshot, (pairs) => {
  const out: Record<string, number> = {}
  for (const pair of pairs) {
    if (pair.metricKey.name !== "fastorm_primary_waits_total") continue
    if (!pair.metricKey.tags.some((t) => t.key === "cluster" && t.value === "fake")) continue
    if (!MetricState.isCounterState(pair.metricState)) continue
    const outcome = pair.metricKey.tags.find((t) => t.key === "outcome")?.value ?? "?"
    out[outcome] = (out[outcome] ?? 0) + Number(pair.metricState.count)
  }
  return out
})

const tagOf = (error: unknown) => {
  const routerError = fromSqlError(error as never)
  return routerError._tag === "Some" ? routerError.value._tag : String(error)
}

describe("a statement that finds no primary", () => {
  it.scoped("fails at once with PrimaryUnavailable by default", () =>
    Effect.gen(function*() {
      const { router } = yield* cluster(undefined)
      const started = Date.now()
      const result = yield* Effect.either(router.write.unsafe("UPDATE t SET x = 1"))
      expect(Either.isLeft(result) && tagOf(result.left)).toBe("PrimaryUnavailable")
      expect(Date.now() - started).toBeLessThan(200)
    }))

  it.live("waits for a primary that appears within primaryWaitTimeout, and runs there once", () =>
    Effect.scoped(Effect.gen(function*() {
      const { appear, router } = yield* cluster("5 seconds")
      const counted = yield* waitsCounted
      const started = Date.now()
      const write = yield* Effect.fork(router.write.unsafe<{ node: string }>("UPDATE t SET x = 1 RETURNING node"))
      const read = yield* Effect.fork(router.read.unsafe<{ node: string }>("SELECT * FROM t FOR UPDATE"))
      yield* Effect.sleep("300 millis")
      // Still waiting: nothing was answered while no node was the primary.
      expect(write.unsafePoll()).toBeNull()
      expect(read.unsafePoll()).toBeNull()
      appear()
      expect((yield* Fiber.join(write))[0]!.node).toBe("primary")
      expect((yield* Fiber.join(read))[0]!.node).toBe("primary")
      const took = Date.now() - started
      expect(took).toBeGreaterThanOrEqual(300)
      // The longest pause is 250 ms; the rest is room for a loaded machine.
      expect(took).toBeLessThan(300 + PrimaryWait.MAX_PAUSE_MS + 1_500)
      expect((yield* router.stats).byNodeAndReason).toEqual({ "primary|write": 1, "primary|locking": 1 })
      // Both waits counted as found (the metric is the process's: what this test added).
      const now = yield* waitsCounted
      expect((now.found ?? 0) - (counted.found ?? 0)).toBe(2)
      expect((now.gave_up ?? 0) - (counted.gave_up ?? 0)).toBe(0)
    })))

  it.live("fails with PrimaryUnavailable once primaryWaitTimeout is over", () =>
    Effect.scoped(Effect.gen(function*() {
      const { router } = yield* cluster("400 millis")
      const counted = yield* waitsCounted
      const started = Date.now()
      const result = yield* Effect.either(router.write.unsafe("UPDATE t SET x = 1"))
      const took = Date.now() - started
      expect(Either.isLeft(result) && tagOf(result.left)).toBe("PrimaryUnavailable")
      expect(took).toBeGreaterThanOrEqual(400)
      expect(took).toBeLessThan(400 + 1_500)
      expect((yield* router.stats).byNodeAndReason).toEqual({})
      const now = yield* waitsCounted
      expect([(now.found ?? 0) - (counted.found ?? 0), (now.gave_up ?? 0) - (counted.gave_up ?? 0)]).toEqual([0, 1])
    })))

  it.live("a write whose outcome is unknown is never run again, even with a wait", () =>
    Effect.scoped(Effect.gen(function*() {
      const { appear, router } = yield* cluster("5 seconds")
      appear()
      const started = Date.now()
      // The fake node fails a statement that mentions "lost" as if its connection broke once it was sent.
      const result = yield* Effect.either(router.write.unsafe("UPDATE lost SET x = 1"))
      expect(Either.isLeft(result) && tagOf(result.left)).toBe("WriteOutcomeUnknown")
      expect(Date.now() - started).toBeLessThan(1_000)
      expect((yield* router.stats).byNodeAndReason).toEqual({ "primary|write": 1 })
    })))
})
