/**
 * The query builder's reads on SQLite, PostgreSQL and MariaDB (one suite, three backends, as repository.test.ts):
 * typed conditions and nested groups, select and pluck, aggregates, groups, paginate, cursor and stream, each run
 * through the recording layer so that where every statement ran is checked too.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { WriteConnection } from "../src/Connections.js"
import * as Database from "../src/Database.js"
import * as Cursor from "../src/internal/cursor.js"
import * as Testing from "../src/Testing.js"
import type { User } from "./fixtures.js"
import { Backend, backends, UserRepo } from "./fixtures.js"

const people = [
  { name: "John", email: "john@example.com", status: "active", age: 30 },
  { name: "Jane", email: "jane@example.com", status: "idle", age: null },
  { name: "Bob", email: "bob@example.com", status: "active", age: 45 },
  { name: "alice", email: "alice@example.com", status: "banned", age: 22 },
  { name: "Joe", email: "JOE@EXAMPLE.COM", status: "idle", age: 30 }
]

const records = Effect.flatMap(Testing.Recorder, (r) => r.records)
const clear = Effect.flatMap(Testing.Recorder, (r) => r.clear)

/** An empty table, then `people` (unless told otherwise), replicated, and a clean record. */
const seed = (rows: ReadonlyArray<typeof people[number]> = people) =>
  Effect.gen(function*() {
    const write = yield* WriteConnection
    yield* write`DELETE FROM core_users`
    const created = rows.length > 0 ? yield* UserRepo.createMany(rows) : []
    yield* Effect.flatMap(Backend, (b) => b.sync)
    yield* clear
    return created
  })

const names = (users: ReadonlyArray<{ readonly name: string }>) => users.map((u) => u.name)
const sorted = (values: ReadonlyArray<string>) => [...values].sort()
const tag = <E extends { readonly _tag: string }>(effect: Effect.Effect<unknown, E, any>) =>
  Effect.map(Effect.flip(effect), (e) => e._tag)

/** The roles of the statements recorded so far. */
const roles = Effect.map(records, (rs) => rs.map((r) => r.role))

for (const { layer: backendLayer, name } of backends) {
  describe(name, () => {
    layer(backendLayer(), { timeout: 120_000 })((it) => {
      it.effect("conditions: typed values, nested groups, whereNot, whereBetween, whereLike", () =>
        Effect.gen(function*() {
          yield* seed()
          const backend = yield* Backend
          const get = (q: { get(): Effect.Effect<ReadonlyArray<User>, any, any> }) =>
            Effect.map(q.get(), (users) => sorted(names(users)))

          expect(
            yield* get(UserRepo.where("status", "active").where((q) => q.where("age", ">", 40).orWhere("name", "John")))
          ).toEqual(["Bob", "John"])
          expect(
            yield* get(
              UserRepo.where((q) => q.where("status", "idle").orWhere("status", "banned")).where("age", ">", 20)
            )
          ).toEqual(["Joe", "alice"])
          expect(
            yield* get(UserRepo.where("name", "Bob").orWhere((q) => q.where("status", "idle").whereNotNull("age")))
          ).toEqual(["Bob", "Joe"])
          // Groups nest.
          expect(
            yield* get(
              UserRepo.where((q) =>
                q.where((r) => r.where("status", "banned").orWhere("age", 45)).orWhere((r) => r.whereNull("age"))
              )
            )
          ).toEqual(["Bob", "Jane", "alice"])
          expect(yield* get(UserRepo.query().whereNot("status", "active"))).toEqual(["Jane", "Joe", "alice"])
          expect(
            yield* get(UserRepo.query().whereNot((q) => q.where("status", "active").orWhere("status", "idle")))
          ).toEqual(["alice"])
          // NOT (NULL > 29) is NULL: Jane is in neither side.
          expect(yield* get(UserRepo.query().whereNot("age", ">", 29))).toEqual(["alice"])
          expect(yield* get(UserRepo.query().whereBetween("age", [22, 30]))).toEqual(["Joe", "John", "alice"])
          // An empty group adds nothing.
          expect((yield* get(UserRepo.where((q) => q))).length).toBe(5)

          // LIKE follows each database's rules: PostgreSQL is case-sensitive unless asked for ILIKE; MariaDB's _ci
          // collations and SQLite's LIKE (for ASCII) are case-insensitive either way.
          const insensitive = backend.name !== "postgres"
          expect(yield* get(UserRepo.query().whereLike("name", "j%", { caseInsensitive: true }))).toEqual([
            "Jane",
            "Joe",
            "John"
          ])
          expect(yield* get(UserRepo.query().whereLike("name", "j%"))).toEqual(
            insensitive ? ["Jane", "Joe", "John"] : []
          )
          expect((yield* get(UserRepo.query().whereLike("email", "%@example.com"))).length).toBe(insensitive ? 5 : 4)
          expect(yield* get(UserRepo.query().whereLike("email", "%@EXAMPLE.COM", { caseInsensitive: true }))).toEqual(
            sorted(names(people))
          )
          // Every one of them ran on the read side.
          expect(new Set(yield* roles)).toEqual(new Set(["read"]))
        }))

      it.effect("select and pluck read only the named columns, decoded by their fields", () =>
        Effect.gen(function*() {
          yield* seed()
          const active = yield* UserRepo.where("status", "active").orderBy("name").select("id", "name").get()
          expect(active.map((row) => Object.keys(row).sort())).toEqual([["id", "name"], ["id", "name"]])
          expect(names(active)).toEqual(["Bob", "John"])
          expect(typeof active[0]!.id).toBe("number")
          const first = yield* UserRepo.query().orderBy("email").select("email").first()
          expect(first).toEqual(Option.some({ email: expect.stringMatching(/@/) }))
          expect(yield* UserRepo.query().orderBy("id").pluck("age")).toEqual([30, null, 45, 22, 30])
          expect(yield* UserRepo.where("status", "idle").orderBy("id").pluck("name")).toEqual(["Jane", "Joe"])
          const sql = (yield* records).map((r) => r.sql)
          expect(sql.every((text) => !/SELECT \*/.test(text))).toBe(true)
        }))

      it.effect("aggregates: count, sum, avg, min, max (over no rows too, and over a limited query)", () =>
        Effect.gen(function*() {
          yield* seed()
          expect(yield* UserRepo.query().count()).toBe(5)
          expect(yield* UserRepo.query().sum("age")).toBe(127)
          expect(yield* UserRepo.query().avg("age")).toEqual(Option.some(31.75))
          expect(yield* UserRepo.query().min("age")).toEqual(Option.some(22))
          expect(yield* UserRepo.query().max("age")).toEqual(Option.some(45))
          expect(yield* UserRepo.where("status", "active").max("name")).toEqual(Option.some("John"))
          const none = UserRepo.where("age", ">", 100)
          expect(yield* none.sum("age")).toBe(0)
          expect(yield* none.avg("age")).toEqual(Option.none())
          expect(yield* none.min("age")).toEqual(Option.none())
          expect(yield* none.count()).toBe(0)
          // Over the two oldest only.
          expect(yield* UserRepo.query().whereNotNull("age").orderBy("age", "desc").limit(2).sum("age")).toBe(75)
          expect(yield* UserRepo.query().orderBy("id").offset(3).max("age")).toEqual(Option.some(30))
          expect(new Set(yield* roles)).toEqual(new Set(["read"]))
        }))

      it.effect("groupBy with named aggregates, having, order and limit", () =>
        Effect.gen(function*() {
          yield* seed()
          const groups = yield* UserRepo.query()
            .groupBy("status")
            .aggregate((a) => ({
              users: a.count(),
              withAge: a.count("age"),
              total: a.sum("age"),
              average: a.avg("age"),
              youngest: a.min("age")
            }))
            .orderBy("status")
            .get()
          expect(groups).toEqual([
            { status: "active", users: 2, withAge: 2, total: 75, average: 37.5, youngest: 30 },
            { status: "banned", users: 1, withAge: 1, total: 22, average: 22, youngest: 22 },
            { status: "idle", users: 2, withAge: 1, total: 30, average: 30, youngest: 30 }
          ])
          const crowded = yield* UserRepo.query()
            .groupBy("status")
            .aggregate((a) => ({ users: a.count() }))
            .having("users", ">", 1)
            .orderBy("status")
            .get()
          expect(crowded).toEqual([{ status: "active", users: 2 }, { status: "idle", users: 2 }])
          const top = yield* UserRepo.where("age", ">=", 0)
            .groupBy("status")
            .aggregate((a) => ({ oldest: a.max("age") }))
            .having("status", "!=", "banned")
            .orderBy("oldest", "desc")
            .limit(1)
            .get()
          expect(top).toEqual([{ status: "active", oldest: 45 }])
          const distinct = yield* UserRepo.query().groupBy("status").orderBy("status").offset(1).get()
          expect(distinct).toEqual([{ status: "banned" }, { status: "idle" }])
          const byTwo = yield* UserRepo.query().groupBy("status", "age").aggregate((a) => ({ n: a.count() })).having(
            "n",
            2
          ).get()
          expect(byTwo).toEqual([])
          const whole = yield* UserRepo.query().groupBy().aggregate((a) => ({ n: a.count(), top: a.max("age") })).get()
          expect(whole).toEqual([{ n: 5, top: 45 }])
          expect(new Set(yield* roles)).toEqual(new Set(["read"]))
        }))

      it.effect("paginate: a page and the total in one statement on the read side", () =>
        Effect.gen(function*() {
          yield* seed()
          // Names sort by each database's collation: the expected order is the database's own.
          const byName = names(yield* UserRepo.query().orderBy("name").get())
          yield* clear
          const page1 = yield* UserRepo.query().orderBy("name").paginate({ page: 1, perPage: 2 })
          expect({ ...page1, data: names(page1.data) }).toEqual({
            data: byName.slice(0, 2),
            total: 5,
            page: 1,
            perPage: 2,
            lastPage: 3
          })
          expect(yield* roles).toEqual(["read"])
          const page3 = yield* UserRepo.query().orderBy("name").paginate({ page: 3, perPage: 2 })
          expect(names(page3.data)).toEqual(byName.slice(4))
          const beyond = yield* UserRepo.query().paginate({ page: 9, perPage: 2 })
          expect(beyond).toEqual({ data: [], total: 5, page: 9, perPage: 2, lastPage: 3 })
          // OR at the top level stays inside the count and the page alike.
          const either = yield* UserRepo.where("status", "banned").orWhere("age", 45).select("name").paginate({
            page: 1,
            perPage: 10
          })
          expect({ total: either.total, data: sorted(names(either.data)) }).toEqual({
            total: 2,
            data: ["Bob", "alice"]
          })
          expect(Object.keys(either.data[0]!)).toEqual(["name"])
          // Without an order: by id.
          const byId = yield* UserRepo.query().paginate({ page: 2, perPage: 2 })
          expect(names(byId.data)).toEqual(["Bob", "alice"])
          yield* seed([])
          expect(yield* UserRepo.query().paginate({ page: 1, perPage: 20 })).toEqual({
            data: [],
            total: 0,
            page: 1,
            perPage: 20,
            lastPage: 1
          })
          yield* clear
          expect(yield* tag(UserRepo.query().paginate({ page: 0, perPage: 2 }))).toBe("InvalidLimit")
          expect(yield* tag(UserRepo.query().paginate({ page: 1, perPage: 0 }))).toBe("InvalidLimit")
          expect(yield* tag(UserRepo.query().paginate({ page: 2 ** 52, perPage: 2 ** 10 }))).toBe("InvalidLimit")
          expect(yield* tag(UserRepo.query().limit(3).paginate({ page: 1, perPage: 2 }))).toBe("InvalidQuery")
          expect(yield* records).toEqual([])
        }))

      it.effect("cursor: keyset pages in the query's order then the id's, and every foreign cursor refused", () =>
        Effect.gen(function*() {
          const created = yield* seed()
          const query = UserRepo.query().orderBy("status").orderBy("name", "desc")
          const expected = names(yield* query.get())
          const seen: Array<string> = []
          let after: string | undefined
          let pages = 0
          do {
            const page = yield* query.cursor({ after, limit: 2 })
            seen.push(...names(page.data))
            after = Option.getOrUndefined(page.next)
            pages++
          } while (after !== undefined)
          expect(seen).toEqual(expected)
          expect(pages).toBe(3)
          // A page of exactly the remaining rows has no next cursor.
          expect(Option.isNone((yield* UserRepo.query().cursor({ limit: 5 })).next)).toBe(true)
          // With select: rows carry only the selected fields, the cursor still works (made of the order columns).
          const firstIds = yield* UserRepo.query().select("email").cursor({ limit: 3 })
          expect(firstIds.data).toEqual(created.slice(0, 3).map((u) => ({ email: u.email })))
          const rest = yield* UserRepo.query().select("email").cursor({
            after: Option.getOrThrow(firstIds.next),
            limit: 3
          })
          expect(rest.data).toEqual(created.slice(3).map((u) => ({ email: u.email })))
          // Conditions with OR stay together with the keyset condition.
          const mixed = UserRepo.where("status", "idle").orWhere("status", "banned")
          const one = yield* mixed.cursor({ limit: 1 })
          const two = yield* mixed.cursor({ after: Option.getOrThrow(one.next), limit: 5 })
          expect([...names(one.data), ...names(two.data)]).toEqual(["Jane", "alice", "Joe"])
          expect(new Set(yield* roles)).toEqual(new Set(["read"]))

          yield* clear
          const good = Option.getOrThrow((yield* query.cursor({ limit: 1 })).next)
          yield* clear
          const flipped = good.slice(0, 5) + (good[5] === "A" ? "B" : "A") + good.slice(6)
          const foreign = Option.getOrThrow((yield* UserRepo.query().orderBy("name").cursor({ limit: 1 })).next)
          yield* clear
          for (const cursor of [flipped, good.slice(0, -2), foreign, "abc", "x".repeat(5000), "", "a b"]) {
            expect(yield* tag(query.cursor({ after: cursor, limit: 2 }))).toBe("InvalidCursor")
          }
          expect(yield* tag(query.cursor({ after: 42 as any, limit: 2 }))).toBe("InvalidCursor")
          // A well-formed cursor whose value is not of the column's type.
          // Well-formed cursors (checksum and fingerprint right) whose values are not of the columns' types.
          const print = Cursor.fingerprint("core_users", [["status", "asc"], ["name", "desc"], ["id", "asc"]])
          expect(Cursor.encode(print, ["active", "John", 1])).toMatch(/^[A-Za-z0-9_-]+$/)
          for (const values of [[123, "x", 1], ["active", "x", "one"], ["active", "x", 1.5], ["a", { d: "x" }, 1]]) {
            expect(yield* tag(query.cursor({ after: Cursor.encode(print, values), limit: 2 }))).toBe("InvalidCursor")
          }
          expect(yield* tag(UserRepo.query().orderBy("age").cursor({ limit: 2 }))).toBe("InvalidQuery")
          expect(yield* tag(query.limit(2).cursor({ limit: 2 }))).toBe("InvalidQuery")
          expect(yield* tag(query.cursor({ limit: 0 }))).toBe("InvalidLimit")
          expect(yield* records).toEqual([])
        }))

      it.effect("stream: decoded rows through a server-side cursor, routed like every read", () =>
        Effect.gen(function*() {
          yield* seed()
          const all = yield* UserRepo.query().orderBy("id").get()
          yield* clear
          const streamed = yield* Stream.runCollect(UserRepo.query().orderBy("id").stream())
          expect(Chunk.toReadonlyArray(streamed)).toEqual(all)
          expect(yield* roles).toEqual(["read"])
          const selected = yield* Stream.runCollect(
            UserRepo.where("status", "idle").orderBy("id").select("name").stream()
          )
          expect(Chunk.toReadonlyArray(selected)).toEqual([{ name: "Jane" }, { name: "Joe" }])
          // Taking two rows ends the stream early; the connection serves the next statement.
          const two = yield* Stream.runCollect(Stream.take(UserRepo.query().orderBy("id").stream(), 2))
          expect(Chunk.size(two)).toBe(2)
          expect(yield* UserRepo.query().count()).toBe(5)
          expect(Chunk.size(yield* Stream.runCollect(UserRepo.where("age", ">", 100).stream()))).toBe(0)
          yield* clear
          const forced = yield* Stream.runCount(UserRepo.query().forceWrite().stream())
          expect(forced).toBe(5)
          expect(yield* roles).toEqual(["write"])
          yield* clear
          // Inside a transaction: on its connection, seeing its own uncommitted write.
          const inTx = yield* Database.transaction(Effect.gen(function*() {
            yield* UserRepo.create({ name: "Tx", email: "tx@example.com", status: "tx", age: 1 })
            return yield* Stream.runCollect(UserRepo.where("status", "tx").stream())
          }))
          expect(names(Chunk.toReadonlyArray(inTx))).toEqual(["Tx"])
          const inTxRecords = yield* records
          expect(new Set(inTxRecords.map((r) => r.role))).toEqual(new Set(["write"]))
          expect(new Set(inTxRecords.map((r) => r.connection)).size).toBe(1)
        }))

      it.effect("stream of 5 000 rows arrives complete and in order", () =>
        Effect.gen(function*() {
          yield* seed([])
          const rows = Array.from({ length: 5_000 }, (_, i) => ({
            name: `n${i}`,
            email: `u${i}@example.com`,
            status: i % 2 === 0 ? "even" : "odd",
            age: i
          }))
          const write = yield* WriteConnection
          yield* Effect.forEach(
            Array.from({ length: 10 }, (_, k) => rows.slice(k * 500, (k + 1) * 500)),
            (chunk) => write`INSERT INTO core_users ${write.insert(chunk)}`,
            { discard: true }
          )
          yield* Effect.flatMap(Backend, (b) => b.sync)
          let expected = 0
          let out = 0
          yield* Stream.runForEach(UserRepo.query().orderBy("age").stream(), (user) =>
            Effect.sync(() => {
              if (user.age === expected) out++
              expected++
            }))
          expect(out).toBe(5_000)
        }))
    })
  })
}
