/**
 * A session read right after a write waits for a replica to replay it: the wait is counted
 * (`fastorm_session_waits_total`, `fastorm_session_wait_ms`) and logged at debug with the node and its outcome.
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import type { ClusterNodes } from "@fastorm/test-support"
import { captureLogs, loadCluster } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import { FastOrm } from "../src/index.js"

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
        yield* write.unsafe(`DROP TABLE IF EXISTS ${table}`)
        yield* write.unsafe(`CREATE TABLE ${table} (id INT PRIMARY KEY)`)
        yield* Effect.addFinalizer(() => Effect.ignore(write.unsafe(`DROP TABLE IF EXISTS ${table}`)))
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
