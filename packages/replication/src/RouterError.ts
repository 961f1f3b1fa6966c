/**
 * The router's typed errors. They are core's connection errors (`ConnectionError` in @fastorm/core), the very same
 * classes: statements travel through @effect/sql, whose error channel is `SqlError`, so the router puts them in a
 * `SqlError`'s `cause`; repositories, queries and `Database.transaction` lift them out, and `refine` does the same
 * for raw `sql`.
 */
import type { ConnectionError } from "@fastorm/core"
import { connectionErrorOf, connectionErrorToSqlError, liftConnectionErrors } from "@fastorm/core"
import * as Data from "effect/Data"

/** Core's connection errors: the router reports exactly these. */
export {
  FallbackCapacityExceeded,
  NoHealthyReplica,
  PoolExhausted,
  PrimaryUnavailable,
  WriteOutcomeUnknown
} from "@fastorm/core"

/** A session token string that FastORM did not issue. */
export class InvalidSessionToken extends Data.TaggedError("InvalidSessionToken")<{}> {
  override get message(): string {
    return "Invalid FastORM session token"
  }
}

/** The errors the router may put in a `SqlError`'s cause. */
export type RouterError = ConnectionError

/** Wraps a router error for the @effect/sql error channel. */
export const toSqlError = connectionErrorToSqlError

/** The router error inside a `SqlError`, if there is one. */
export const fromSqlError = connectionErrorOf

/** Lifts router errors out of `SqlError`s into the error channel, so `Effect.catchTag("PrimaryUnavailable")` works. */
export const refine = liftConnectionErrors
