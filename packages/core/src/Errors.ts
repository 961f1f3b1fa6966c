/**
 * Typed errors of @fastorm/core. None of them carries a password or a bound value: they name the column, the
 * operator or the kind of value, never the value itself (values may be secrets or personal data).
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** A table or column name that is not a safe SQL identifier (`/^[A-Za-z_][A-Za-z0-9_]*$/`, at most 63 bytes). */
export class InvalidIdentifier extends Data.TaggedError("InvalidIdentifier")<{
  readonly kind: "table" | "column"
  readonly identifier: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid ${this.kind} identifier ${JSON.stringify(truncate(this.identifier))}: ${this.reason}`
  }
}

/** A column that is not a field of the model (or not a safe identifier). */
export class InvalidColumn extends Data.TaggedError("InvalidColumn")<{
  readonly table: string
  readonly column: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid column ${JSON.stringify(truncate(this.column))} for table ${this.table}: ${this.reason}`
  }
}

/** An operator outside the fixed set accepted by the query builder. */
export class InvalidOperator extends Data.TaggedError("InvalidOperator")<{
  readonly operator: string
}> {
  override get message(): string {
    return `Invalid operator ${JSON.stringify(truncate(this.operator))}`
  }
}

/** A value that cannot be bound as a parameter (objects, arrays, functions, non-finite numbers, ...). */
export class InvalidValue extends Data.TaggedError("InvalidValue")<{
  readonly column: string
  /** What kind of value was given, e.g. "object", "function", "NaN"; never the value itself. */
  readonly received: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid value for ${this.column} (${this.received}): ${this.reason}`
  }
}

/** A LIMIT or OFFSET that is not a non-negative safe integer, or a page number or size below 1. */
export class InvalidLimit extends Data.TaggedError("InvalidLimit")<{
  readonly kind: "limit" | "offset" | "page" | "perPage"
  readonly value: unknown
  /** The smallest value accepted; 0 when absent. */
  readonly minimum?: number | undefined
}> {
  override get message(): string {
    const expected = (this.minimum ?? 0) === 0 ? "a non-negative safe integer" : `a safe integer >= ${this.minimum}`
    return `Invalid ${this.kind}: expected ${expected}, got ${String(this.value)}`
  }
}

/**
 * A query that cannot run as asked, e.g. an update or delete without any condition (call `.all()` to mean every
 * row), or a limit where the method sets its own. Raised before any SQL is sent.
 */
export class InvalidQuery extends Data.TaggedError("InvalidQuery")<{
  readonly table: string
  readonly operation: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid ${this.operation} on ${this.table}: ${this.reason}`
  }
}

/**
 * A relation declared with keys that are not columns of its models (or not safe identifiers), or a `with(...)` that
 * names no declared relation. Reported by every eager load that uses it, before any SQL is sent.
 */
export class InvalidRelation extends Data.TaggedError("InvalidRelation")<{
  readonly model: string
  readonly relation: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid relation ${this.model}.${this.relation}: ${this.reason}`
  }
}

/**
 * A pagination cursor that this query did not make: altered, truncated, made by another query (another table or
 * order), or holding values the order columns cannot take. Its text is never repeated in the error.
 */
export class InvalidCursor extends Data.TaggedError("InvalidCursor")<{
  readonly table: string
  readonly reason: string
}> {
  override get message(): string {
    return `Invalid cursor for ${this.table}: ${this.reason}`
  }
}

/** `findOrFail` / `update` found no row with that id. */
export class ModelNotFound extends Data.TaggedError("ModelNotFound")<{
  readonly model: string
  readonly table: string
  readonly id: unknown
}> {
  override get message(): string {
    return `${this.model} not found in ${this.table} (id ${String(this.id)})`
  }
}

/**
 * The primary's answer to COMMIT never arrived (connection lost or reset while committing): the transaction may or
 * may not have been applied. Never retried automatically, because a retry could apply the work twice.
 */
export class TransactionOutcomeUnknown extends Data.TaggedError("TransactionOutcomeUnknown")<{
  readonly cause: SqlError
  /** The node's alias when the client knows it. */
  readonly alias?: string | undefined
}> {
  override get message(): string {
    return `Transaction outcome unknown: the connection failed during COMMIT${
      this.alias !== undefined ? ` on ${this.alias}` : ""
    }`
  }
}

/**
 * `WriteOnly` is set (inside `Database.transaction` or `Database.forceWrite`) but no `WriteConnection` is in the
 * context, so a read that must run on the primary has nowhere to go. Reads never fall back to a replica then.
 */
export class MissingWriteConnection extends Data.TaggedError("MissingWriteConnection")<{
  readonly operation: string
}> {
  override get message(): string {
    return `${this.operation} must run on the primary (WriteOnly is set) but no WriteConnection was provided`
  }
}

// ---- connection errors ------------------------------------------------------------------------------------------
// The failures a `ReadConnection` / `WriteConnection` can report besides the server's own errors. The connections
// are @effect/sql clients, whose error channel is `SqlError`, so these travel as a `SqlError`'s `cause`;
// repositories, queries and `Database.transaction` lift them out (ARCHITECTURE.md, "Errors").

/**
 * The primary could not be reached: the connection could not be made, the login was refused, or the socket was
 * already dead when the statement was written. The statement was not applied.
 */
export class PrimaryUnavailable extends Data.TaggedError("PrimaryUnavailable")<{
  readonly node: string
  /** What happened, e.g. "connection refused (ECONNREFUSED) after 77 ms". */
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `The primary "${this.node}" is unavailable: ${this.reason}`
  }
}

/**
 * Every connection of the primary's pool is busy and none came free within `connectTimeout`, or the connection pooler
 * in front of it had none free (`reason` says what it answered); the server is fine, and nothing was run.
 */
export class PoolExhausted extends Data.TaggedError("PoolExhausted")<{
  readonly node: string
  readonly limit: number
  /** What the connection pooler in front of the node answered, when it was the pooler that had none free. */
  readonly reason?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.reason === undefined
      ? `All ${this.limit} connections to "${this.node}" are busy and none came free in time`
      : `The connection pooler in front of "${this.node}" had no connection free: ${this.reason}`
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

/** Every failure a connection can report besides the server's own errors. */
export type ConnectionError =
  | PrimaryUnavailable
  | PoolExhausted
  | NoHealthyReplica
  | FallbackCapacityExceeded
  | WriteOutcomeUnknown

const tags: ReadonlySet<string> = new Set([
  "PrimaryUnavailable",
  "PoolExhausted",
  "NoHealthyReplica",
  "FallbackCapacityExceeded",
  "WriteOutcomeUnknown"
])

/** Wraps a connection error for the @effect/sql error channel. */
export const connectionErrorToSqlError = (error: ConnectionError): SqlError =>
  new SqlError({ message: error.message, cause: error })

const wrapped = (error: unknown): ConnectionError | undefined => {
  const e = error as { readonly _tag?: unknown; readonly cause?: { readonly _tag?: unknown } } | undefined
  return e?._tag === "SqlError" && typeof e.cause?._tag === "string" && tags.has(e.cause._tag)
    ? e.cause as ConnectionError
    : undefined
}

/** The connection error inside a `SqlError`, if there is one. */
export const connectionErrorOf = (error: unknown): Option.Option<ConnectionError> => Option.fromNullable(wrapped(error))

/**
 * Lifts connection errors out of `SqlError`s into the error channel, so `Effect.catchTag("PrimaryUnavailable")`
 * works; repositories, queries and `Database.transaction` do it themselves, raw `sql` needs it.
 */
export const liftConnectionErrors = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | ConnectionError, R> => Effect.catchIf(effect, isWrapped, failLifted)

// Allocated once: the lift wraps every repository statement.
const isWrapped = (error: unknown): boolean => wrapped(error) !== undefined
const failLifted = (error: unknown): Effect.Effect<never, ConnectionError> => Effect.fail(wrapped(error)!)

/** Any validation failure raised before SQL is sent. */
export type ValidationError =
  | InvalidIdentifier
  | InvalidColumn
  | InvalidOperator
  | InvalidValue
  | InvalidLimit
  | InvalidQuery
  | InvalidRelation

const truncate = (s: string): string => s.length > 80 ? s.slice(0, 80) + "…" : s
