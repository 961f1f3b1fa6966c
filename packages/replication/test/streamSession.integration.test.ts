/**
 * Streams obey read-your-writes like every read: a `.stream` through `ReadConnection` in a session that wrote is
 * placed by the same decision as a statement (a replica known to have replayed the write, else one waited on, else
 * the primary), on PostgreSQL (a server-side cursor) and MariaDB (mysql2 streaming). With replay paused on every
 * replica the stream must run on the primary and see the row; with replay running it sees the row on a replica.
 */
import { describe, expect, it } from "@effect/vitest"
import { Model, ReadConnection, Repository, WriteConnection } from "@fastorm/core"
import { admin, waitReplicated } from "@fastorm/test-support"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { ConnectionRouter } from "../src/index.js"
import type { Backend } from "./support/cluster.js"
import { backends, fastOrm, nodeByPort, noSession, pausedReplay, report } from "./support/cluster.js"

const N = 50

class Item extends Model.Class<Item>("Item")({
  id: Model.Generated(Schema.Int),
  label: Schema.String
}) {}

let tables = 0

/** A fresh table on the primary, replicated, dropped when the scope closes. */
const fixture = (b: Backend) =>
  noSession(Effect.gen(function*() {
    const write = yield* WriteConnection
    const table = `stream_rw_${process.pid}_${Date.now().toString(36)}_${++tables}`
    yield* Effect.addFinalizer(() => Effect.orDie(admin(b.nodes.primary, `DROP TABLE IF EXISTS ${table}`)))
    yield* write.unsafe(
      b.name === "postgres"
        ? `CREATE TABLE ${table} (id SERIAL PRIMARY KEY, label TEXT NOT NULL)`
        : `CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(100) NOT NULL) ENGINE=InnoDB`
    )
    yield* Effect.promise(() => waitReplicated(b.nodes, { timeoutMs: 20_000 }))
    return { table, Items: Repository.make(Item, { table, idColumn: "id" }) }
  })).pipe(Effect.orDie)

/** Streams the row with `id`, with the answering server's port. */
const streamRow = (b: Backend, table: string, id: number) =>
  Effect.flatMap(ReadConnection, (sql) => {
    const port = b.name === "postgres" ? "inet_server_port()" : "@@port"
    return Stream.runCollect(
      sql.unsafe<{ id: number; label: string; port: number }>(
        `SELECT id, label, ${port} AS port FROM ${table} WHERE id = ${b.param(1)}`,
        [id]
      ).stream
    ).pipe(Effect.map(Chunk.toReadonlyArray))
  })

for (const b of backends()) {
  const primary = b.nodes.primary.name
  const replicaNames = b.nodes.replicas.map((r) => r.name)

  describe(`streams and read-your-writes on ${b.name}`, () => {
    it.scopedLive(
      `replay paused on every replica: ${N} create-then-stream, every stream has its row, on the primary`,
      () =>
        Effect.gen(function*() {
          const { Items, table } = yield* fixture(b)
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* pausedReplay(b)
          yield* router.resetStats
          const misses: Array<unknown> = []
          const answeredBy: Record<string, number> = {}
          for (let i = 0; i < N; i++) {
            const created = yield* Items.create({ label: `paused-${i}` })
            const rows = yield* streamRow(b, table, created.id)
            if (rows.length !== 1 || rows[0]!.label !== `paused-${i}`) misses.push({ i, rows })
            for (const row of rows) {
              const node = nodeByPort(b, row.port).name
              answeredBy[node] = (answeredBy[node] ?? 0) + 1
            }
          }
          const stats = yield* router.stats
          yield* report(`${b.name} stream, replay paused`, {
            misses: misses.length,
            answeredBy,
            routed: stats.byNodeAndReason
          })
          expect(misses).toEqual([])
          expect(answeredBy).toEqual({ [primary]: N })
          expect(stats.byNodeAndReason[`${primary}|session`]).toBe(N)
          for (const r of replicaNames) expect(stats.byNode[r] ?? 0).toBe(0)
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b, { sessionWaitTimeout: "10 millis" }))),
      60_000
    )

    it.scopedLive(
      `replay running: ${N} create-then-stream, every stream has its row, most on replicas`,
      () =>
        Effect.gen(function*() {
          const { Items, table } = yield* fixture(b)
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* router.resetStats
          const misses: Array<unknown> = []
          let onReplicas = 0
          for (let i = 0; i < N; i++) {
            const created = yield* Items.create({ label: `running-${i}` })
            const rows = yield* streamRow(b, table, created.id)
            if (rows.length !== 1 || rows[0]!.label !== `running-${i}`) misses.push({ i, rows })
            if (rows.length === 1 && nodeByPort(b, rows[0]!.port).name !== primary) onReplicas++
          }
          const stats = yield* router.stats
          yield* report(`${b.name} stream, replay running`, {
            misses: misses.length,
            onReplicas,
            routed: stats.byNodeAndReason
          })
          expect(misses).toEqual([])
          // Each stream waits (bounded) for a replica to replay the session's write before it would use the primary.
          expect(onReplicas).toBeGreaterThanOrEqual(Math.ceil(N * 0.9))
          expect(replicaNames.reduce((n, r) => n + (stats.byNodeAndReason[`${r}|session`] ?? 0), 0)).toBe(onReplicas)
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b))),
      60_000
    )
  })
}
