import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import * as Effect from "effect/Effect"
import type Pg from "pg"
import type { Run } from "../src/internal/pgPrepared.js"
import { keepsNameLater, make, triesAgain } from "../src/internal/pgPrepared.js"

describe("a transaction's later statement keeps its name only where nothing can refuse it (keepsNameLater)", () => {
  it.each(
    [
      ["an update, direct", "UPDATE t SET a = $1 WHERE id = $2", true, "auto", true],
      ["a delete, direct", "DELETE FROM t WHERE id = $1", true, "auto", true],
      ["an insert, direct, lower case and indented", "  insert into t (a) values ($1)", true, "auto", true],
      ["an update returning rows", "UPDATE t SET a = $1 WHERE id = $2 RETURNING *", true, "auto", false],
      ["an insert returning rows", "INSERT INTO t (a) VALUES ($1) returning id", true, "auto", false],
      ["a read", "SELECT * FROM t WHERE id = $1", true, "auto", false],
      ["a write in a WITH", "WITH x AS (SELECT 1) UPDATE t SET a = 1", true, "auto", false],
      ["an update, not known direct", "UPDATE t SET a = $1 WHERE id = $2", false, "auto", false],
      ["an update, through a pooler said to keep names", "UPDATE t SET a = $1 WHERE id = $2", false, true, true],
      ["an update, never prepared", "UPDATE t SET a = $1 WHERE id = $2", false, false, false],
      ["a read through a pooler said to keep names", "SELECT * FROM t WHERE id = $1", false, true, false]
    ] as const
  )("%s", (_, sql, direct, setting, keeps) => {
    expect(keepsNameLater(sql, direct, setting)).toBe(keeps)
  })
})

/** A server that refuses the statements named in `refusing` with `code`, and unnamed ones when `unnamedFails`. */
const scripted = (refusing: ReadonlySet<string>, code: string, unnamedFails: boolean) => {
  const sent: Array<string> = []
  const run: Run = (query, map) =>
    Effect.suspend(() => {
      sent.push(query.name ?? "(unnamed)")
      const refused = query.name === undefined ? unnamedFails : refusing.has(query.name)
      return refused
        ? Effect.fail(new SqlError({ message: "Failed to execute statement", cause: { code } }))
        : Effect.succeed(map({ rows: [] }))
    })
  return { run, sent }
}

const statement = CompiledStatement.make("UPDATE t SET n = $1 WHERE id = $2")

describe("a named statement refused with a code that stale parameter types give (make)", () => {
  it.effect.each(["22003", "22P02", "42804", "42883", "42725"])(
    "%s: run again unnamed; the next run takes a new name",
    (code) =>
      Effect.gen(function*() {
        const prepared = make(true, () => false)
        const server = scripted(new Set([statement.name]), code, false)
        yield* prepared.run(server.run, statement, [1, 1], () => "ok")
        yield* prepared.run(server.run, statement, [1, 1], () => "ok")
        expect(server.sent).toEqual([statement.name, "(unnamed)", `${statement.name}_1`])
        expect(triesAgain(new SqlError({ message: "", cause: { code } }))).toBe(true)
      })
  )

  it.effect("unnamed it fails too: bad input, the server's error, and the name stays", () =>
    Effect.gen(function*() {
      const prepared = make(true, () => false)
      const server = scripted(new Set([statement.name]), "22P02", true)
      const error = yield* Effect.flip(prepared.run(server.run, statement, [1, 1], () => "ok"))
      expect((error.cause as { code: string }).code).toBe("22P02")
      yield* Effect.flip(prepared.run(server.run, statement, [1, 1], () => "ok"))
      expect(server.sent).toEqual([statement.name, "(unnamed)", statement.name, "(unnamed)"])
    }))

  it.effect("inside an open transaction: no retry, the server's error; the next run goes unnamed, then under a new name", () =>
    Effect.gen(function*() {
      const prepared = make(true, () => false)
      const server = scripted(new Set([statement.name]), "22003", false)
      // A transaction's connection: a failure aborts it, the statement sent under its name when it had one.
      let named = false
      const inTransaction: Run = Object.assign(<A>(query: Pg.QueryConfig, map: (result: any) => A) => {
        named = query.name !== undefined
        return server.run(query, map)
      }, { afterFailure: () => named ? "named" as const : "unnamed" as const })
      const error = yield* Effect.flip(prepared.run(inTransaction, statement, [1, 1], () => "ok"))
      expect((error.cause as { code: string }).code).toBe("22003")
      expect(server.sent).toEqual([statement.name])
      yield* prepared.run(inTransaction, statement, [1, 1], () => "ok")
      yield* prepared.run(inTransaction, statement, [1, 1], () => "ok")
      expect(server.sent).toEqual([statement.name, "(unnamed)", `${statement.name}_1`])
    }))

  it.effect("a statement without parameters: its failure is its own, no retry", () =>
    Effect.gen(function*() {
      const prepared = make(true, () => false)
      const bare = CompiledStatement.make("INSERT INTO t (n) SELECT n * 1000000000 FROM t")
      const server = scripted(new Set([bare.name]), "22003", false)
      const error = yield* Effect.flip(prepared.run(server.run, bare, [], () => "ok"))
      expect((error.cause as { code: string }).code).toBe("22003")
      yield* Effect.flip(prepared.run(server.run, bare, [], () => "ok"))
      expect(server.sent).toEqual([bare.name, bare.name])
    }))

  it.effect("two statements of one transaction: each failure is answered for its own statement", () =>
    Effect.gen(function*() {
      const prepared = make(true, () => false)
      const read = CompiledStatement.make("SELECT n FROM t WHERE id = $1")
      const server = scripted(new Set([statement.name, read.name]), "22003", false)
      // As a transaction's connection decides: the write went under its name, the read without one.
      const inTransaction: Run = Object.assign(
        <A>(query: Pg.QueryConfig, map: (result: any) => A) => server.run(query, map),
        {
          afterFailure: (sql: string) => sql === statement.sql ? "named" as const : "unnamed" as const
        }
      )
      yield* Effect.flip(prepared.run(inTransaction, statement, [1, 1], () => "ok"))
      yield* Effect.flip(prepared.run(inTransaction, read, [1], () => "ok"))
      server.sent.length = 0
      yield* prepared.run(server.run, read, [1], () => "ok")
      yield* prepared.run(server.run, statement, [1, 1], () => "ok")
      // The read is no suspect: under its name first (refused, then run unnamed as outside any transaction); the write
      // is one: unnamed at once.
      expect(server.sent).toEqual([read.name, "(unnamed)", "(unnamed)"])
    }))

  it.effect.each(["23505", "42P01", "40001", "57014"])(
    "%s is the statement's own failure: no retry",
    (code) =>
      Effect.gen(function*() {
        const prepared = make(true, () => false)
        const server = scripted(new Set([statement.name]), code, false)
        yield* Effect.flip(prepared.run(server.run, statement, [1, 1], () => "ok"))
        expect(server.sent).toEqual([statement.name])
        expect(triesAgain(new SqlError({ message: "", cause: { code } }))).toBe(false)
      })
  )
})
