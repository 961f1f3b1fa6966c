/**
 * Waiting for a primary (`primaryWaitTimeout`, README "Waiting for a primary"), on PostgreSQL and MariaDB: the
 * primary is stopped; writes and a transaction begun while it is down wait, and once it is started again each runs
 * there exactly once. A wait shorter than the outage ends with `PrimaryUnavailable` within its bound. Figures are
 * printed with the `[primary-wait]` prefix.
 */
import { describe, expect, it } from "@effect/vitest"
import { WriteConnection } from "@fastorm/core"
import { LOADED_MACHINE_SLACK_MS, restorePrimary, startNode, stopNode, waitUntil } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import { RouterError } from "../../src/index.js"
import { MAX_PAUSE_MS } from "../../src/internal/primaryWait.js"
import { monitoredLayer, PrimaryClient, PROBE_INTERVAL_MS } from "./monitored.js"
import type { Backend } from "./support.js"
import { backends, CONNECT_TIMEOUT_MS, copiesOf, ensureTable, KV_TABLE, runId, writeKv } from "./support.js"

/** Two writes in one transaction, begun through the router's write client. */
const transactionOf = (b: Backend, key: string, values: readonly [string, string]) =>
  Effect.flatMap(WriteConnection, (write) =>
    RouterError.refine(
      write.withTransaction(
        Effect.forEach(values, (v) =>
          write.unsafe(`INSERT INTO ${KV_TABLE} (k, v) VALUES (${b.p(1)}, ${b.p(2)})`, [key, v]))
      )
    ))

/**
 * Stops the primary, then waits until the pool has heard that its connections to it were closed: the server's
 * process is gone when `stopNode` returns, but the pool drops its idle connection only when the socket's end has been
 * read and its close callback has run, some event-loop turns later (more on a loaded machine). A write borrowed before
 * then would go out on the dead socket, and its outcome would honestly be unknown (`WriteOutcomeUnknown`), not the
 * wait these tests are about. Bounded: a pool that never hears it fails the test.
 */
const stopPrimary = (b: Backend) =>
  Effect.gen(function*() {
    const client = yield* PrimaryClient
    yield* Effect.promise(() => stopNode(b.nodes.primary))
    yield* waitUntil(Effect.sync(() => client.poolStatus()), (pool) => pool.open === 0, {
      what: `the ${b.name} primary's pool to drop its connections to the stopped server`,
      timeoutMs: 10_000,
      intervalMs: 5
    })
  })

for (const b of backends) {
  describe(`waiting for a primary on ${b.name}`, () => {
    it.scopedLive(
      "writes and a transaction begun while the primary is down wait for it, and each runs once when it is back",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          yield* Effect.addFinalizer(() => Effect.promise(() => restorePrimary(b.nodes)))
          const prefix = runId("primary-wait")
          const values = Array.from({ length: 6 }, (_, i) => `${prefix}-w${i}`)
          const inTransaction = [`${prefix}-t0`, `${prefix}-t1`] as const
          const figures = yield* Effect.gen(function*() {
            yield* writeKv(b, prefix, `${prefix}-before`)
            yield* stopPrimary(b)
            const writes = yield* Effect.forEach(values, (v) => Effect.fork(writeKv(b, prefix, v)))
            const transaction = yield* Effect.fork(transactionOf(b, prefix, inTransaction))
            // Down for two seconds: nothing may answer, neither a success nor an error.
            yield* Effect.sleep("2 seconds")
            const answeredWhileDown = [...writes, transaction].filter((f) => f.unsafePoll() !== null).length
            yield* Effect.promise(() => startNode(b.nodes.primary, { timeoutMs: 60_000 }))
            const backAt = performance.now()
            yield* Fiber.join(Fiber.zip(Fiber.all(writes), transaction))
            return { answeredWhileDown, doneMs: Math.round(performance.now() - backAt) }
          }).pipe(Effect.provide(monitoredLayer(b, { readWrite: { primaryWaitTimeout: "30 seconds" } })))
          const copies = yield* Effect.promise(() =>
            Promise.all([...values, ...inTransaction].map((v) => copiesOf(b, v)))
          )
          console.log(
            `[primary-wait ${b.name}] ${values.length} writes and a transaction waited; answered while down: ` +
              `${figures.answeredWhileDown}; all done ${figures.doneMs} ms after the server was back; copies ${
                JSON.stringify(copies)
              }`
          )
          expect(figures.answeredWhileDown).toBe(0)
          expect(copies).toEqual([...values, ...inTransaction].map(() => 1))
          // The monitor sees the node back within two probe intervals; a waiter tries again within its longest pause.
          expect(figures.doneMs).toBeLessThanOrEqual(2 * PROBE_INTERVAL_MS + MAX_PAUSE_MS + LOADED_MACHINE_SLACK_MS)
        }),
      120_000
    )

    it.scopedLive(
      "a wait shorter than the outage ends with PrimaryUnavailable within its bound, and nothing is written",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          yield* Effect.addFinalizer(() => Effect.promise(() => restorePrimary(b.nodes)))
          const value = runId("primary-wait-over")
          const WAIT_MS = 1_500
          const figures = yield* Effect.gen(function*() {
            yield* writeKv(b, value, `${value}-before`)
            yield* stopPrimary(b)
            const started = performance.now()
            const result = yield* Effect.either(writeKv(b, value, value))
            return {
              tookMs: Math.round(performance.now() - started),
              error: Either.isLeft(result) ? (result.left as { _tag?: string })._tag : "none"
            }
          }).pipe(Effect.provide(monitoredLayer(b, { readWrite: { primaryWaitTimeout: `${WAIT_MS} millis` } })))
          yield* Effect.promise(() => restorePrimary(b.nodes))
          console.log(`[primary-wait ${b.name}] a ${WAIT_MS} ms wait ended in ${figures.tookMs} ms: ${figures.error}`)
          expect(figures.error).toBe("PrimaryUnavailable")
          expect(figures.tookMs).toBeGreaterThanOrEqual(WAIT_MS)
          // The wait, then at most one last attempt (bounded by the connect timeout).
          expect(figures.tookMs).toBeLessThanOrEqual(WAIT_MS + CONNECT_TIMEOUT_MS + LOADED_MACHINE_SLACK_MS)
          expect(yield* Effect.promise(() => copiesOf(b, value))).toBe(0)
        }),
      120_000
    )
  })
}
