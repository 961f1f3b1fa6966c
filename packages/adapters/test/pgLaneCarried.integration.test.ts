/**
 * A session read's poll on a pipelined connection (`pgLaneCarried.ts`) on the live PostgreSQL primary: with lanes open,
 * led reads go on them, not on the pool, each with its poll just before it on the same server session, the poll's
 * transaction first.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import { loadCluster, waitUntil } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import type { DatabaseAdapter } from "../src/index.js"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster = loadCluster()
const primary = cluster.postgres.primary

const LEAD = "SELECT now()::text, pg_backend_pid()::text"
const read = CompiledStatement.make("SELECT now()::text AS t, pg_backend_pid() AS pid, $1::int AS x")

/** A client of one pooled connection and two lanes, the lanes open. */
const withLanes = Effect.gen(function*() {
  const adapter = yield* DatabaseAdapterFactory.create(primary.url, {
    config: { poolSize: 1, maxOverflow: 0, pipelinedConnections: 2 }
  })
  const client = yield* adapter.makeClient({ verify: true })
  const pid = CompiledStatement.make("SELECT pg_backend_pid() AS pid, $1::int AS i")
  yield* Effect.forEach(
    Array.from({ length: 40 }, (_, i) => i),
    (i) => CompiledStatement.executeOn(client.reads.connection, pid, [i]),
    { concurrency: 16 }
  )
  yield* waitUntil(Effect.sync(() => client.poolStatus().pipelined), (n) => n === 2, {
    what: "2 lanes open",
    timeoutMs: 5_000
  })
  return client
})

/** One led read: its rows and the poll's. */
const ledRead = (client: DatabaseAdapter.NodeClient, x: number) => {
  const seen: Array<ReadonlyArray<DatabaseAdapter.TextRow>> = []
  const connection = client.reads.leading!(LEAD, (rows) => seen.push(rows))
  return Effect.map(CompiledStatement.executeOn(connection, read, [x]), (rows) => ({ row: rows[0]!, seen }))
}

describe("a led read on the primary's lanes", () => {
  it.scopedLive("goes on a lane while the pool's one connection is held, its poll first on the same session", () =>
    Effect.gen(function*() {
      const client = yield* withLanes
      // The pool's only connection, held for the test: a led read that took the pool's path would wait for it.
      const held = yield* client.reads.reserve
      const [heldRow] = yield* held.execute("SELECT pg_backend_pid() AS pid", [], undefined)
      const answers = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => ledRead(client, i),
        // Two statements each: four at once stay within the lanes' depth (`laneChoice.ts`).
        { concurrency: 4 }
      ).pipe(Effect.timeout("5 seconds"))
      expect(answers.map((a) => a.row.x)).toEqual(Array.from({ length: 20 }, (_, i) => i))
      for (const { row, seen } of answers) {
        expect(seen).toHaveLength(1)
        const [leadTime, leadPid] = seen[0]![0]!
        // The same server session (the lane), not the held one; two transactions, the poll's first.
        expect(Number(leadPid)).toBe(row.pid)
        expect(row.pid).not.toBe(heldRow.pid)
        expect(Date.parse(leadTime!)).toBeLessThanOrEqual(Date.parse(row.t))
      }
    }).pipe(Effect.provide(Reactivity.layer)))
})
