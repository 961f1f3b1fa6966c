/**
 * A session read right after a write waits for a replica to replay it: the wait is counted
 * (`fastorm_session_waits_total`, `fastorm_session_wait_ms`) and logged at debug with the node and its outcome. A
 * wait learns how far the replica has replayed, not only that it has the session's write.
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import type { ClusterNodes } from "@fastorm/test-support"
import { captureLogs, loadCluster, scratchTable } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Schedule from "effect/Schedule"
import { FastOrm, SessionToken } from "../src/index.js"

const cluster = loadCluster()
const backends: ReadonlyArray<{ readonly label: string; readonly nodes: ClusterNodes }> = [
  { label: "PostgreSQL", nodes: cluster.postgres },
  { label: "MariaDB", nodes: cluster.mariadb }
]

/** Session waits counted so far, by outcome, over every node. */
const waits = Effect.map(Metric.snapshot, (pairs) => {
  const out: Record<string, number> = {}
  for (const pair of pairs) {
    if (pair.metricKey.name !== "fastorm_session_waits_total") continue
    const state = pair.metricState
    if (!MetricState.isCounterState(state)) continue
    const outcome = pair.metricKey.tags.find((t) => t.key === "outcome")?.value ?? "?"
    out[outcome] = (out[outcome] ?? 0) + Number(state.count)
  }
  return out
})

for (const b of backends) {
  describe(`session waits on ${b.label}`, () => {
    it.scopedLive("a read after a write waits on a replica: counted by outcome, logged at debug", () => {
      const logs = captureLogs()
      const table = `session_wait_metrics_${process.pid}`
      return Effect.gen(function*() {
        const write = yield* WriteConnection
        const read = yield* ReadConnection
        yield* scratchTable(write, table, "id INT PRIMARY KEY")
        const before = yield* waits
        let waited = 0
        for (let i = 1; i <= 5; i++) {
          yield* write.unsafe(`INSERT INTO ${table} (id) VALUES (${i})`)
          const rows = yield* read.unsafe<{ id: number }>(`SELECT id FROM ${table} WHERE id = ${i}`)
          expect(rows.map((r) => Number(r.id))).toEqual([i])
          waited++
        }
        const after = yield* waits
        const counted = (after.caught_up ?? 0) + (after.gave_up ?? 0) - (before.caught_up ?? 0) - (before.gave_up ?? 0)
        expect(counted).toBeGreaterThan(0)
        expect(counted).toBeLessThanOrEqual(waited)
        const logged = logs.lines.flatMap((l) =>
          l.annotations.component === "router" && l.annotations.reason === "session"
            ? [{ level: l.level, ...l.annotations } as Record<string, unknown>]
            : []
        )
        expect(logged.length).toBe(counted)
        expect(logged[0]).toMatchObject({ level: "DEBUG", cluster: `waits-${b.label}`, caughtUp: expect.any(Boolean) })
        expect(String(logged[0]!.node)).toMatch(/^replica-/)
      }).pipe(
        Effect.provide(FastOrm.layer({
          name: `waits-${b.label}`,
          write: b.nodes.primary.url,
          read: b.nodes.replicas.map((r) => r.url),
          readWrite: { consistency: "session" }
        })),
        Effect.provide(logs.layer),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
    }, 60_000)
  })
}

for (const b of backends) {
  describe(`session waits on ${b.label} learn how far the replica has replayed`, () => {
    it.scopedLive(
      "a session whose write the replica had replayed when another session waited there does not wait",
      () => {
        const table = `session_wait_learnt_${process.pid}`
        const cluster = `waits-learnt-${b.label}`
        // A session: its own tokens, kept between its statements.
        const inSession = <A, E, R>(tokens: SessionToken.Tokens, effect: Effect.Effect<A, E, R>) =>
          Effect.locally(effect, SessionToken.currentTokens, tokens)
        return Effect.gen(function*() {
          const write = yield* WriteConnection
          const read = yield* ReadConnection
          // The set-up in a session of its own: this fiber's reads below have no position to wait for.
          yield* inSession(
            {},
            Effect.zipRight(
              write.unsafe(`DROP TABLE IF EXISTS ${table}`),
              write.unsafe(`CREATE TABLE ${table} (id INT PRIMARY KEY)`)
            )
          )
          yield* Effect.addFinalizer(() => Effect.ignore(write.unsafe(`DROP TABLE IF EXISTS ${table}`)))
          // A node that turns HEALTHY is probed again at once; after that, with probes an hour apart, the monitor's
          // positions predate the writes below.
          yield* Effect.sleep("500 millis")
          const writeIn = (id: number) =>
            inSession(
              {},
              Effect.zipRight(
                Effect.zipRight(write.unsafe(`INSERT INTO ${table} (id) VALUES (${id})`), SessionToken.settle(cluster)),
                FiberRef.get(SessionToken.currentTokens)
              )
            )
          const first = yield* writeIn(1)
          const second = yield* writeIn(2)
          // Both writes replayed on the one replica (its own connection, outside any session).
          yield* Effect.retry(
            Effect.flatMap(
              read.unsafe<{ n: number }>(`SELECT count(*) AS n FROM ${table}`),
              (rows) => Number(rows[0]?.n) === 2 ? Effect.void : Effect.fail("not yet")
            ),
            { times: 200, schedule: Schedule.spaced("10 millis") }
          )
          const before = yield* waits
          // The first session waits: the replica answers with how far it has replayed, past both writes.
          expect(yield* inSession(first, read.unsafe(`SELECT id FROM ${table} WHERE id = 1`))).toHaveLength(1)
          const afterFirst = yield* waits
          expect(yield* inSession(second, read.unsafe(`SELECT id FROM ${table} WHERE id = 2`))).toHaveLength(1)
          const afterSecond = yield* waits
          const total = (w: Record<string, number>) => (w.caught_up ?? 0) + (w.gave_up ?? 0)
          expect(total(afterFirst) - total(before)).toBe(1)
          expect(total(afterSecond)).toBe(total(afterFirst))
        }).pipe(
          Effect.provide(FastOrm.layer({
            name: cluster,
            write: b.nodes.primary.url,
            read: [b.nodes.replicas[0]!.url],
            readWrite: { consistency: "session" },
            // Probes far apart: only the router's own wait can tell it where the replica is.
            health: { interval: "1 hour" }
          }))
        )
      },
      60_000
    )
  })
}
