import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Connections, Database, WriteConnection, WriteOnly } from "@fastorm/core"
import * as TestSupport from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { DatabaseAdapterFactory } from "../src/index.js"

const tempFile = TestSupport.tempFile("fastorm-hold-")

/** A SQLite node client with a table `t`, as the `WriteConnection`. */
const writer = Effect.gen(function*() {
  const adapter = yield* DatabaseAdapterFactory.create(`sqlite:///${yield* tempFile}`)
  const client = yield* adapter.makeClient()
  yield* client`CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)`
  yield* client`INSERT INTO t (id, v) VALUES (1, 0)`
  return client
})

const valueOf = (client: SqlClient.SqlClient) =>
  Effect.map(client<{ v: number }>`SELECT v FROM t WHERE id = 1`, (rows) => rows[0]!.v)

const set = (v: number) => Effect.flatMap(WriteConnection, (sql) => sql`UPDATE t SET v = ${v} WHERE id = 1`)

// The adapters' node clients hold a transaction's connection with no scope (`Connections.Holds`).
describe("Database.transaction on a node client that holds its connection (SQLite)", () => {
  it.scoped("the node client offers a hold; a transaction commits, with its level's services inside only", () =>
    Effect.gen(function*() {
      const client = yield* writer
      expect(Connections.holdOf(client)).toBeDefined()
      const inside = yield* Database.transaction(Effect.gen(function*() {
        yield* set(1)
        return {
          connection: Option.isSome(yield* Effect.serviceOption(SqlClient.TransactionConnection)),
          writeOnly: yield* WriteOnly,
          inTransaction: yield* Database.inTransaction
        }
      })).pipe(Effect.provideService(WriteConnection, client))
      expect(inside).toEqual({ connection: true, writeOnly: true, inTransaction: true })
      expect(Option.isSome(yield* Effect.serviceOption(SqlClient.TransactionConnection))).toBe(false)
      expect(yield* WriteOnly).toBe(false)
      expect(yield* valueOf(client)).toBe(1)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("a failure rolls back and gives the connection back: the next statement and transaction run", () =>
    Effect.gen(function*() {
      const client = yield* writer
      const exit = yield* Effect.exit(
        Database.transaction(Effect.zipRight(set(2), Effect.fail("boom" as const))).pipe(
          Effect.provideService(WriteConnection, client)
        )
      )
      expect(exit).toEqual(Exit.fail("boom"))
      expect(yield* valueOf(client)).toBe(0)
      yield* Database.transaction(set(3)).pipe(Effect.provideService(WriteConnection, client))
      expect(yield* valueOf(client)).toBe(3)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("an interrupted transaction rolls back and gives the lock back to a waiting statement", () =>
    Effect.gen(function*() {
      const client = yield* writer
      const fiber = yield* Effect.fork(
        Database.transaction(Effect.zipRight(set(4), Effect.never)).pipe(Effect.provideService(WriteConnection, client))
      )
      yield* Effect.sleep("20 millis")
      // Waits for the open transaction's lock.
      const waiting = yield* Effect.fork(client`UPDATE t SET v = v + 10 WHERE id = 1`)
      yield* Effect.sleep("20 millis")
      expect(waiting.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(fiber)
      yield* Fiber.join(waiting)
      expect(yield* valueOf(client)).toBe(10)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("a nested transaction's failure rolls back to its savepoint only", () =>
    Effect.gen(function*() {
      const client = yield* writer
      yield* Database.transaction(Effect.gen(function*() {
        yield* set(5)
        yield* Effect.exit(Database.transaction(Effect.zipRight(set(6), Effect.fail("inner" as const))))
      })).pipe(Effect.provideService(WriteConnection, client))
      expect(yield* valueOf(client)).toBe(5)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("concurrent transactions take the connection in turn, each seeing the other's commit", () =>
    Effect.gen(function*() {
      const client = yield* writer
      const increment = Database.transaction(Effect.gen(function*() {
        const sql = yield* WriteConnection
        const v = (yield* sql<{ v: number }>`SELECT v FROM t WHERE id = 1`)[0]!.v
        yield* Effect.yieldNow()
        yield* sql`UPDATE t SET v = ${v + 1} WHERE id = 1`
      }))
      yield* Effect.all(Array.from({ length: 20 }, () => increment), { concurrency: "unbounded", discard: true }).pipe(
        Effect.provideService(WriteConnection, client)
      )
      expect(yield* valueOf(client)).toBe(20)
    }).pipe(Effect.provide(Reactivity.layer)))
})
