/**
 * Connection errors (what a routing connection reports inside a `SqlError`) reach repository, query and transaction
 * callers by their own tag, so `Effect.catchTag` works on them; raw `sql` keeps @effect/sql's `SqlError`.
 */
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { ReadConnection, WriteConnection } from "../src/Connections.js"
import * as Database from "../src/Database.js"
import type { ModelNotFound } from "../src/Errors.js"
import {
  connectionErrorOf,
  connectionErrorToSqlError,
  FallbackCapacityExceeded,
  liftConnectionErrors,
  NoHealthyReplica,
  PoolExhausted,
  PrimaryUnavailable,
  WriteOutcomeUnknown
} from "../src/Errors.js"
import type * as Repository from "../src/Repository.js"
import { fakeClient, UserRepo } from "./fixtures.js"

const down = new PrimaryUnavailable({ node: "primary", reason: "connection refused (ECONNREFUSED) after 3 ms" })

/** Runs `effect` with both connections on one client whose every statement fails with `cause`. */
const failing = <A, E>(
  effect: Effect.Effect<A, E, ReadConnection | WriteConnection>,
  cause: unknown,
  options?: { readonly acquire?: unknown }
) =>
  Effect.flatMap(fakeClient(() => cause, options), ({ client }) =>
    effect.pipe(
      Effect.provideService(ReadConnection, client),
      Effect.provideService(WriteConnection, client)
    ))

type AnyError = Repository.ReadError | Repository.WriteError | ModelNotFound

/** What `catchTag("PrimaryUnavailable")` caught, or the tag that went through instead. */
const caught = (
  effect: Effect.Effect<unknown, AnyError, ReadConnection | WriteConnection>,
  cause: unknown = down,
  options?: { readonly acquire?: unknown }
) =>
  failing(
    effect.pipe(
      Effect.as("succeeded"),
      Effect.catchTag("PrimaryUnavailable", (e) => Effect.succeed(`caught ${e.node}: ${e.reason}`)),
      Effect.catchAll((e) => Effect.succeed(`not caught: ${e._tag}`))
    ),
    cause,
    options
  )

const expected = "caught primary: connection refused (ECONNREFUSED) after 3 ms"

describe("connection errors arrive by their own tag", () => {
  it.effect("repository reads and writes, queries and transactions", () =>
    Effect.gen(function*() {
      const user = { name: "Ann", email: "ann@example.com", status: "active", age: null }
      const operations: Record<string, Effect.Effect<unknown, AnyError, ReadConnection | WriteConnection>> = {
        find: UserRepo.find(1),
        forcedFind: UserRepo.find(1, { forceWrite: true }),
        findOrFail: UserRepo.findOrFail(1),
        all: UserRepo.all(),
        count: UserRepo.count(),
        get: UserRepo.where("status", "active").get(),
        first: UserRepo.where("status", "active").first(),
        exists: UserRepo.query().exists(),
        lockForUpdate: UserRepo.where("status", "active").lockForUpdate().get(),
        create: UserRepo.create(user),
        createMany: UserRepo.createMany([user, user]),
        update: UserRepo.update(1, { status: "idle" }),
        save: UserRepo.save({ ...user, id: 1 }),
        delete: UserRepo.delete(1),
        upsert: UserRepo.upsert(user, { conflict: ["email"] }),
        transaction: Database.transaction(Effect.void),
        forceWrite: Database.forceWrite(UserRepo.find(1))
      }
      for (const [name, operation] of Object.entries(operations)) {
        expect([name, yield* caught(operation)]).toEqual([name, expected])
      }
    }))

  it.effect("a connection that cannot be acquired (a transaction's reserve) too", () =>
    Effect.gen(function*() {
      expect(yield* caught(Database.transaction(UserRepo.find(1)), undefined, { acquire: down })).toBe(expected)
      expect(yield* caught(UserRepo.update(1, { status: "x" }), undefined, { acquire: down })).toBe(expected)
    }))

  it.effect("each of the five, through a read and a write", () =>
    Effect.gen(function*() {
      const errors = [
        down,
        new PoolExhausted({ node: "primary", limit: 4 }),
        new NoHealthyReplica({ replicas: ["replica-1"] }),
        new FallbackCapacityExceeded({ limit: 8 }),
        new WriteOutcomeUnknown({ node: "primary" })
      ]
      for (const error of errors) {
        const operations: Array<Effect.Effect<unknown, AnyError, ReadConnection | WriteConnection>> = [
          UserRepo.find(1),
          UserRepo.delete(1)
        ]
        for (const operation of operations) {
          const seen = yield* Effect.flip(failing(operation, error))
          expect(seen).toBe(error)
        }
      }
    }))

  it.effect("a server's own error stays a SqlError; raw sql keeps the SqlError around a connection error", () =>
    Effect.gen(function*() {
      const refused = Object.assign(new Error("duplicate key"), { code: "23505" })
      const error = yield* Effect.flip(
        failing(UserRepo.create({ name: "a", email: "b", status: "c", age: null }), refused)
      )
      expect(error._tag).toBe("SqlError")
      const raw = yield* Effect.flip(failing(Effect.flatMap(ReadConnection, (sql) => sql`SELECT 1`), down))
      expect(raw._tag).toBe("SqlError")
      expect(connectionErrorOf(raw)).toEqual(Option.some(down))
      expect(yield* Effect.flip(liftConnectionErrors(Effect.fail(raw)))).toBe(down)
    }))

  it("connectionErrorToSqlError / connectionErrorOf round-trip, and only the five tags are lifted", () => {
    const wrapped = connectionErrorToSqlError(down)
    expect(wrapped.message).toBe(down.message)
    expect(connectionErrorOf(wrapped)).toEqual(Option.some(down))
    expect(connectionErrorOf(new SqlError({ cause: { _tag: "SomethingElse" } }))).toEqual(Option.none())
    expect(connectionErrorOf(down)).toEqual(Option.none())
    expect(connectionErrorOf(undefined)).toEqual(Option.none())
  })
})
