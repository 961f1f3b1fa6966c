/**
 * Waiting for a primary (ARCHITECTURE.md, "Waiting for a primary"): with `primaryWaitTimeout` set, a statement that
 * found no primary, or whose primary refused it before running it, is decided again after a pause, until a primary
 * takes it or the wait is over. Only failures that sent nothing, or a read whose connection died, are retried (a
 * `PrimaryUnavailable`); a write whose outcome is unknown (`WriteOutcomeUnknown`) never is.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { fromSqlError } from "../RouterError.js"

/** The first pause between two attempts; each next one doubles, up to `MAX_PAUSE_MS`. */
export const FIRST_PAUSE_MS = 25
/** The longest pause: a primary that appears is used within it (and within the monitor's probe interval). */
export const MAX_PAUSE_MS = 250

/** The pause before attempt `attempt + 1` (0 after the first failure), or undefined when the wait is over. */
export const nextPause = (attempt: number, now: number, deadline: number): number | undefined =>
  now >= deadline ? undefined : Math.min(FIRST_PAUSE_MS * 2 ** attempt, MAX_PAUSE_MS, deadline - now)

/** Whether a failure is one a new primary may end: nothing was sent, or a read lost its connection. */
export const waitsFor = (error: SqlError): boolean => {
  const routerError = fromSqlError(error)
  return Option.isSome(routerError) && routerError.value._tag === "PrimaryUnavailable"
}

/** Runs a statement (or a placement, an acquisition) again while it finds no primary, for up to the wait. */
export type Around = <A, R>(attempt: Effect.Effect<A, SqlError, R>) => Effect.Effect<A, SqlError, R>

/** The wait of `timeout`; undefined when it is zero (the default: fail at once, and the hot path is untouched). */
export const make = (timeout: Duration.Duration): Around | undefined => {
  const millis = Duration.toMillis(timeout)
  if (!(millis > 0)) return undefined
  return <A, R>(attempt: Effect.Effect<A, SqlError, R>) =>
    Effect.suspend(() => {
      const deadline = Date.now() + millis
      const from = (n: number): Effect.Effect<A, SqlError, R> =>
        Effect.catchIf(attempt, waitsFor, (error) => {
          const pause = nextPause(n, Date.now(), deadline)
          return pause === undefined ? Effect.fail(error) : Effect.zipRight(Effect.sleep(pause), from(n + 1))
        })
      return from(0)
    })
}

/** The wait, but not for a statement inside a transaction: it runs on the transaction's connection or not at all. */
export const outsideTransactions = (around: Around | undefined): Around | undefined => {
  if (around === undefined) return undefined
  return <A, R>(attempt: Effect.Effect<A, SqlError, R>) =>
    Effect.withFiberRuntime<A, SqlError, R>((fiber) =>
      Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)._tag === "Some"
        ? attempt
        : around(attempt)
    )
}
