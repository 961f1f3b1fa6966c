/**
 * The router's typed errors. Statements travel through @effect/sql, whose error channel is `SqlError`, so a
 * router error reaches the caller as the `cause` of a `SqlError`; `refine` lifts it into the error channel.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** The primary could not be reached within the deadline. The statement was not applied. */
export class PrimaryUnavailable extends Data.TaggedError("PrimaryUnavailable")<{
  readonly node: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `The primary "${this.node}" is unavailable: ${this.reason}`
  }
}

/** Every connection of the primary's pool is busy and none came free within `connectTimeout`; the server is fine. */
export class PoolExhausted extends Data.TaggedError("PoolExhausted")<{
  readonly node: string
  readonly limit: number
  readonly cause?: unknown
}> {
  override get message(): string {
    return `All ${this.limit} connections to "${this.node}" are busy and none came free in time`
  }
}

/** `readPreference: "replicaOnly"` and no replica can serve the read. */
export class NoHealthyReplica extends Data.TaggedError("NoHealthyReplica")<{
  readonly replicas: ReadonlyArray<string>
}> {
  override get message(): string {
    return `No healthy replica can serve the read (replicas: ${this.replicas.join(", ") || "none configured"})`
  }
}

/** Every replica is out and the primary already serves `limit` fallback reads; this one waited its bound. */
export class FallbackCapacityExceeded extends Data.TaggedError("FallbackCapacityExceeded")<{
  readonly limit: number
}> {
  override get message(): string {
    return `No replica can serve the read and the primary already serves ${this.limit} fallback reads`
  }
}

/** The connection broke after the statement was sent: it may or may not have been applied. Never retried. */
export class WriteOutcomeUnknown extends Data.TaggedError("WriteOutcomeUnknown")<{
  readonly node: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `The connection to "${this.node}" broke after a write was sent: it may or may not have been applied`
  }
}

/** A session token string that FastORM did not issue. */
export class InvalidSessionToken extends Data.TaggedError("InvalidSessionToken")<{}> {
  override get message(): string {
    return "Invalid FastORM session token"
  }
}

/** The errors the router may put in a `SqlError`'s cause. */
export type RouterError =
  | PrimaryUnavailable
  | PoolExhausted
  | NoHealthyReplica
  | FallbackCapacityExceeded
  | WriteOutcomeUnknown

const routerTags = new Set([
  "PrimaryUnavailable",
  "PoolExhausted",
  "NoHealthyReplica",
  "FallbackCapacityExceeded",
  "WriteOutcomeUnknown"
])

/** Wraps a router error for the @effect/sql error channel. */
export const toSqlError = (error: RouterError): SqlError => new SqlError({ message: error.message, cause: error })

/** The router error inside a `SqlError`, if there is one. */
export const fromSqlError = (error: unknown): Option.Option<RouterError> => {
  const cause = error as { readonly _tag?: unknown; readonly cause?: { readonly _tag?: unknown } } | undefined
  if (cause?._tag === "SqlError" && typeof cause.cause?._tag === "string" && routerTags.has(cause.cause._tag)) {
    return Option.some(cause.cause as RouterError)
  }
  return Option.none()
}

/** Lifts router errors out of `SqlError`s into the error channel, so `Effect.catchTag("PrimaryUnavailable")` works. */
export const refine = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | RouterError, R> =>
  Effect.catchIf(
    effect,
    (error): error is E => Option.isSome(fromSqlError(error)),
    (error) => Effect.fail(Option.getOrThrow(fromSqlError(error)))
  )
