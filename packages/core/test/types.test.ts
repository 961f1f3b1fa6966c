import type { SqlError } from "@effect/sql/SqlError"
import { describe, expectTypeOf, it } from "@effect/vitest"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { ReadConnection, WriteConnection } from "../src/Connections.js"
import * as Database from "../src/Database.js"
import type { TransactionOutcomeUnknown } from "../src/Errors.js"
import type { User } from "./fixtures.js"
import { UserRepo } from "./fixtures.js"

type Requirements<T> = T extends Effect.Effect<any, any, infer R> ? R : never

describe("types", () => {
  it("an ordinary read requires ReadConnection and not WriteConnection", () => {
    const find = UserRepo.find(1)
    expectTypeOf<Requirements<typeof find>>().toEqualTypeOf<ReadConnection>()
    const all = UserRepo.all()
    expectTypeOf<Requirements<typeof all>>().toEqualTypeOf<ReadConnection>()
    expectTypeOf<Requirements<typeof all>>().not.toEqualTypeOf<ReadConnection | WriteConnection>()
    const get = UserRepo.where("status", "active").orderBy("name").limit(2).get()
    expectTypeOf<Requirements<typeof get>>().toEqualTypeOf<ReadConnection>()
    expectTypeOf<Effect.Effect.Success<typeof find>>().toEqualTypeOf<Option.Option<User>>()
  })

  it("forced reads, locking reads and writes require WriteConnection", () => {
    const forced = UserRepo.find(1, { forceWrite: true })
    expectTypeOf<Requirements<typeof forced>>().toEqualTypeOf<WriteConnection>()
    expectTypeOf<Requirements<typeof forced>>().not.toEqualTypeOf<ReadConnection>()
    const notForced = UserRepo.find(1, { forceWrite: false })
    expectTypeOf<Requirements<typeof notForced>>().toEqualTypeOf<ReadConnection>()
    const create = UserRepo.create({ name: "John", email: "j@x", status: "active", age: null })
    expectTypeOf<Requirements<typeof create>>().toEqualTypeOf<WriteConnection>()
    const query = UserRepo.where("status", "active").forceWrite().get()
    expectTypeOf<Requirements<typeof query>>().toEqualTypeOf<WriteConnection>()
    const locked = UserRepo.where("status", "active").lockForUpdate().first()
    expectTypeOf<Requirements<typeof locked>>().toEqualTypeOf<WriteConnection>()
    const either = UserRepo.count({ forceWrite: Math.random() > 0.5 })
    expectTypeOf<Requirements<typeof either>>().toEqualTypeOf<ReadConnection | WriteConnection>()
  })

  it("a transaction adds WriteConnection and the typed commit outcome", () => {
    const tx = Database.transaction(UserRepo.find(1))
    expectTypeOf<Requirements<typeof tx>>().toEqualTypeOf<ReadConnection | WriteConnection>()
    expectTypeOf<Effect.Effect.Error<typeof tx>>().toMatchTypeOf<SqlError | TransactionOutcomeUnknown | any>()
    expectTypeOf<TransactionOutcomeUnknown>().toMatchTypeOf<Effect.Effect.Error<typeof tx>>()
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
