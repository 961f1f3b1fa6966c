import type { SqlError } from "@effect/sql/SqlError"
import { describe, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { ReadConnection, WriteConnection } from "../src/Connections.js"
import * as Database from "../src/Database.js"
import type {
  FallbackCapacityExceeded,
  NoHealthyReplica,
  PoolExhausted,
  PrimaryUnavailable,
  TransactionOutcomeUnknown
} from "../src/Errors.js"
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
})
