import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { ReadConnection, WriteConnection, WriteOnly } from "../src/Connections.js"
import * as Database from "../src/Database.js"
import { fakeClient, UserRepo } from "./fixtures.js"

const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })

describe("Database.transaction", () => {
  it.effect("a COMMIT that loses its connection fails with TransactionOutcomeUnknown, not a defect", () =>
    Effect.gen(function*() {
      const { client, log } = yield* fakeClient((sql) => sql === "COMMIT" ? reset : undefined)
      const exit = yield* Effect.exit(
        Database.transaction(client`INSERT INTO t VALUES (1)`).pipe(Effect.provideService(WriteConnection, client))
      )
      expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause)).toBe(true)
      const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) as any : undefined
      expect(error._tag).toBe("TransactionOutcomeUnknown")
      expect(error.cause._tag).toBe("SqlError")
      // Never retried.
      expect(log).toEqual(["BEGIN IMMEDIATE", "INSERT INTO t VALUES (1)", "COMMIT"])
    }))

  it.effect("a COMMIT the server refuses is a plain SqlError (the transaction is rolled back)", () =>
    Effect.gen(function*() {
      const refused = Object.assign(new Error("could not serialize access"), { code: "40001" })
      const { client } = yield* fakeClient((sql) => sql === "COMMIT" ? refused : undefined)
      const error = yield* Effect.flip(
        Database.transaction(client`SELECT 1`).pipe(Effect.provideService(WriteConnection, client))
      )
      expect(error._tag).toBe("SqlError")
    }))

  it.effect("a failing ROLLBACK keeps the original failure first and adds its own", () =>
    Effect.gen(function*() {
      const { client } = yield* fakeClient((sql) => sql === "ROLLBACK" ? reset : undefined)
      const exit = yield* Effect.exit(
        Database.transaction(Effect.fail("original" as const)).pipe(Effect.provideService(WriteConnection, client))
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const failures = [...Cause.failures(exit.cause)]
        expect(failures[0]).toBe("original")
        expect((failures[1] as SqlError)._tag).toBe("SqlError")
      }
    }))

  it.effect("nested transactions use fresh savepoint names, released on success, rolled back on failure", () =>
    Effect.gen(function*() {
      const { client, log } = yield* fakeClient(() => undefined)
      yield* Database.transaction(Effect.gen(function*() {
        yield* Database.transaction(client`SELECT 1`)
        yield* Effect.either(Database.transaction(Effect.fail("x")))
        expect(yield* WriteOnly).toBe(true)
        expect(yield* Database.inTransaction).toBe(true)
      })).pipe(Effect.provideService(WriteConnection, client))
      const names = log.filter((s) => s.startsWith("SAVEPOINT")).map((s) => s.split(" ")[1])
      expect(new Set(names).size).toBe(2)
      expect(log.map((s) => s.replace(/fastorm_sp_\d+/, "sp"))).toEqual([
        "BEGIN IMMEDIATE",
        "SAVEPOINT sp",
        "SELECT 1",
        "RELEASE SAVEPOINT sp",
        "SAVEPOINT sp",
        "ROLLBACK TO SAVEPOINT sp",
        "RELEASE SAVEPOINT sp",
        "COMMIT"
      ])
    }))

  it.effect("sibling nested transactions are serialised: their statements never interleave", () =>
    Effect.gen(function*() {
      const { client, log } = yield* fakeClient(() => undefined)
      const child = (n: number) =>
        Database.transaction(Effect.gen(function*() {
          yield* client.unsafe(`SELECT ${n}`)
          yield* Effect.repeatN(Effect.yieldNow(), 10)
          yield* client.unsafe(`SELECT ${n}`)
        }))
      yield* Database.transaction(
        Effect.all([child(1), child(2), child(3)], { concurrency: "unbounded", discard: true })
      ).pipe(Effect.provideService(WriteConnection, client))
      const body = log.slice(1, -1).map((s) => s.replace(/fastorm_sp_\d+/, "sp"))
      for (let i = 0; i < 3; i++) {
        const group = body.slice(i * 4, i * 4 + 4)
        expect(group[0]).toBe("SAVEPOINT sp")
        expect(group[1]).toBe(group[2])
        expect(group[3]).toBe("RELEASE SAVEPOINT sp")
      }
    }))

  it.effect("the caller's context comes back after every outcome; FiberRef changes made inside stay, as with provide", () =>
    Effect.gen(function*() {
      const { client } = yield* fakeClient((sql) => sql === "COMMIT" ? reset : undefined)
      const { client: healthy } = yield* fakeClient(() => undefined)
      const annotation = FiberRef.unsafeMake(0)
      const outside = Effect.all([
        Effect.serviceOption(SqlClient.TransactionConnection),
        WriteOnly,
        Database.inTransaction,
        FiberRef.get(annotation)
      ])
      const before = yield* outside
      // Committed, with no FiberRef change inside: the caller's refs come back whole.
      yield* Database.transaction(healthy`SELECT 1`).pipe(Effect.provideService(WriteConnection, healthy))
      expect(yield* outside).toEqual(before)
      // Failed inside, and a lost COMMIT.
      yield* Effect.exit(Database.transaction(Effect.fail("x")).pipe(Effect.provideService(WriteConnection, healthy)))
      yield* Effect.exit(Database.transaction(client`SELECT 1`).pipe(Effect.provideService(WriteConnection, client)))
      expect(yield* outside).toEqual(before)
      // A FiberRef set inside outlives the transaction, as it does an Effect.provide.
      yield* Database.transaction(FiberRef.set(annotation, 7)).pipe(Effect.provideService(WriteConnection, healthy))
      expect(yield* outside).toEqual([Option.none(), false, false, 7])
    }))

  it.effect("a read under WriteOnly without a WriteConnection fails with MissingWriteConnection", () =>
    Effect.gen(function*() {
      const { client, log } = yield* fakeClient(() => undefined)
      const error = yield* Effect.flip(
        // WriteOnly set by hand: Database.forceWrite's type already asks for a WriteConnection.
        UserRepo.find(1).pipe(Effect.provideService(WriteOnly, true), Effect.provideService(ReadConnection, client))
      )
      expect(error._tag).toBe("MissingWriteConnection")
      expect(log).toEqual([])
      // Without WriteOnly the same read goes to ReadConnection.
      yield* UserRepo.find(1).pipe(Effect.provideService(ReadConnection, client))
      expect(log).toHaveLength(1)
    }))
})
