/**
 * Compiled statements on the live PostgreSQL primary: named prepared statements of the session (pg_prepared_statements
 * shows them), re-prepared after an ALTER TABLE changes their result type or their parameters' types, none with
 * `preparedStatements: false`, and run on a transaction's own connection (prepared there when they carry its BEGIN, or
 * write without returning rows); asked for arrays, rows come back as arrays marked with their columns. One pooled
 * connection per client, so every statement shares one session.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement, Database } from "@fastorm/core"
import type { ClusterInfo } from "@fastorm/test-support"
import { loadCluster } from "@fastorm/test-support"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { DatabaseAdapterFactory } from "../src/index.js"

// Throws when the cluster is not running: this file fails, it never skips.
const cluster: ClusterInfo = loadCluster()
const primaryUrl = cluster.postgres.primary.url

/** A client on the primary with one connection and no pipelined ones: every statement of it runs in one session. */
const oneSession = (preparedStatements: boolean | "auto") =>
  Effect.flatMap(
    DatabaseAdapterFactory.create(primaryUrl, {
      config: { poolSize: 1, maxOverflow: 0, pipelinedConnections: 0, preparedStatements }
    }),
    (adapter) => adapter.makeClient({ verify: true })
  )

let tables = 0

/** A fresh table `(id int primary key, name text)` with row (1, 'one'), dropped when the scope closes. */
const withTable = (client: SqlClient.SqlClient) => {
  const table = `fastorm_prep_${process.pid}_${Date.now()}_${++tables}`
  return Effect.acquireRelease(
    Effect.as(
      Effect.zipRight(
        client.unsafe(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL)`),
        client.unsafe(`INSERT INTO ${table} (id, name) VALUES (1, 'one')`)
      ),
      table
    ),
    () => Effect.orDie(client.unsafe(`DROP TABLE IF EXISTS ${table}`))
  )
}

/** Fails a transaction on purpose, carrying what it saw. */
class RolledBack extends Data.TaggedError("RolledBack")<{ readonly own: ReadonlyArray<unknown> }> {}

const selectById = (table: string) => CompiledStatement.make(`SELECT * FROM ${table} WHERE id = $1`)

interface Prepared {
  readonly name: string
  readonly statement: string
}

/** The prepared statements of the client's (only) session. */
const preparedOf = (client: SqlClient.SqlClient) =>
  client.unsafe<Prepared>("SELECT name, statement FROM pg_prepared_statements ORDER BY name")

const pidOf = (client: SqlClient.SqlClient) =>
  Effect.map(client.unsafe<{ pid: number }>("SELECT pg_backend_pid() AS pid"), (rows) => rows[0]!.pid)

describe("PostgreSQL compiled statements on the live primary", () => {
  it.scopedLive("run as a named prepared statement of the session, prepared once", () =>
    Effect.gen(function*() {
      const client = yield* oneSession(true)
      expect(CompiledStatement.runnerOf(client)).toBeTypeOf("function")
      const table = yield* withTable(client)
      const pid = yield* pidOf(client)
      const statement = selectById(table)
      expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([{ id: 1, name: "one" }])
      expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([{ id: 1, name: "one" }])
      expect(yield* CompiledStatement.run(client, statement, [2])).toEqual([])
      expect(yield* preparedOf(client)).toEqual([{ name: statement.name, statement: statement.sql }])
      // One session throughout: the view above is the one the statement ran in.
      expect(yield* pidOf(client)).toBe(pid)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("after ALTER TABLE ... ADD COLUMN the statement is prepared afresh and returns the new column", () =>
    Effect.gen(function*() {
      const client = yield* oneSession(true)
      const table = yield* withTable(client)
      const statement = selectById(table)
      expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([{ id: 1, name: "one" }])
      expect((yield* preparedOf(client)).map((p) => p.name)).toEqual([statement.name])

      yield* client.unsafe(`ALTER TABLE ${table} ADD COLUMN extra text NOT NULL DEFAULT 'added'`)
      // The session's plan for the old row type is refused by the server (0A000): the client retries under a new name.
      expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([{ id: 1, name: "one", extra: "added" }])
      expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([{ id: 1, name: "one", extra: "added" }])
      const prepared = yield* preparedOf(client)
      expect(prepared.every((p) => p.name.startsWith(statement.name) && p.statement === statement.sql)).toBe(true)
      expect(prepared.some((p) => p.name !== statement.name)).toBe(true)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("with preparedStatements: false nothing is prepared in the session", () =>
    Effect.gen(function*() {
      const client = yield* oneSession(false)
      // Still a direct runner: only the server-side preparation is off.
      expect(CompiledStatement.runnerOf(client)).toBeTypeOf("function")
      const table = yield* withTable(client)
      const pid = yield* pidOf(client)
      const statement = selectById(table)
      expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([{ id: 1, name: "one" }])
      expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([{ id: 1, name: "one" }])
      expect(yield* preparedOf(client)).toEqual([])
      expect(yield* pidOf(client)).toBe(pid)
      // And an ALTER TABLE needs no retry there.
      yield* client.unsafe(`ALTER TABLE ${table} ADD COLUMN extra int NOT NULL DEFAULT 7`)
      expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([{ id: 1, name: "one", extra: 7 }])
      expect(yield* preparedOf(client)).toEqual([])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("inside client.withTransaction it runs on the transaction's connection and sees its own insert", () =>
    Effect.gen(function*() {
      const client = yield* oneSession(true)
      // Another session, to see what is committed.
      const observer = yield* oneSession(false)
      const table = yield* withTable(client)
      const statement = selectById(table)

      const inside = yield* client.withTransaction(Effect.gen(function*() {
        yield* client.unsafe(`INSERT INTO ${table} (id, name) VALUES (2, 'two')`)
        // The only pooled connection is held by the transaction: anything not on it would wait for it.
        const own = yield* CompiledStatement.run(client, statement, [2])
        // In @effect/sql v3 every client honours the transaction in context: the observer must step out of it.
        const outside = yield* Database.outsideTransaction(CompiledStatement.run(observer, statement, [2]))
        return { own, outside }
      }))
      expect(inside.own).toEqual([{ id: 2, name: "two" }])
      expect(inside.outside).toEqual([])
      expect(yield* CompiledStatement.run(observer, statement, [2])).toEqual([{ id: 2, name: "two" }])
      // Not the transaction's first statement, it runs unnamed: a stale plan would abort the transaction before any
      // retry (the first, which carries BEGIN, is prepared: the next test).
      expect(yield* preparedOf(client)).toEqual([])

      // A rolled-back insert is seen inside only.
      const ownBeforeRollback = yield* client.withTransaction(Effect.gen(function*() {
        yield* client.unsafe(`INSERT INTO ${table} (id, name) VALUES (3, 'three')`)
        const own = yield* CompiledStatement.run(client, statement, [3])
        return yield* new RolledBack({ own })
      })).pipe(Effect.catchTag("RolledBack", (e) => Effect.succeed(e.own)))
      expect(ownBeforeRollback).toEqual([{ id: 3, name: "three" }])
      expect(yield* CompiledStatement.run(client, statement, [3])).toEqual([])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a statement prepared before an ALTER TABLE still runs inside a transaction after it", () =>
    Effect.gen(function*() {
      const client = yield* oneSession(true)
      const table = yield* withTable(client)
      const statement = selectById(table)
      expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([{ id: 1, name: "one" }])
      expect((yield* preparedOf(client)).map((p) => p.name)).toEqual([statement.name])
      yield* client.unsafe(`ALTER TABLE ${table} ADD COLUMN extra int NOT NULL DEFAULT 5`)
      // The session still holds the old plan. The statement carries the transaction's BEGIN: refused (0A000), the
      // transaction is rolled back and opened again with the statement under a new name, unseen by the caller.
      const inside = yield* client.withTransaction(CompiledStatement.run(client, statement, [1]))
      expect(inside).toEqual([{ id: 1, name: "one", extra: 5 }])
      expect((yield* preparedOf(client)).map((p) => p.name)).toEqual([statement.name, `${statement.name}_1`])
      expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([{ id: 1, name: "one", extra: 5 }])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("in a transaction, the statement that carries BEGIN and a later write without rows run prepared", () =>
    Effect.gen(function*() {
      // "auto" first finds the connection direct (its server process is its startup's); `true` needs no finding.
      for (const setting of ["auto", true] as const) {
        const client = yield* oneSession(setting)
        const table = yield* withTable(client)
        const first = selectById(table)
        const later = CompiledStatement.make(`UPDATE ${table} SET name = $1 WHERE id = $2`)
        const laterReturning = CompiledStatement.make(`UPDATE ${table} SET name = $1 WHERE id = $2 RETURNING *`)
        const pid = yield* pidOf(client)
        const [read, updated, returned] = yield* client.withTransaction(
          Effect.all([
            CompiledStatement.run(client, first, [1]),
            CompiledStatement.runCounted(client, later, ["uno", 1]),
            CompiledStatement.run(client, laterReturning, ["eins", 1])
          ])
        )
        expect(read).toEqual([{ id: 1, name: "one" }])
        expect(updated).toBe(1)
        expect(returned).toEqual([{ id: 1, name: "eins" }])
        // The later write without rows has no result type a schema change could make stale: it keeps its name. The
        // one with rows runs unnamed: refused (0A000) there, it would abort the transaction before any retry.
        expect((yield* preparedOf(client)).map((p) => p.name).sort()).toEqual([first.name, later.name].sort())
        // Committed, in the one session the view above looked at.
        expect(yield* CompiledStatement.run(client, first, [1])).toEqual([{ id: 1, name: "eins" }])
        expect(yield* pidOf(client)).toBe(pid)
        // A read after the first statement runs unnamed, for the same reason.
        const other = CompiledStatement.make(`SELECT name FROM ${table} WHERE id = $1`)
        const again = yield* client.withTransaction(
          Effect.zip(CompiledStatement.runCounted(client, later, ["one", 1]), CompiledStatement.run(client, other, [1]))
        )
        expect(again).toEqual([1, [{ name: "one" }]])
        expect((yield* preparedOf(client)).map((p) => p.name)).not.toContain(other.name)
      }
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a later write keeps its name after an ALTER TABLE, and the transaction commits", () =>
    Effect.gen(function*() {
      const client = yield* oneSession("auto")
      const table = yield* withTable(client)
      const first = selectById(table)
      const later = CompiledStatement.make(`UPDATE ${table} SET name = $1 WHERE id = $2`)
      yield* client.withTransaction(
        Effect.zip(CompiledStatement.run(client, first, [1]), CompiledStatement.runCounted(client, later, ["uno", 1]))
      )
      yield* client.unsafe(`ALTER TABLE ${table} ADD COLUMN extra int NOT NULL DEFAULT 5`)
      // The first statement's plan went stale (its transaction reopens, unseen); the write's has no rows to go stale.
      const [read, updated] = yield* client.withTransaction(
        Effect.zip(CompiledStatement.run(client, first, [1]), CompiledStatement.runCounted(client, later, ["dos", 1]))
      )
      expect(read).toEqual([{ id: 1, name: "uno", extra: 5 }])
      expect(updated).toBe(1)
      expect(yield* CompiledStatement.run(client, first, [1])).toEqual([{ id: 1, name: "dos", extra: 5 }])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("asked for arrays, give rows as arrays marked with their columns, prepared or not, after an ALTER too", () =>
    Effect.gen(function*() {
      for (const prepared of [true, false]) {
        const client = yield* oneSession(prepared)
        const table = yield* withTable(client)
        const statement = CompiledStatement.asArrays(selectById(table))
        const rows = yield* CompiledStatement.run(client, statement, [1])
        expect([...rows]).toEqual([[1, "one"]])
        expect(CompiledStatement.columnsOf(rows)).toEqual(["id", "name"])
        expect(CompiledStatement.rowObjects(rows)).toEqual([{ id: 1, name: "one" }])
        // The same statement asked for objects still gets objects, from the same prepared plan.
        expect(yield* CompiledStatement.run(client, selectById(table), [1])).toEqual([{ id: 1, name: "one" }])
        yield* client.unsafe(`ALTER TABLE ${table} ADD COLUMN extra int NOT NULL DEFAULT 7`)
        const after = yield* CompiledStatement.run(client, statement, [1])
        expect(CompiledStatement.rowObjects(after)).toEqual([{ id: 1, name: "one", extra: 7 }])
        expect(CompiledStatement.columnsOf(after)).toEqual(["id", "name", "extra"])
        // Inside a transaction, arrays or objects, the rows read the same.
        const inside = yield* client.withTransaction(CompiledStatement.run(client, statement, [1]))
        expect(CompiledStatement.rowObjects(inside)).toEqual([{ id: 1, name: "one", extra: 7 }])
      }
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("after ALTER COLUMN ... TYPE a column's values are parsed by its new type, prepared, unnamed or plain", () =>
    Effect.gen(function*() {
      for (const prepared of [true, false]) {
        const client = yield* oneSession(prepared)
        const table = yield* withTable(client)
        yield* client.unsafe(`ALTER TABLE ${table} ADD COLUMN n int NOT NULL DEFAULT 5`)
        const objects = CompiledStatement.make(`SELECT id, n FROM ${table} WHERE id = $1`)
        const arrays = CompiledStatement.asArrays(objects)
        const plain = `SELECT id, n FROM ${table}`
        /** The row as each path reads it, each run twice: the second run takes the first one's parsers. */
        const read = Effect.gen(function*() {
          const seen: Array<unknown> = []
          for (let i = 0; i < 2; i++) {
            seen.push((yield* CompiledStatement.run(client, objects, [1]))[0])
            seen.push(CompiledStatement.rowObjects(yield* CompiledStatement.run(client, arrays, [1]))[0])
            seen.push((yield* client.unsafe(plain))[0])
          }
          return seen
        })
        expect(yield* read).toEqual(Array(6).fill({ id: 1, n: 5 }))
        yield* client.unsafe(`ALTER TABLE ${table} ALTER COLUMN n TYPE text`)
        expect(yield* read).toEqual(Array(6).fill({ id: 1, n: "5" }))
        yield* client.unsafe(
          `ALTER TABLE ${table} ALTER COLUMN n DROP DEFAULT, ALTER COLUMN n TYPE boolean USING n <> '0'`
        )
        expect(yield* read).toEqual(Array(6).fill({ id: 1, n: true }))
      }
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("after ALTER COLUMN ... TYPE bigint a prepared write takes a value only bigint holds; bad input still fails", () =>
    Effect.gen(function*() {
      const client = yield* oneSession(true)
      const table = yield* withTable(client)
      yield* client.unsafe(`ALTER TABLE ${table} ADD COLUMN n int NOT NULL DEFAULT 0`)
      const write = CompiledStatement.make(`UPDATE ${table} SET n = $1 WHERE id = $2`)
      expect(yield* CompiledStatement.runCounted(client, write, [7, 1])).toBe(1)
      yield* client.unsafe(`ALTER TABLE ${table} ALTER COLUMN n TYPE bigint`)
      // The session's statement still takes an integer (22003 for this value); run without its name, it goes through,
      // and the next run prepares it afresh under a new name.
      expect(yield* CompiledStatement.runCounted(client, write, ["3000000000", 1])).toBe(1)
      expect(yield* CompiledStatement.runCounted(client, write, ["3000000001", 1])).toBe(1)
      expect(yield* client.unsafe(`SELECT n::text AS n FROM ${table} WHERE id = 1`)).toEqual([{ n: "3000000001" }])
      expect((yield* preparedOf(client)).map((p) => p.name).sort()).toEqual([write.name, `${write.name}_1`].sort())
      // Bad input fails as before, with the server's own code, and leaves no statement behind.
      const bad = yield* Effect.flip(CompiledStatement.runCounted(client, write, ["not a number", 1]))
      expect(bad._tag).toBe("SqlError")
      expect((bad.cause as { code?: string }).code).toBe("22P02")
      expect((yield* preparedOf(client)).map((p) => p.name).sort()).toEqual([write.name, `${write.name}_1`].sort())
      expect(yield* CompiledStatement.runCounted(client, write, ["3000000002", 1])).toBe(1)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("after ALTER COLUMN ... TYPE int a statement prepared for text runs, and inside a transaction too", () =>
    Effect.gen(function*() {
      const client = yield* oneSession(true)
      const table = yield* withTable(client)
      yield* client.unsafe(`ALTER TABLE ${table} ADD COLUMN code text`)
      yield* client.unsafe(`UPDATE ${table} SET code = '5'`)
      const byCode = CompiledStatement.make(`SELECT id FROM ${table} WHERE code = $1`)
      const setCode = CompiledStatement.make(`UPDATE ${table} SET code = $1 WHERE id = $2`)
      expect(yield* CompiledStatement.run(client, byCode, ["5"])).toEqual([{ id: 1 }])
      expect(yield* CompiledStatement.runCounted(client, setCode, ["6", 1])).toBe(1)
      yield* client.unsafe(`ALTER TABLE ${table} ALTER COLUMN code TYPE int USING code::int`)
      // Prepared for text: `integer = text` (42883) and `integer` set from `text` (42804) until parsed afresh.
      expect(yield* CompiledStatement.run(client, byCode, ["6"])).toEqual([{ id: 1 }])
      expect(yield* CompiledStatement.runCounted(client, setCode, ["7", 1])).toBe(1)
      yield* client.unsafe(`ALTER TABLE ${table} ALTER COLUMN code TYPE text`)
      // The statement that carries BEGIN: refused, the transaction is opened again around it, unseen by the caller.
      const inside = yield* client.withTransaction(CompiledStatement.run(client, byCode, ["7"]))
      expect(inside).toEqual([{ id: 1 }])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a later write whose parameter types went stale fails its transaction once; the next one commits", () =>
    Effect.gen(function*() {
      const client = yield* oneSession("auto")
      const table = yield* withTable(client)
      yield* client.unsafe(`ALTER TABLE ${table} ADD COLUMN n int NOT NULL DEFAULT 0`)
      const first = selectById(table)
      const later = CompiledStatement.make(`UPDATE ${table} SET n = $1 WHERE id = $2`)
      const transaction = (n: string) =>
        client.withTransaction(
          Effect.zip(CompiledStatement.run(client, first, [1]), CompiledStatement.runCounted(client, later, [n, 1]))
        )
      yield* transaction("1")
      expect((yield* preparedOf(client)).map((p) => p.name)).toContain(later.name)
      yield* client.unsafe(`ALTER TABLE ${table} ALTER COLUMN n TYPE bigint`)
      // Inside the open transaction nothing can be tried again: the caller sees the server's error, and nothing of
      // the transaction is kept.
      const failed = yield* Effect.flip(transaction("3000000000"))
      expect(failed._tag).toBe("SqlError")
      expect((failed.cause as { code?: string }).code).toBe("22003")
      expect(yield* client.unsafe(`SELECT n::text AS n FROM ${table} WHERE id = 1`)).toEqual([{ n: "1" }])
      // Its next run goes without the name, then under a new one.
      const [, updated] = yield* transaction("3000000000")
      expect(updated).toBe(1)
      yield* transaction("3000000001")
      expect(yield* client.unsafe(`SELECT n::text AS n FROM ${table} WHERE id = 1`)).toEqual([{ n: "3000000001" }])
      expect((yield* preparedOf(client)).map((p) => p.name)).toContain(`${later.name}_1`)
    }).pipe(Effect.provide(Reactivity.layer)))
})
