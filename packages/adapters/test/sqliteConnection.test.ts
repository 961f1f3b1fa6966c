import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import * as TestSupport from "@fastorm/test-support"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as SqliteNode from "../src/internal/sqliteClient.js"
import { sqlite } from "../src/OptimalConfig.js"

const tempFile = TestSupport.tempFile("fastorm-sqlite-conn-")

const clients = Effect.gen(function*() {
  const file = yield* tempFile
  const writer = yield* SqliteNode.make(file, sqlite, { alias: "w", readOnly: false })
  yield* writer`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`
  yield* writer`INSERT INTO t (v) VALUES ('a'), ('b')`
  const reader = yield* SqliteNode.make(file, sqlite, { alias: "r", readOnly: true })
  return { writer, reader }
})

describe("SQLite node connection", () => {
  it.scoped("rows follow schema changes on the writer and on another connection to the file", () =>
    Effect.gen(function*() {
      const { reader, writer } = yield* clients
      expect(yield* reader`SELECT * FROM t ORDER BY id`).toEqual([{ id: 1, v: "a" }, { id: 2, v: "b" }])
      expect(yield* writer`SELECT * FROM t WHERE id = ${1}`).toEqual([{ id: 1, v: "a" }])
      yield* writer`ALTER TABLE t ADD COLUMN w INTEGER`
      expect(yield* reader`SELECT * FROM t ORDER BY id`).toEqual([{ id: 1, v: "a", w: null }, {
        id: 2,
        v: "b",
        w: null
      }])
      yield* writer`ALTER TABLE t RENAME COLUMN v TO name`
      expect(yield* reader`SELECT * FROM t ORDER BY id`).toEqual([{ id: 1, name: "a", w: null }, {
        id: 2,
        name: "b",
        w: null
      }])
      expect(yield* writer`SELECT * FROM t WHERE id = ${1}`).toEqual([{ id: 1, name: "a", w: null }])
      // As better-sqlite3 makes them: the last of two names wins, and `__proto__` is no own property.
      const odd = yield* writer.unsafe<Record<string, unknown>>(`SELECT 1 AS "__proto__", 2 AS x, 3 AS x`)
      expect(odd).toEqual([{ x: 3 }])
      expect(Object.getPrototypeOf(odd[0])).toBe(Object.prototype)
      expect(yield* writer`SELECT id, v FROM t WHERE id = ${5}`.pipe(Effect.flip, Effect.map((e) => e._tag)))
        .toBe("SqlError")
      expect(yield* reader`SELECT id, name FROM t ORDER BY id`.values).toEqual([[1, "a"], [2, "b"]])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("a statement of another fiber waits for an open transaction; inside it, statements run at once", () =>
    Effect.gen(function*() {
      const { writer } = yield* clients
      const begun = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const transaction = yield* Effect.fork(writer.withTransaction(Effect.gen(function*() {
        yield* writer`UPDATE t SET v = 'in transaction' WHERE id = 1`
        yield* Deferred.succeed(begun, undefined)
        yield* Deferred.await(finish)
        yield* writer`UPDATE t SET v = 'committed' WHERE id = 1`
      })))
      yield* Deferred.await(begun)
      const outside = yield* Effect.fork(writer<{ v: string }>`SELECT v FROM t WHERE id = 1`)
      yield* Effect.yieldNow()
      expect(outside.unsafePoll()).toBe(null)
      yield* Deferred.succeed(finish, undefined)
      yield* Fiber.join(transaction)
      expect((yield* Fiber.join(outside))[0]!.v).toBe("committed")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("concurrent transactions and statements are serialised; an interrupted waiter leaves the lock usable", () =>
    Effect.gen(function*() {
      const { writer } = yield* clients
      yield* writer`CREATE TABLE c (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`
      yield* writer`INSERT INTO c (id, n) VALUES (1, 0)`
      // Read then write in each transaction, with a yield between: a lost update would show in the final count.
      const bump = writer.withTransaction(Effect.gen(function*() {
        const [row] = yield* writer<{ n: number }>`SELECT n FROM c WHERE id = 1`
        yield* Effect.yieldNow()
        yield* writer`UPDATE c SET n = ${row!.n + 1} WHERE id = 1`
      }))
      const plain = writer`UPDATE c SET n = n + 1 WHERE id = 1`
      yield* Effect.all([...Array.from({ length: 20 }, () => bump), ...Array.from({ length: 20 }, () => plain)], {
        concurrency: "unbounded"
      })
      expect((yield* writer<{ n: number }>`SELECT n FROM c WHERE id = 1`)[0]!.n).toBe(40)

      const finish = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(writer.withTransaction(Deferred.await(finish)))
      yield* Effect.yieldNow()
      // Statements waiting for the transaction (a BEGIN waits uninterruptibly, as @effect/sql runs it).
      const waiters = yield* Effect.forEach([1, 2], () => Effect.fork(plain))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiters[0]!)
      yield* Deferred.succeed(finish, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(waiters[1]!)
      yield* plain
      expect((yield* writer<{ n: number }>`SELECT n FROM c WHERE id = 1`)[0]!.n).toBe(42)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("a reserved connection takes the lock at its first statement and gives it back when its scope closes", () =>
    Effect.gen(function*() {
      const { writer } = yield* clients
      const read = (connection: { readonly execute: typeof writer.connection.execute }) =>
        connection.execute(`SELECT v FROM t WHERE id = 1`, [], undefined)
      // Reserved, never used: closing its scope leaves the lock free.
      yield* Effect.scoped(writer.reserve)
      yield* read(writer.connection)
      // Held by a first connection: two statements racing to be a second connection's first both wait, then both
      // run holding the lock; a plain statement waits for that connection's scope to close.
      const finish = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(Effect.scoped(Effect.zipRight(
        Effect.flatMap(writer.reserve, read),
        Deferred.await(finish)
      )))
      yield* Effect.yieldNow()
      const second = yield* Deferred.make<void>()
      const racer = yield* Effect.fork(Effect.scoped(Effect.flatMap(writer.reserve, (connection) =>
        Effect.zipRight(
          Effect.all([read(connection), read(connection)], { concurrency: "unbounded" }),
          Deferred.await(second)
        ))))
      // A few turns: the racer and its two forked statements start and queue before the plain statement does.
      yield* Effect.repeatN(Effect.yieldNow(), 4)
      const plain = yield* Effect.fork(read(writer.connection))
      yield* Effect.yieldNow()
      expect(plain.unsafePoll()).toBeNull()
      yield* Deferred.succeed(finish, undefined)
      yield* Fiber.join(holder)
      yield* Effect.yieldNow()
      expect(plain.unsafePoll()).toBeNull()
      yield* Deferred.succeed(second, undefined)
      yield* Fiber.join(racer)
      expect(yield* Fiber.join(plain)).toEqual([{ v: "a" }])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("a stream reads committed rows on its own connection, and a transaction's own writes inside it", () =>
    Effect.gen(function*() {
      const { writer } = yield* clients
      const all = writer<{ v: string }>`SELECT v FROM t ORDER BY id`
      expect(Array.from(yield* Stream.runCollect(all.stream))).toEqual([{ v: "a" }, { v: "b" }])
      const inside = yield* writer.withTransaction(Effect.gen(function*() {
        yield* writer`INSERT INTO t (v) VALUES ('c')`
        return Array.from(yield* Stream.runCollect(all.stream))
      }))
      expect(inside).toEqual([{ v: "a" }, { v: "b" }, { v: "c" }])
      // While a transaction holds the one connection, a stream outside it reads the last commit on its own.
      const finish = yield* Deferred.make<void>()
      const begun = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(writer.withTransaction(Effect.gen(function*() {
        yield* writer`INSERT INTO t (v) VALUES ('d')`
        yield* Deferred.succeed(begun, undefined)
        yield* Deferred.await(finish)
      })))
      yield* Deferred.await(begun)
      expect(Array.from(yield* Stream.runCollect(all.stream)).map((r) => r.v)).toEqual(["a", "b", "c"])
      yield* Deferred.succeed(finish, undefined)
      yield* Fiber.join(holder)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("counted writes report the rows changed, directly and inside a transaction", () =>
    Effect.gen(function*() {
      const { writer } = yield* clients
      const connection = writer.connection as CompiledStatement.PreparedConnection
      const statement = CompiledStatement.make(`UPDATE t SET v = ? WHERE id <= ?`)
      expect(CompiledStatement.canCount(connection)).toBe(true)
      expect(yield* CompiledStatement.countOn(connection, statement, ["x", 2])).toBe(2)
      expect(yield* CompiledStatement.runCounted(writer, statement, ["y", 1])).toBe(1)
      expect(yield* writer.withTransaction(CompiledStatement.runCounted(writer, statement, ["z", 5]))).toBe(2)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("asked for arrays, readers give rows as arrays marked with their columns, which follow schema changes", () =>
    Effect.gen(function*() {
      const { reader, writer } = yield* clients
      const select = CompiledStatement.asArrays(CompiledStatement.make("SELECT * FROM t ORDER BY id"))
      for (const client of [reader, writer]) {
        const rows = yield* CompiledStatement.run(client, select, [])
        expect([...rows]).toEqual([[1, "a"], [2, "b"]])
        expect(CompiledStatement.columnsOf(rows)).toEqual(["id", "v"])
        // The same text asked for objects still gets objects.
        expect(yield* CompiledStatement.run(client, CompiledStatement.make(select.sql), [])).toEqual([
          { id: 1, v: "a" },
          { id: 2, v: "b" }
        ])
      }
      yield* writer`ALTER TABLE t ADD COLUMN w INTEGER`
      const after = yield* CompiledStatement.run(reader, select, [])
      expect(CompiledStatement.columnsOf(after)).toEqual(["id", "v", "w"])
      expect(CompiledStatement.rowObjects(after)).toEqual([{ id: 1, v: "a", w: null }, { id: 2, v: "b", w: null }])
      // A column named __proto__ has no row maker: objects, made by better-sqlite3.
      const proto = CompiledStatement.asArrays(CompiledStatement.make("SELECT id, v AS __proto__ FROM t WHERE id = 1"))
      const odd = yield* CompiledStatement.run(reader, proto, [])
      expect(CompiledStatement.columnsOf(odd)).toBeUndefined()
      expect(odd[0].id).toBe(1)
    }).pipe(Effect.provide(Reactivity.layer)))
})
