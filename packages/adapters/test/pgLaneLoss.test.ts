/**
 * A pipelined connection's lost socket, as its statements' failures say it: pg hands every statement in flight the
 * socket's one error, so a write's EPIPE on a lane must not read as "never sent" for a statement that may have run
 * (`pgLanes.ts` `sharedLoss`). No server: pg's reply is a fake target's.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import Pg from "pg"
import { settle } from "../src/internal/deadline.js"
import { sharedLoss } from "../src/internal/pgLanes.js"
import type { Target } from "../src/internal/pgSubmit.js"
import { submitWithin } from "../src/internal/pgSubmit.js"

const withCode = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields)

const epipe = withCode("write EPIPE", { code: "EPIPE", syscall: "write", errno: -32 })
const resetOnWrite = withCode("write ECONNRESET", { code: "ECONNRESET", syscall: "write" })

describe("sharedLoss", () => {
  it.each([
    ["a write's EPIPE", epipe, "EPIPE"],
    ["a reset met by a write", resetOnWrite, "ECONNRESET"]
  ])("%s becomes a lost connection that may have run, the socket's error beside it", (_, error, named) => {
    const lost = sharedLoss(error) as Error & { code?: unknown; syscall?: unknown; socketError?: unknown }
    expect(lost).not.toBe(error)
    expect([lost.code, lost.syscall, lost.cause, lost.socketError]).toEqual(["ECONNRESET", undefined, undefined, error])
    expect(lost.message).toContain(named)
    expect(lost.message).toContain("may have run")
  })

  it.each([
    ["a reset while reading", withCode("read ECONNRESET", { code: "ECONNRESET", syscall: "read" })],
    ["a connection ended", new Error("Connection terminated unexpectedly")],
    [
      "pg's refusal on a broken connection (never sent)",
      new Error("Client has encountered a connection error and is not queryable")
    ],
    ["a server's own answer", withCode("terminating connection due to administrator command", { code: "57P01" })]
  ])("%s stays as it is", (_, error) => {
    expect(sharedLoss(error)).toBe(error)
  })
})

/** The failure `submitWithin` resumes with when pg replies `error`, with or without the lanes' `causeOf`. */
const failureOf = (error: Error, causeOf?: (error: Error) => unknown) =>
  Effect.gen(function*() {
    const target: Target = { query: (_query, reply) => reply(error, undefined) }
    let outcome: Effect.Effect<unknown, SqlError> | undefined
    const within = { alias: "primary", deadlineMs: 1_000, guard: settle(), Query: Pg.Query }
    const timer = submitWithin(
      target,
      { text: "INSERT INTO t VALUES ($1)", values: [1] },
      (result) => result,
      causeOf === undefined ? within : { ...within, causeOf },
      (o) => {
        outcome = o
      },
      () => {}
    )
    clearTimeout(timer)
    const exit = yield* Effect.exit(outcome!)
    if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") throw new Error("expected a failure")
    return exit.cause.error.cause
  })

describe("a statement's failure on a lane", () => {
  it.effect("carries the lost connection, not the socket's EPIPE", () =>
    Effect.gen(function*() {
      expect(yield* failureOf(epipe, sharedLoss)).toMatchObject({ code: "ECONNRESET", socketError: epipe })
      // Off a lane (one statement per connection) the EPIPE is the statement's own, and says it was never sent.
      expect(yield* failureOf(epipe)).toBe(epipe)
    }))
})
