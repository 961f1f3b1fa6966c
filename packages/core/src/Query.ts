/**
 * The immutable query builder started by `Repository.where(...)` / `Repository.query()`.
 */
import type * as Model from "@effect/sql/Model"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import type { ReadConnection, WriteConnection } from "./Connections.js"
import type { ConnectionError, MissingWriteConnection, ValidationError } from "./Errors.js"
import { InvalidValue } from "./Errors.js"
import type { Condition, QueryState } from "./internal/engine.js"
import * as engine from "./internal/engine.js"
import * as validation from "./internal/validation.js"

/** The column names of a model: the fields of its select variant. */
export type Columns<S extends Model.AnyNoContext> = Extract<keyof S["fields"], string>

/** The comparison operators accepted by `where` / `orWhere`. */
export type Operator = validation.Operator

/** The operators accepted at run time (strings from outside are checked against this list). */
export const operators: ReadonlyArray<Operator> = validation.operators

/** A value that can be bound as a parameter: primitives, Date, Buffer/Uint8Array, bigint or null. */
export type Value = validation.Value

/** ORDER BY direction. */
export type Direction = "asc" | "desc"

/**
 * Every error a query can fail with; validation errors are raised before any SQL is sent, and a `ConnectionError`
 * (e.g. `NoHealthyReplica`) arrives by its own tag, not inside `SqlError`.
 */
export type QueryError = ValidationError | SqlError | ParseError | MissingWriteConnection | ConnectionError

/** An immutable query over a model's table; `R` is the connection it needs. */
export interface Query<S extends Model.AnyNoContext, R> {
  /** `column = value` (`IS NULL` for null), joined with AND. */
  where(column: Columns<S>, value: Value): Query<S, R>
  /** `column <operator> value`, joined with AND. */
  where(column: Columns<S>, operator: Operator, value: Value): Query<S, R>
  /** `column = value`, joined with OR (SQL precedence: AND binds tighter). */
  orWhere(column: Columns<S>, value: Value): Query<S, R>
  /** `column <operator> value`, joined with OR. */
  orWhere(column: Columns<S>, operator: Operator, value: Value): Query<S, R>
  /** `column IN (...)`; an empty list matches nothing. */
  whereIn(column: Columns<S>, values: ReadonlyArray<Value>): Query<S, R>
  /** `column NOT IN (...)`; an empty list matches everything; null in the list is refused (it matches nothing). */
  whereNotIn(column: Columns<S>, values: ReadonlyArray<Value>): Query<S, R>
  /** `column IS NULL`. */
  whereNull(column: Columns<S>): Query<S, R>
  /** `column IS NOT NULL`. */
  whereNotNull(column: Columns<S>): Query<S, R>
  /** Adds an ORDER BY term. */
  orderBy(column: Columns<S>, direction?: Direction): Query<S, R>
  /** LIMIT: a non-negative safe integer. */
  limit(count: number): Query<S, R>
  /** OFFSET: a non-negative safe integer. */
  offset(count: number): Query<S, R>
  /** Runs on the primary with WriteOnly set (read-your-own-writes). */
  forceWrite(): Query<S, WriteConnection>
  /** `SELECT ... FOR UPDATE` on the primary (no-op lock on SQLite, whose transactions here begin IMMEDIATE). */
  lockForUpdate(): Query<S, WriteConnection>
  /** All matching rows. */
  get(): Effect.Effect<ReadonlyArray<S["Type"]>, QueryError, R>
  /** The first matching row (in the query's order). */
  first(): Effect.Effect<Option.Option<S["Type"]>, QueryError, R>
  /** How many rows match (honouring limit/offset). */
  count(): Effect.Effect<number, QueryError, R>
  /** Whether any row matches. */
  exists(): Effect.Effect<boolean, QueryError, R>
}

class QueryImpl {
  constructor(readonly state: QueryState) {}

  private next(patch: Partial<QueryState>): QueryImpl {
    return new QueryImpl({ ...this.state, ...patch })
  }

  /** Keeps the first error; the query stays buildable and fails when run. */
  private fail(error: ValidationError): QueryImpl {
    return this.state.error !== undefined ? this : this.next({ error })
  }

  private column(column: unknown): Either.Either<string, ValidationError> {
    return validation.checkColumn(this.state.info.table, this.state.info.columns, column)
  }

  private compare(connector: "AND" | "OR", args: ReadonlyArray<unknown>): QueryImpl {
    const [column, operatorArg, valueArg] = args.length >= 3 ? args : [args[0], "=", args[1]]
    const checked = Either.all([
      this.column(column),
      validation.checkOperator(operatorArg),
      validation.checkValue(String(column), valueArg)
    ])
    if (Either.isLeft(checked)) return this.fail(checked.left)
    const [name, operator, value] = checked.right
    if (value === null && operator !== "=" && operator !== "!=" && operator !== "<>") {
      return this.fail(
        new InvalidValue({ column: name, received: "null", reason: `null can only be compared with = or !=` })
      )
    }
    return this.add({ _tag: "Compare", connector, column: name, operator, value })
  }

  private add(condition: Condition): QueryImpl {
    return this.next({ conditions: [...this.state.conditions, condition] })
  }

  private list(column: unknown, values: unknown, not: boolean): QueryImpl {
    const name = this.column(column)
    if (Either.isLeft(name)) return this.fail(name.left)
    if (!Array.isArray(values)) {
      return this.fail(
        new InvalidValue({ column: name.right, received: validation.describe(values), reason: "expected an array" })
      )
    }
    const checked: Array<Value> = []
    for (const value of values) {
      const v = validation.checkValue(name.right, value)
      if (Either.isLeft(v)) return this.fail(v.left)
      if (not && v.right === null) {
        return this.fail(
          new InvalidValue({ column: name.right, received: "null", reason: "NOT IN with null never matches" })
        )
      }
      checked.push(v.right)
    }
    return this.add({ _tag: "In", connector: "AND", column: name.right, not, values: checked })
  }

  where(...args: Array<unknown>): QueryImpl {
    return this.compare("AND", args)
  }
  orWhere(...args: Array<unknown>): QueryImpl {
    return this.compare("OR", args)
  }
  whereIn(column: unknown, values: unknown): QueryImpl {
    return this.list(column, values, false)
  }
  whereNotIn(column: unknown, values: unknown): QueryImpl {
    return this.list(column, values, true)
  }
  whereNull(column: unknown): QueryImpl {
    const name = this.column(column)
    return Either.isLeft(name)
      ? this.fail(name.left)
      : this.add({ _tag: "Null", connector: "AND", column: name.right, not: false })
  }
  whereNotNull(column: unknown): QueryImpl {
    const name = this.column(column)
    return Either.isLeft(name)
      ? this.fail(name.left)
      : this.add({ _tag: "Null", connector: "AND", column: name.right, not: true })
  }
  orderBy(column: unknown, direction: unknown = "asc"): QueryImpl {
    const name = this.column(column)
    if (Either.isLeft(name)) return this.fail(name.left)
    if (direction !== "asc" && direction !== "desc") {
      return this.fail(
        new InvalidValue({ column: name.right, received: String(direction), reason: "direction must be asc or desc" })
      )
    }
    return this.next({ orders: [...this.state.orders, [name.right, direction]] })
  }
  limit(count: unknown): QueryImpl {
    const checked = validation.checkLimit("limit", count)
    return Either.isLeft(checked) ? this.fail(checked.left) : this.next({ limit: checked.right })
  }
  offset(count: unknown): QueryImpl {
    const checked = validation.checkLimit("offset", count)
    return Either.isLeft(checked) ? this.fail(checked.left) : this.next({ offset: checked.right })
  }
  forceWrite(): QueryImpl {
    return this.next({ mode: "write" })
  }
  lockForUpdate(): QueryImpl {
    return this.next({ mode: "write", lock: true })
  }
  get() {
    return engine.runGet(this.state, `${this.state.info.table}.get`)
  }
  first() {
    return engine.runFirst(this.state, `${this.state.info.table}.first`)
  }
  count() {
    return engine.runCount(this.state, `${this.state.info.table}.count`)
  }
  exists() {
    return engine.runExists(this.state, `${this.state.info.table}.exists`)
  }
}

/** @internal */
export const fromState = <S extends Model.AnyNoContext, R extends ReadConnection | WriteConnection>(
  state: QueryState
): Query<S, R> => new QueryImpl(state) as any

/** @internal */
export const emptyState = (info: engine.TableInfo, mode: "read" | "write"): QueryState => ({
  info,
  conditions: [],
  orders: [],
  limit: undefined,
  offset: undefined,
  mode,
  lock: false,
  error: undefined
})
