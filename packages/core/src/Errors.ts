/**
 * Typed errors of @fastorm/core. None of them carries a password or a bound value: they name the column, the
 * operator or the kind of value, never the value itself (values may be secrets or personal data).
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Data from "effect/Data"

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

/** A LIMIT or OFFSET that is not a non-negative safe integer. */
export class InvalidLimit extends Data.TaggedError("InvalidLimit")<{
  readonly kind: "limit" | "offset"
  readonly value: unknown
}> {
  override get message(): string {
    return `Invalid ${this.kind}: expected a non-negative safe integer, got ${String(this.value)}`
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

/** Any validation failure raised before SQL is sent. */
export type ValidationError = InvalidIdentifier | InvalidColumn | InvalidOperator | InvalidValue | InvalidLimit

const truncate = (s: string): string => s.length > 80 ? s.slice(0, 80) + "…" : s
