import type { SqlError } from "@effect/sql/SqlError"
import { describe, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Stream from "effect/Stream"
import type { ReadConnection, WriteConnection } from "../src/Connections.js"
import * as Database from "../src/Database.js"
import type {
  FallbackCapacityExceeded,
  InvalidCursor,
  NoHealthyReplica,
  PoolExhausted,
  PrimaryUnavailable,
  TransactionOutcomeUnknown
} from "../src/Errors.js"
import type * as Query from "../src/Query.js"
import type { User } from "./fixtures.js"
import { UserRepo } from "./fixtures.js"

type Requirements<T> = T extends Effect.Effect<any, any, infer R> ? R : never
type Tagged<T, Tag extends string> = T extends Effect.Effect<any, infer E, any> ? Extract<E, { readonly _tag: Tag }>
  : never

describe("types", () => {
  it("an ordinary read requires ReadConnection and not WriteConnection", () => {
    const _find = UserRepo.find(1)
    expectTypeOf<Requirements<typeof _find>>().toEqualTypeOf<ReadConnection>()
    const _all = UserRepo.all()
    expectTypeOf<Requirements<typeof _all>>().toEqualTypeOf<ReadConnection>()
    expectTypeOf<Requirements<typeof _all>>().not.toEqualTypeOf<ReadConnection | WriteConnection>()
    const _get = UserRepo.where("status", "active").orderBy("name").limit(2).get()
    expectTypeOf<Requirements<typeof _get>>().toEqualTypeOf<ReadConnection>()
    expectTypeOf<Effect.Effect.Success<typeof _find>>().toEqualTypeOf<Option.Option<User>>()
  })

  it("forced reads, locking reads and writes require WriteConnection", () => {
    const _forced = UserRepo.find(1, { forceWrite: true })
    expectTypeOf<Requirements<typeof _forced>>().toEqualTypeOf<WriteConnection>()
    expectTypeOf<Requirements<typeof _forced>>().not.toEqualTypeOf<ReadConnection>()
    const _notForced = UserRepo.find(1, { forceWrite: false })
    expectTypeOf<Requirements<typeof _notForced>>().toEqualTypeOf<ReadConnection>()
    const _create = UserRepo.create({ name: "John", email: "j@x", status: "active", age: null })
    expectTypeOf<Requirements<typeof _create>>().toEqualTypeOf<WriteConnection>()
    const _query = UserRepo.where("status", "active").forceWrite().get()
    expectTypeOf<Requirements<typeof _query>>().toEqualTypeOf<WriteConnection>()
    const _locked = UserRepo.where("status", "active").lockForUpdate().first()
    expectTypeOf<Requirements<typeof _locked>>().toEqualTypeOf<WriteConnection>()
    const _either = UserRepo.count({ forceWrite: Math.random() > 0.5 })
    expectTypeOf<Requirements<typeof _either>>().toEqualTypeOf<ReadConnection | WriteConnection>()
  })

  it("a transaction adds WriteConnection and the typed commit outcome", () => {
    const _tx = Database.transaction(UserRepo.find(1))
    expectTypeOf<Requirements<typeof _tx>>().toEqualTypeOf<ReadConnection | WriteConnection>()
    expectTypeOf<Effect.Effect.Error<typeof _tx>>().toMatchTypeOf<SqlError | TransactionOutcomeUnknown | any>()
    expectTypeOf<TransactionOutcomeUnknown>().toMatchTypeOf<Effect.Effect.Error<typeof _tx>>()
  })

  it("connection errors are in the error channel by their own tag", () => {
    const user = { name: "John", email: "j@x", status: "active", age: null }
    const onDown = () => Effect.succeed("down" as const)
    const update = UserRepo.update(1, { status: "idle" })
    expectTypeOf<Tagged<typeof update, "PrimaryUnavailable">>().toEqualTypeOf<PrimaryUnavailable>()
    const _update = Effect.catchTag(update, "PrimaryUnavailable", onDown)
    expectTypeOf<Tagged<typeof _update, "PrimaryUnavailable">>().toBeNever()
    const _create = Effect.catchTag(UserRepo.create(user), "WriteOutcomeUnknown", onDown)
    expectTypeOf<Tagged<typeof _create, "WriteOutcomeUnknown">>().toBeNever()
    expectTypeOf<Tagged<typeof _create, "PoolExhausted">>().toEqualTypeOf<PoolExhausted>()
    const _find = UserRepo.find(1).pipe(Effect.catchTag("PrimaryUnavailable", onDown))
    expectTypeOf<Requirements<typeof _find>>().toEqualTypeOf<ReadConnection>()
    const _get = UserRepo.where("status", "active").get().pipe(Effect.catchTag("NoHealthyReplica", onDown))
    expectTypeOf<Requirements<typeof _get>>().toEqualTypeOf<ReadConnection>()
    const _tx = Database.transaction(Effect.void).pipe(Effect.catchTag("PrimaryUnavailable", onDown))
    expectTypeOf<Requirements<typeof _tx>>().toEqualTypeOf<WriteConnection>()
    expectTypeOf<PrimaryUnavailable | PoolExhausted | NoHealthyReplica | FallbackCapacityExceeded>()
      .toMatchTypeOf<Effect.Effect.Error<ReturnType<typeof UserRepo.find>>>()
    // @ts-expect-error not an error a read can fail with
    UserRepo.find(1).pipe(Effect.catchTag("InvalidSessionToken", onDown))
    // @ts-expect-error nor a transaction of a plain effect
    Database.transaction(Effect.void).pipe(Effect.catchTag("ModelNotFound", onDown))
  })

  it("Database.forceWrite requires WriteConnection", () => {
    const _forced = Database.forceWrite(UserRepo.find(1))
    expectTypeOf<Requirements<typeof _forced>>().toEqualTypeOf<ReadConnection | WriteConnection>()
    const _plain = Database.forceWrite(Effect.succeed(1))
    expectTypeOf<Requirements<typeof _plain>>().toEqualTypeOf<WriteConnection>()
  })

  it("columns must be fields of the model", () => {
    // @ts-expect-error "nope" is not a field of User
    UserRepo.where("nope", 1)
    // @ts-expect-error not a field
    UserRepo.countWhere("password", "x")
    // @ts-expect-error not a field
    UserRepo.query().orderBy("created_at")
    // @ts-expect-error not a field
    UserRepo.query().whereIn("x\" OR 1=1 --", [1])
    // @ts-expect-error not an operator
    UserRepo.where("name", "ilike", "x")
    // @ts-expect-error objects are not values
    UserRepo.where("name", { $gt: "" })
    // @ts-expect-error not a field of the update variant
    UserRepo.update(1, { nope: 1 })
    // @ts-expect-error conflict columns are fields
    UserRepo.upsert({ name: "a", email: "b", status: "c", age: null }, { conflict: ["nope"] })
    // @ts-expect-error the id is a number
    UserRepo.find("1")
    expectTypeOf(UserRepo.where("email", "like", "%@x")).not.toBeAny()
  })

  it("values are typed by their column (the model's Type); LIKE only on string columns", () => {
    UserRepo.where("age", 30)
    UserRepo.where("age", null)
    UserRepo.where("age", ">=", 18)
    UserRepo.where("name", "like", "J%")
    UserRepo.query().whereIn("id", [1, 2]).whereBetween("age", [1, 9]).whereLike("email", "%@x")
    UserRepo.where((q) => q.where("status", "a").orWhere((r) => r.whereNot("age", 3)))
    UserRepo.countWhere("status", "active")
    // @ts-expect-error age is a number
    UserRepo.where("age", "not-a-number")
    // @ts-expect-error name is a string
    UserRepo.where("name", ">", 1)
    // @ts-expect-error name is not nullable
    UserRepo.where("name", null)
    // @ts-expect-error ids are numbers
    UserRepo.query().whereIn("id", ["1"])
    // @ts-expect-error both ends are ages
    UserRepo.query().whereBetween("age", [1, "9"])
    // @ts-expect-error BETWEEN takes no null
    UserRepo.query().whereBetween("age", [null, 9])
    // @ts-expect-error LIKE needs a string column
    UserRepo.query().whereLike("age", "3%")
    // @ts-expect-error a pattern is a string
    UserRepo.query().whereLike("name", 3)
    // @ts-expect-error inside a group too
    UserRepo.where((q) => q.where("age", "x"))
    // @ts-expect-error and in whereNot
    UserRepo.query().whereNot("status", 1)
    // @ts-expect-error countWhere as well
    UserRepo.countWhere("age", "30")
  })

  it("select, pluck and aggregates are typed by their columns", () => {
    const _selected = UserRepo.where("status", "a").select("id", "name").get()
    expectTypeOf<Effect.Effect.Success<typeof _selected>>().toEqualTypeOf<
      ReadonlyArray<{ readonly id: number; readonly name: string }>
    >()
    expectTypeOf<Requirements<typeof _selected>>().toEqualTypeOf<ReadConnection>()
    const _first = UserRepo.query().select("email").forceWrite().first()
    expectTypeOf<Effect.Effect.Success<typeof _first>>().toEqualTypeOf<Option.Option<{ readonly email: string }>>()
    expectTypeOf<Requirements<typeof _first>>().toEqualTypeOf<WriteConnection>()
    const _pluck = UserRepo.query().pluck("age")
    expectTypeOf<Effect.Effect.Success<typeof _pluck>>().toEqualTypeOf<ReadonlyArray<number | null>>()
    const _sum = UserRepo.query().sum("age")
    expectTypeOf<Effect.Effect.Success<typeof _sum>>().toEqualTypeOf<number>()
    const _avg = UserRepo.query().avg("age")
    expectTypeOf<Effect.Effect.Success<typeof _avg>>().toEqualTypeOf<Option.Option<number>>()
    const _max = UserRepo.query().max("age")
    expectTypeOf<Effect.Effect.Success<typeof _max>>().toEqualTypeOf<Option.Option<number>>()
    const _min = UserRepo.query().min("name")
    expectTypeOf<Effect.Effect.Success<typeof _min>>().toEqualTypeOf<Option.Option<string>>()
    // @ts-expect-error not a field
    UserRepo.query().select("id", "password")
    // @ts-expect-error SUM needs a number column
    UserRepo.query().sum("name")
    // @ts-expect-error AVG too
    UserRepo.query().avg("status")
    // @ts-expect-error increment too
    UserRepo.where("id", 1).increment("email")
    // @ts-expect-error not a field
    UserRepo.query().pluck("nope")
  })

  it("groups: rows of group columns and named aggregates; having and orderBy by those names", () => {
    const _groups = UserRepo.query()
      .groupBy("status")
      .aggregate((a) => ({ users: a.count(), total: a.sum("age"), average: a.avg("age"), oldest: a.max("age") }))
      .having("users", ">", 1)
      .having("status", "!=", "banned")
      .orderBy("users", "desc")
      .get()
    type Row = Effect.Effect.Success<typeof _groups>[number]
    expectTypeOf<Row["status"]>().toEqualTypeOf<string>()
    expectTypeOf<Row["users"]>().toEqualTypeOf<number>()
    expectTypeOf<Row["average"]>().toEqualTypeOf<number | null>()
    expectTypeOf<Row["oldest"]>().toEqualTypeOf<number | null>()
    expectTypeOf<Requirements<typeof _groups>>().toEqualTypeOf<ReadConnection>()
    // @ts-expect-error not a group column or aggregate
    UserRepo.query().groupBy("status").having("age", 1)
    // @ts-expect-error users is a count: a number
    UserRepo.query().groupBy("status").aggregate((a) => ({ users: a.count() })).having("users", "many")
    // @ts-expect-error not a group column or aggregate
    UserRepo.query().groupBy("status").orderBy("name")
    // @ts-expect-error SUM of a string column
    UserRepo.query().groupBy("status").aggregate((a) => ({ s: a.sum("name") }))
  })

  it("pages, cursors and streams carry the query's row and connection", () => {
    const _page = UserRepo.query().select("name").paginate({ page: 1, perPage: 10 })
    expectTypeOf<Effect.Effect.Success<typeof _page>>().toEqualTypeOf<Query.Page<{ readonly name: string }>>()
    const _cursor = UserRepo.query().forceWrite().cursor({ limit: 10 })
    expectTypeOf<Effect.Effect.Success<typeof _cursor>>().toEqualTypeOf<Query.CursorPage<User>>()
    expectTypeOf<Requirements<typeof _cursor>>().toEqualTypeOf<WriteConnection>()
    expectTypeOf<Tagged<typeof _cursor, "InvalidCursor">>().toEqualTypeOf<InvalidCursor>()
    const _stream = UserRepo.where("status", "a").stream()
    expectTypeOf(_stream).toEqualTypeOf<Stream.Stream<User, Query.QueryError, ReadConnection>>()
    // @ts-expect-error a page number
    UserRepo.query().paginate({ page: "1", perPage: 10 })
    // @ts-expect-error after is a cursor string
    UserRepo.query().cursor({ after: 3, limit: 10 })
  })

  it("writes by query and upsertMany require WriteConnection and take typed patches", () => {
    const _update = UserRepo.where("status", "a").update({ status: "b" })
    expectTypeOf<Effect.Effect.Success<typeof _update>>().toEqualTypeOf<number>()
    expectTypeOf<Requirements<typeof _update>>().toEqualTypeOf<WriteConnection>()
    const _delete = UserRepo.where("status", "a").delete()
    expectTypeOf<Requirements<typeof _delete>>().toEqualTypeOf<WriteConnection>()
    const _increment = UserRepo.query().all().increment("age", 2)
    expectTypeOf<Effect.Effect.Success<typeof _increment>>().toEqualTypeOf<number>()
    const _upserted = UserRepo.upsertMany([{ name: "a", email: "b", status: "c", age: null }], { conflict: ["email"] })
    expectTypeOf<Effect.Effect.Success<typeof _upserted>>().toEqualTypeOf<ReadonlyArray<User>>()
    expectTypeOf<Requirements<typeof _upserted>>().toEqualTypeOf<WriteConnection>()
    // @ts-expect-error status is a string
    UserRepo.where("id", 1).update({ status: 1 })
    // @ts-expect-error not a field of the update variant
    UserRepo.where("id", 1).update({ nope: 1 })
    // @ts-expect-error conflict columns are fields
    UserRepo.upsertMany([], { conflict: ["nope"] })
  })
})
