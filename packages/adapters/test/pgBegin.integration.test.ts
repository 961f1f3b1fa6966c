import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import type { ClusterInfo } from "@fastorm/test-support"
import { loadCluster } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster: ClusterInfo = loadCluster()
const table = "fastorm_begin_probe"

const client = Effect.flatMap(
  DatabaseAdapterFactory.create(cluster.postgres.primary.url),
  (adapter) => adapter.makeClient()
)

const countOf = (id: number) =>
  Effect.flatMap(
    client,
    (sql) =>
      Effect.map(sql.unsafe(`SELECT count(*)::int AS n FROM ${table} WHERE id = $1`, [id]), (rows) =>
        (rows[0] as { n: number }).n)
  )

const setup = Effect.flatMap(client, (sql) => sql.unsafe(`CREATE TABLE IF NOT EXISTS ${table} (id int)`))

type Client = Effect.Effect.Success<typeof client>
type Reserved = Effect.Effect.Success<Client["reserve"]>

/** Runs `body` on a connection reserved from a fresh client, once the probe table exists. */
const onReserved = <A, E>(
  body: (connection: Reserved, sql: Client) => Effect.Effect<A, E, Scope.Scope | Reactivity.Reactivity>
) =>
  Effect.provide(
    Effect.gen(function*() {
      yield* setup
      const sql = yield* client
      return yield* body(yield* sql.reserve, sql)
    }),
    Reactivity.layer
  )

// BEGIN waits for the transaction's first statement and travels in front of it (pgBegin.ts).
describe("a PostgreSQL transaction's BEGIN sent with its first statement", () => {
  it.scopedLive("the first statement runs inside the transaction, with its own result", () =>
    onReserved((connection) =>
      Effect.gen(function*() {
        expect(yield* connection.executeUnprepared("BEGIN", [], undefined)).toEqual([])
        expect(yield* connection.execute(`INSERT INTO ${table} (id) VALUES ($1) RETURNING id`, [1], undefined))
          .toEqual([{ id: 1 }])
        // The INSERT's transaction is still open: it holds a transaction id.
        const [status] = yield* connection.executeValues(
          "SELECT $1::int, pg_current_xact_id_if_assigned() IS NOT NULL",
          [2]
        )
        expect(status).toEqual([2, true])
        yield* connection.executeUnprepared("ROLLBACK", [], undefined)
        expect(yield* countOf(1)).toBe(0)
      })
    ))

  it.scopedLive("a first statement that asks for rows as arrays gets arrays while carrying BEGIN, and so do the next", () =>
    onReserved((connection) =>
      Effect.gen(function*() {
        yield* connection.executeUnprepared("BEGIN", [], undefined)
        expect(yield* connection.executeValues(`INSERT INTO ${table} (id) VALUES ($1), ($2) RETURNING id, 'x'`, [7, 8]))
          .toEqual([[7, "x"], [8, "x"]])
        expect(yield* connection.executeValues("SELECT $1::int, pg_current_xact_id_if_assigned() IS NOT NULL", [9]))
          .toEqual([[9, true]])
        expect(
          yield* connection.execute(`SELECT count(*)::int AS n FROM ${table} WHERE id IN ($1, $2)`, [7, 8], undefined)
        )
          .toEqual([{ n: 2 }])
        yield* connection.executeUnprepared("ROLLBACK", [], undefined)
        expect(yield* countOf(7)).toBe(0)
      })
    ))

  it.scopedLive("a BEGIN the server refuses fails the first statement, which never runs", () =>
    onReserved((connection) =>
      Effect.gen(function*() {
        yield* connection.executeUnprepared("BEGIN ISOLATION LEVEL NONSENSE", [], undefined)
        const insert = yield* Effect.flip(connection.execute(`INSERT INTO ${table} (id) VALUES ($1)`, [3], undefined))
        // The server's own refusal of the BEGIN (a syntax error), not the INSERT's.
        expect((insert.cause as { code?: string }).code).toBe("42601")
        expect((insert.cause as Error).message).toMatch(/NONSENSE/)
        expect(yield* countOf(3)).toBe(0)
        // The connection is still usable, outside any transaction.
        yield* connection.executeUnprepared("ROLLBACK", [], undefined)
        expect(yield* connection.execute("SELECT $1::int AS x", [4], undefined)).toEqual([{ x: 4 }])
      })
    ))

  it.scopedLive("a first statement without parameters waits for a BEGIN of its own; a commit keeps the rows", () =>
    onReserved((connection, sql) =>
      Effect.gen(function*() {
        yield* connection.executeUnprepared("BEGIN", [], undefined)
        yield* connection.executeUnprepared(`INSERT INTO ${table} (id) VALUES (5)`, [], undefined)
        yield* connection.executeUnprepared("SAVEPOINT a", [], undefined)
        yield* connection.executeUnprepared("ROLLBACK TO SAVEPOINT a", [], undefined)
        yield* connection.executeUnprepared("COMMIT", [], undefined)
        expect(yield* countOf(5)).toBe(1)
        yield* sql.unsafe(`DELETE FROM ${table} WHERE id = 5`)
      })
    ))

  it.scopedLive("a ROLLBACK with nothing sent since BEGIN sends nothing, and the connection serves on", () =>
    onReserved((connection, sql) =>
      Effect.gen(function*() {
        yield* connection.executeUnprepared("BEGIN", [], undefined)
        expect(yield* connection.executeUnprepared("ROLLBACK", [], undefined)).toEqual([])
        // Outside a transaction again: the next write commits by itself.
        yield* connection.execute(`INSERT INTO ${table} (id) VALUES ($1)`, [6], undefined)
        yield* connection.executeUnprepared("ROLLBACK", [], undefined)
        expect(yield* countOf(6)).toBe(1)
        yield* sql.unsafe(`DELETE FROM ${table} WHERE id = 6`)
      })
    ))
})
