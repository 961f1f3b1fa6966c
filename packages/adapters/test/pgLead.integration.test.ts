/**
 * A statement led by another on the live PostgreSQL servers (`NodeReads.leading`, a session read's replay poll): a
 * statement with parameters carries the lead in its own round trip, under one Sync (both see one transaction's
 * `now()`), named or unnamed, as objects or arrays, the lead's rows as text; one without parameters runs after it; a
 * failure of the statement hands over no lead rows. Through PgBouncer the carried pair shares one server connection.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import { loadCluster } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import type { DatabaseAdapter } from "../src/index.js"
import { DatabaseAdapterFactory } from "../src/index.js"

// Throws when the cluster is not running: this file fails, it never skips.
const cluster = loadCluster()

const clientOf = (url: string, preparedStatements: boolean | "auto") =>
  Effect.flatMap(
    DatabaseAdapterFactory.create(url, { config: { preparedStatements } }),
    (adapter) => adapter.makeClient({ verify: true })
  )

const LEAD = "SELECT now()::text, pg_backend_pid()::text"

/** `client`'s read connection led by `LEAD`, and the lead's rows as they come. */
const led = (client: DatabaseAdapter.NodeClient) => {
  const seen: Array<ReadonlyArray<DatabaseAdapter.TextRow>> = []
  const leading = client.reads.leading
  if (leading === undefined) throw new Error("a PostgreSQL node offers a led connection")
  return { connection: leading(LEAD, (rows) => seen.push(rows)), seen }
}

// The same text in every test: one compiled statement, prepared where the node prepares.
const withParameter = CompiledStatement.make("SELECT now()::text AS t, pg_backend_pid() AS pid, $1::int AS x")

const nodes = [
  { label: "the primary, prepared", url: cluster.postgres.primary.url, prepared: true },
  { label: "a replica, unnamed", url: cluster.postgres.replicas[0]!.url, prepared: false },
  { label: "PgBouncer (transaction pooling), auto", url: cluster.pgbouncer.primary.url, prepared: "auto" as const }
]

for (const node of nodes) {
  describe(`a led statement on ${node.label}`, () => {
    it.scopedLive("with parameters: the lead travels in its round trip, in one transaction", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(node.url, node.prepared)
        for (let i = 1; i <= 3; i++) {
          const { connection, seen } = led(client)
          const rows = yield* CompiledStatement.executeOn(connection, withParameter, [i])
          expect(rows).toHaveLength(1)
          expect(rows[0]).toMatchObject({ x: i })
          expect(seen).toHaveLength(1)
          // One transaction (one Sync): the same transaction time, the same server session.
          expect(seen[0]).toEqual([[rows[0].t, String(rows[0].pid)]])
        }
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("asked for arrays: the statement's rows are arrays marked with their columns, the lead's text", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(node.url, node.prepared)
        const { connection, seen } = led(client)
        const rows = yield* CompiledStatement.executeOn(connection, CompiledStatement.asArrays(withParameter), [5])
        expect(CompiledStatement.columnsOf(rows)).toEqual(["t", "pid", "x"])
        expect(rows[0][2]).toBe(5)
        expect(seen).toEqual([[[rows[0][0], String(rows[0][1])]]])
      }).pipe(Effect.provide(Reactivity.layer)))
  })
}

describe("a led statement on the PostgreSQL primary", () => {
  it.scopedLive("without parameters: the lead runs first, as a query of its own", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(cluster.postgres.primary.url, true)
      const { connection, seen } = led(client)
      const rows = yield* connection.execute("SELECT now()::text AS t, clock_timestamp() AS c", [], undefined)
      expect(seen).toHaveLength(1)
      // Two transactions, the lead's first: its time is earlier.
      const [leadTime] = seen[0]![0]!
      expect(Date.parse(leadTime!)).toBeLessThanOrEqual(Date.parse(rows[0].t))
      expect(leadTime).not.toBe(rows[0].t)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a statement that fails hands over no lead rows, and its error is the statement's", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(cluster.postgres.primary.url, true)
      const { connection, seen } = led(client)
      const missing = CompiledStatement.make(`SELECT * FROM fastorm_no_such_table_${process.pid} WHERE id = $1`)
      const error = yield* Effect.flip(CompiledStatement.executeOn(connection, missing, [1]))
      expect(error._tag).toBe("SqlError")
      expect((error.cause as { code?: string }).code).toBe("42P01")
      expect(seen).toEqual([])
      // The connection it ran on serves the next statement.
      const again = led(client)
      expect(yield* CompiledStatement.executeOn(again.connection, withParameter, [9])).toHaveLength(1)
      expect(again.seen).toHaveLength(1)
    }).pipe(Effect.provide(Reactivity.layer)))
})
