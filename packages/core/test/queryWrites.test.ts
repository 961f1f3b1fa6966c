/**
 * Writes by query (update, delete, increment, decrement), upsertMany, and hostile input to every method of the
 * query surface, on SQLite, PostgreSQL and MariaDB. Writes run on the write side (inside a transaction on its one
 * connection), touch only the matching rows, return how many, and a query without conditions is refused unless it
 * says `.all()`. Hostile input fails with a typed error before any statement reaches a connection.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { WriteConnection } from "../src/Connections.js"
import { DialectFeatures } from "../src/Connections.js"
import * as Database from "../src/Database.js"
import * as Testing from "../src/Testing.js"
import { Backend, backends, UserRepo } from "./fixtures.js"

const people = [
  { name: "John", email: "john@example.com", status: "active", age: 30 },
  { name: "Jane", email: "jane@example.com", status: "idle", age: null },
  { name: "Bob", email: "bob@example.com", status: "active", age: 45 },
  { name: "alice", email: "alice@example.com", status: "banned", age: 22 }
]

const records = Effect.flatMap(Testing.Recorder, (r) => r.records)
const clear = Effect.flatMap(Testing.Recorder, (r) => r.clear)

const seed = Effect.gen(function*() {
  const write = yield* WriteConnection
  yield* write`DELETE FROM core_users`
  const created = yield* UserRepo.createMany(people)
  yield* Effect.flatMap(Backend, (b) => b.sync)
  yield* clear
  return created
})

/** The table as the primary has it, by id. */
const table = Effect.map(
  UserRepo.all({ forceWrite: true }),
  (users) => users.map(({ age, email, name, status }) => ({ name, email, status, age }))
)

const tag = <E extends { readonly _tag: string }>(effect: Effect.Effect<unknown, E, any>) =>
  Effect.map(Effect.flip(effect), (e) => e._tag)

const injections = [`x" OR 1=1 --`, "a`b", "id; DROP TABLE users", "c".repeat(70), "__proto__", "constructor"]
const objects: ReadonlyArray<unknown> = [{ $gt: "" }, ["a"], () => 1, { toString: () => "1 OR 1=1" }, NaN, Symbol("x")]

for (const { layer: backendLayer, name } of backends) {
  describe(name, () => {
    layer(backendLayer(), { timeout: 120_000 })((it) => {
      it.effect("update, increment, decrement and delete by query: the matching rows, counted, on the write side", () =>
        Effect.gen(function*() {
          yield* seed
          expect(yield* UserRepo.where("status", "active").update({ status: "away" })).toBe(2)
          expect(yield* UserRepo.where("status", "nobody").update({ status: "away" })).toBe(0)
          // A row matched but already holding the value counts as matched (pg, SQLite; mysql2 sets FOUND_ROWS).
          expect(yield* UserRepo.where("name", "John").update({ status: "away" })).toBe(1)
          expect(yield* UserRepo.where("status", "away").increment("age", 5)).toBe(2)
          expect(yield* UserRepo.where("name", "alice").decrement("age")).toBe(1)
          expect(yield* UserRepo.where((q) => q.whereNull("age").orWhere("age", "<", 25)).update({ age: 18 })).toBe(2)
          expect(yield* table).toEqual([
            { name: "John", email: "john@example.com", status: "away", age: 35 },
            { name: "Jane", email: "jane@example.com", status: "idle", age: 18 },
            { name: "Bob", email: "bob@example.com", status: "away", age: 50 },
            { name: "alice", email: "alice@example.com", status: "banned", age: 18 }
          ])
          yield* clear
          expect(yield* UserRepo.where("age", 18).delete()).toBe(2)
          expect(yield* UserRepo.where("age", 18).delete()).toBe(0)
          const writes = (yield* records).filter((r) => !/^\s*SELECT/i.test(r.sql))
          expect(writes.length).toBeGreaterThan(0)
          expect(new Set(writes.map((r) => r.role))).toEqual(new Set(["write"]))
          expect((yield* table).map((u) => u.name)).toEqual(["John", "Bob"])
        }))

      it.effect("a write by query without conditions is refused unless it says .all()", () =>
        Effect.gen(function*() {
          yield* seed
          expect(yield* tag(UserRepo.query().update({ status: "x" }))).toBe("InvalidQuery")
          expect(yield* tag(UserRepo.query().delete())).toBe("InvalidQuery")
          expect(yield* tag(UserRepo.query().increment("age"))).toBe("InvalidQuery")
          expect(yield* tag(UserRepo.query().orderBy("id").limit(1).delete())).toBe("InvalidQuery")
          expect(yield* tag(UserRepo.where("status", "active").limit(1).update({ status: "x" }))).toBe("InvalidQuery")
          // An empty group is no condition either.
          expect(yield* tag(UserRepo.where((q) => q).delete())).toBe("InvalidQuery")
          expect(yield* records).toEqual([])
          expect(yield* UserRepo.query().all().increment("age", 1)).toBe(4)
          expect(yield* UserRepo.query().all().update({ status: "reset" })).toBe(4)
          expect(new Set((yield* table).map((u) => u.status))).toEqual(new Set(["reset"]))
          expect(yield* UserRepo.query().all().delete()).toBe(4)
          expect(yield* table).toEqual([])
        }))

      it.effect("writes by query inside a transaction run on its connection and roll back with it", () =>
        Effect.gen(function*() {
          yield* seed
          const outcome = yield* Effect.either(Database.transaction(Effect.gen(function*() {
            expect(yield* UserRepo.where("status", "active").update({ status: "tx" })).toBe(2)
            expect(yield* UserRepo.where("status", "tx").count()).toBe(2)
            expect(yield* UserRepo.where("status", "tx").increment("age", 100)).toBe(2)
            expect(yield* UserRepo.where("name", "alice").delete()).toBe(1)
            return yield* Effect.fail("rollback" as const)
          })))
          expect(outcome._tag).toBe("Left")
          const inside = yield* records
          expect(new Set(inside.map((r) => r.role))).toEqual(new Set(["write"]))
          expect(new Set(inside.map((r) => r.connection)).size).toBe(1)
          expect(yield* table).toEqual(people)
          yield* Database.transaction(UserRepo.where("name", "Bob").update({ age: 46 }))
          expect((yield* table).find((u) => u.name === "Bob")?.age).toBe(46)
        }))

      it.effect("upsertMany inserts new rows and updates existing ones, returning them as stored, in order", () =>
        Effect.gen(function*() {
          const created = yield* seed
          const stored = yield* UserRepo.upsertMany([
            { name: "Bobby", email: "bob@example.com", status: "active", age: 46 },
            { name: "Zed", email: "zed@example.com", status: "new", age: 1 },
            { name: "Johnny", email: "john@example.com", status: "away", age: null },
            { name: "Yan", email: "yan@example.com", status: "new", age: 2 }
          ], { conflict: ["email"] })
          expect(stored.map((u) => [u.name, u.email, u.age])).toEqual([
            ["Bobby", "bob@example.com", 46],
            ["Zed", "zed@example.com", 1],
            ["Johnny", "john@example.com", null],
            ["Yan", "yan@example.com", 2]
          ])
          // Updated rows keep their ids; inserted rows get new ones.
          expect(stored[0]!.id).toBe(created[2]!.id)
          expect(stored[2]!.id).toBe(created[0]!.id)
          expect(new Set(stored.map((u) => u.id)).size).toBe(4)
          expect((yield* table).length).toBe(6)
          expect(yield* UserRepo.upsertMany([], { conflict: ["email"] })).toEqual([])
          // Without RETURNING (MySQL, or a server that lacks it): read back by the conflict values, same answer.
          const readBack = yield* UserRepo.upsertMany([
            { name: "Zed 2", email: "zed@example.com", status: "new", age: 3 },
            { name: "Xi", email: "xi@example.com", status: "new", age: 4 }
          ], { conflict: ["email"] }).pipe(Effect.provideService(DialectFeatures, { supportsReturning: false }))
          expect(readBack.map((u) => [u.name, u.age])).toEqual([["Zed 2", 3], ["Xi", 4]])
          expect(readBack[0]!.id).toBe(stored[1]!.id)
          yield* clear
          expect(
            yield* tag(UserRepo.upsertMany([
              { name: "A", email: "dup@example.com", status: "x", age: 1 },
              { name: "B", email: "dup@example.com", status: "x", age: 2 }
            ], { conflict: ["email"] }))
          ).toBe("InvalidValue")
          expect(yield* tag(UserRepo.upsertMany([people[0]!], { conflict: [] }))).toBe("InvalidColumn")
          expect(yield* tag(UserRepo.upsertMany([people[0]!], { conflict: ["id"] }))).toBe("InvalidValue")
          expect(yield* tag(UserRepo.upsertMany("rows" as any, { conflict: ["email"] }))).toBe("InvalidValue")
          expect(yield* records).toEqual([])
        }))

      it.effect("upsertMany of 3 000 rows runs in as few statements as the parameter limits allow", () =>
        Effect.gen(function*() {
          yield* seed
          const rows = Array.from({ length: 3_000 }, (_, i) => ({
            name: `n${i}`,
            email: `bulk${i}@example.com`,
            status: "bulk",
            age: i
          }))
          const stored = yield* UserRepo.upsertMany(rows, { conflict: ["email"] })
          expect(stored.map((u) => u.age)).toEqual(rows.map((r) => r.age))
          expect((yield* records).filter((r) => /^INSERT/i.test(r.sql))).toHaveLength(1)
          const again = yield* UserRepo.upsertMany(rows.map((r) => ({ ...r, age: r.age + 1 })), { conflict: ["email"] })
          expect(again.map((u) => u.id)).toEqual(stored.map((u) => u.id))
          // ReadConnection is a replica here (no session consistency): it must have replayed the upsert first.
          yield* Effect.flatMap(Backend, (b) => b.sync)
          expect(yield* UserRepo.where("status", "bulk").sum("age")).toBe((2_999 * 3_000) / 2 + 3_000)
        }))

      it.effect("hostile identifiers and values are refused with typed errors before any SQL is sent", () =>
        Effect.gen(function*() {
          yield* seed
          const backend = yield* Backend
          for (const column of injections) {
            const c = column as any
            expect(yield* tag(UserRepo.query().select("id", c).get())).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().pluck(c))).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().sum(c))).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().max(c))).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().groupBy(c).get())).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().groupBy("status").orderBy(c).get())).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().groupBy("status").having(c, 1).get())).toBe("InvalidColumn")
            expect(
              yield* tag(UserRepo.query().groupBy("status").aggregate((a) => ({ [column]: a.count() })).get())
            ).toBe("InvalidColumn")
            expect(
              yield* tag(UserRepo.query().groupBy("status").aggregate((a) => ({ n: a.min(c) })).get())
            ).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().whereBetween(c, [1, 2]).get())).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().whereLike(c, "%").get())).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().whereNot(c, 1).get())).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.where((q) => q.where(c, 1)).get())).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.where("id", 1).increment(c))).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.where("id", 1).update({ [column]: 1 } as any))).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().orderBy(c).paginate({ page: 1, perPage: 1 }))).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.query().orderBy(c).cursor({ limit: 1 }))).toBe("InvalidColumn")
            expect(yield* tag(Stream.runDrain(UserRepo.query().orderBy(c).stream()))).toBe("InvalidColumn")
            expect(yield* tag(UserRepo.upsertMany([people[0]!], { conflict: [c] }))).toBe("InvalidColumn")
          }
          for (const value of objects) {
            const v = value as any
            expect(yield* tag(UserRepo.where("age", v).get())).toBe("InvalidValue")
            expect(yield* tag(UserRepo.query().whereNot("name", v).get())).toBe("InvalidValue")
            expect(yield* tag(UserRepo.query().whereBetween("age", [1, v]).get())).toBe("InvalidValue")
            expect(yield* tag(UserRepo.query().whereLike("name", v).get())).toBe("InvalidValue")
            expect(yield* tag(UserRepo.query().groupBy("status").having("status", v).get())).toBe("InvalidValue")
            expect(yield* tag(UserRepo.where("id", 1).increment("age", v))).toBe("InvalidValue")
            expect(yield* tag(UserRepo.where((q) => q.where("name", v)).delete())).toBe("InvalidValue")
          }
          // A string for a number column, a number for a string column: the column's type, checked at run time.
          expect(yield* tag(UserRepo.where("age", "30" as any).get())).toBe("InvalidValue")
          expect(yield* tag(UserRepo.where("name", 1 as any).update({ status: "x" }))).toBe("InvalidValue")
          expect(yield* tag(UserRepo.query().whereIn("id", ["1" as any]).get())).toBe("InvalidValue")
          // LIKE needs a string column; SUM and AVG a number column; increment an updatable number column.
          expect(yield* tag(UserRepo.query().whereLike("age" as any, "3%").get())).toBe("InvalidColumn")
          expect(yield* tag(UserRepo.query().sum("name" as any))).toBe("InvalidColumn")
          expect(yield* tag(UserRepo.query().avg("email" as any))).toBe("InvalidColumn")
          expect(yield* tag(UserRepo.where("id", 1).increment("name" as any))).toBe("InvalidColumn")
          expect(yield* tag(UserRepo.where("id", 1).increment("age", Infinity))).toBe("InvalidValue")
          expect(yield* tag(UserRepo.where("id", 1).update("x" as any))).toBe("InvalidValue")
          expect(yield* tag(UserRepo.where("id", 1).update({ id: 2 } as any))).toBe("InvalidQuery")
          expect(yield* tag(UserRepo.query().select().get())).toBe("InvalidQuery")
          expect(yield* tag(UserRepo.where((() => 1) as any).get())).toBe("InvalidQuery")
          expect(yield* tag(UserRepo.query().groupBy("status").aggregate((() => 1) as any).get())).toBe("InvalidQuery")
          expect(yield* tag(UserRepo.query().groupBy("status").aggregate(() => ({ n: { fn: "drop" } }) as any).get()))
            .toBe("InvalidQuery")
          expect(
            yield* tag(UserRepo.query().groupBy("status").aggregate((a) => ({ status: a.count() })).get())
          ).toBe("InvalidColumn")
          for (const operator of ["= 1 OR 1=1 --", "; DROP TABLE users", "IN", ""]) {
            expect(yield* tag(UserRepo.query().whereNot("name", operator as any, "x").get())).toBe("InvalidOperator")
            expect(yield* tag(UserRepo.query().groupBy("status").having("status", operator as any, "x").get())).toBe(
              "InvalidOperator"
            )
          }
          expect(yield* tag(UserRepo.query().groupBy("status").orderBy("status", "desc; DROP" as any).get())).toBe(
            "InvalidValue"
          )
          expect(yield* tag(UserRepo.query().groupBy("status").limit(-1).get())).toBe("InvalidLimit")
          expect(yield* tag(UserRepo.query().orderBy("id").groupBy("status").get())).toBe("InvalidQuery")
          expect(yield* tag(UserRepo.query().lockForUpdate().sum("age"))).toBe("InvalidQuery")
          // Nothing reached any connection, and the table is unchanged.
          expect(yield* records).toEqual([])
          expect(yield* table).toEqual(people)
          // Hostile values that are of the right type are bound as parameters, never spliced into the text.
          for (const text of [`' OR '1'='1`, `"; DROP TABLE core_users; --`, "\\'; DELETE FROM core_users; --", "%"]) {
            expect(yield* UserRepo.where("name", text).get()).toEqual([])
            expect(yield* UserRepo.query().whereLike("email", text.replace("%", "none")).count()).toBe(0)
            expect(yield* UserRepo.where("name", text).update({ status: text })).toBe(0)
          }
          yield* backend.sync
          expect(yield* table).toEqual(people)
        }))
    })
  })
}
