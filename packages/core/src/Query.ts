/**
 * The immutable query builder started by `Repository.where(...)` / `Repository.query()`. Values are typed by their
 * column: a condition takes a value of the model's Type for that field (what the application holds: a `Date`, a
 * branded id), encoded by the field's schema before it is bound. Every method checks its input again at run time
 * (column names, operators, values, limits) and fails with a typed error before any SQL is sent.
 */
import type * as Model from "@effect/sql/Model"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import type * as Stream from "effect/Stream"
import type { WriteConnection } from "./Connections.js"
import type {
  ConnectionError,
  InvalidCursor,
  MissingWriteConnection,
  TransactionOutcomeUnknown,
  ValidationError
} from "./Errors.js"
import * as internal from "./internal/query.js"
import * as validation from "./internal/validation.js"
import type * as Relations from "./Relations.js"

/** The column names of a model: the fields of its select variant. */
export type Columns<S extends Model.AnyNoContext> = Extract<keyof S["fields"], string>

/** The type of column `K` as the application holds it (the model's Type). */
export type ValueOf<S extends Model.AnyNoContext, K extends Columns<S>> = S["Type"][K & keyof S["Type"]]

/** The columns whose values are strings (`whereLike`). */
export type StringColumns<S extends Model.AnyNoContext> = {
  [K in Columns<S>]: [NonNullable<ValueOf<S, K>>] extends [never] ? never
    : NonNullable<ValueOf<S, K>> extends string ? K
    : never
}[Columns<S>]

/** The columns whose values are numbers (`sum`, `avg`, `increment`). */
export type NumberColumns<S extends Model.AnyNoContext> = {
  [K in Columns<S>]: [NonNullable<ValueOf<S, K>>] extends [never] ? never
    : NonNullable<ValueOf<S, K>> extends number ? K
    : never
}[Columns<S>]

/** The comparison operators accepted by `where` / `orWhere` / `whereNot` / `having`. */
export type Operator = validation.Operator

/** The operators accepted at run time (strings from outside are checked against this list). */
export const operators: ReadonlyArray<Operator> = validation.operators

/** A value that can be bound as a parameter: primitives, Date, Buffer/Uint8Array, bigint or null. */
export type Value = validation.Value

/** ORDER BY direction. */
export type Direction = "asc" | "desc"

/** The rows of `select(...columns)`: those fields of the model's Type. */
export type Selected<S extends Model.AnyNoContext, K extends Columns<S>> = { readonly [P in K]: ValueOf<S, P> }

/**
 * Every error a query can fail with; validation errors are raised before any SQL is sent, and a `ConnectionError`
 * (e.g. `NoHealthyReplica`) arrives by its own tag, not inside `SqlError`.
 */
export type QueryError = ValidationError | SqlError | ParseError | MissingWriteConnection | ConnectionError

/** Every error a write by query can fail with (its multi-statement forms run in a transaction). */
export type WriteError = ValidationError | SqlError | ParseError | TransactionOutcomeUnknown | ConnectionError

/** Options of `whereLike`. */
export interface LikeOptions {
  /**
   * PostgreSQL `ILIKE`. MySQL and SQLite have one `LIKE`, which follows the column's collation: case-insensitive
   * under MySQL's default `_ci` collations, and for ASCII letters in SQLite (README, "Queries").
   */
  readonly caseInsensitive?: boolean | undefined
}

/** The conditions of a query; a nested group (`where((q) => ...)`) receives one of these. */
export interface Where<S extends Model.AnyNoContext, Self> {
  /** `column = value` (`IS NULL` for null), joined with AND. */
  where<K extends Columns<S>>(column: K, value: ValueOf<S, K>): Self
  /** `column <operator> value`, joined with AND. */
  where<K extends Columns<S>>(column: K, operator: Operator, value: ValueOf<S, K>): Self
  /** A parenthesised group of conditions, joined with AND. */
  where(group: (query: Conditions<S>) => Conditions<S>): Self
  /** `column = value`, joined with OR (SQL precedence: AND binds tighter; use a group to change it). */
  orWhere<K extends Columns<S>>(column: K, value: ValueOf<S, K>): Self
  /** `column <operator> value`, joined with OR. */
  orWhere<K extends Columns<S>>(column: K, operator: Operator, value: ValueOf<S, K>): Self
  /** A parenthesised group of conditions, joined with OR. */
  orWhere(group: (query: Conditions<S>) => Conditions<S>): Self
  /** `NOT (column = value)`, joined with AND. */
  whereNot<K extends Columns<S>>(column: K, value: ValueOf<S, K>): Self
  /** `NOT (column <operator> value)`, joined with AND. */
  whereNot<K extends Columns<S>>(column: K, operator: Operator, value: ValueOf<S, K>): Self
  /** `NOT (group)`, joined with AND. */
  whereNot(group: (query: Conditions<S>) => Conditions<S>): Self
  /** `column IN (...)`; an empty list matches nothing. */
  whereIn<K extends Columns<S>>(column: K, values: ReadonlyArray<ValueOf<S, K>>): Self
  /** `column NOT IN (...)`; an empty list matches everything; null in the list is refused (it matches nothing). */
  whereNotIn<K extends Columns<S>>(column: K, values: ReadonlyArray<ValueOf<S, K>>): Self
  /** `column IS NULL`. */
  whereNull(column: Columns<S>): Self
  /** `column IS NOT NULL`. */
  whereNotNull(column: Columns<S>): Self
  /** `column BETWEEN low AND high` (both ends included). */
  whereBetween<K extends Columns<S>>(
    column: K,
    range: readonly [low: NonNullable<ValueOf<S, K>>, high: NonNullable<ValueOf<S, K>>]
  ): Self
  /** `column LIKE pattern` on a string column (`%` any run of characters, `_` one character). */
  whereLike(column: StringColumns<S>, pattern: string, options?: LikeOptions): Self
}

/** A group of conditions, as a nested `where((q) => ...)` builds it. */
export interface Conditions<S extends Model.AnyNoContext> extends Where<S, Conditions<S>> {}

/** A page of `paginate`. */
export interface Page<A> {
  readonly data: ReadonlyArray<A>
  /** Every matching row, counted in the same statement as the page. */
  readonly total: number
  readonly page: number
  readonly perPage: number
  /** The last page with rows (1 when there are none). */
  readonly lastPage: number
}

/** A page of `cursor`. */
export interface CursorPage<A> {
  readonly data: ReadonlyArray<A>
  /** The cursor of the next page (pass it as `after`), none after the last page. */
  readonly next: Option.Option<string>
}

/** An aggregate of a grouped query, typed by its result. */
export interface Aggregate<A> {
  readonly fn: "count" | "sum" | "avg" | "min" | "max"
  readonly column: string | undefined
  /** Phantom: the type of the aggregate's value in a row. */
  readonly _A?: (_: never) => A
}

/** The aggregates a grouped query can name. */
export interface Aggregates<S extends Model.AnyNoContext> {
  /** COUNT(*), or COUNT(column): the rows where the column is not null. */
  count(column?: Columns<S>): Aggregate<number>
  /** SUM, 0 over no rows. */
  sum(column: NumberColumns<S>): Aggregate<number>
  /** AVG, null over no values. */
  avg(column: NumberColumns<S>): Aggregate<number | null>
  /** MIN, decoded by the column's field; null over no values. */
  min<K extends Columns<S>>(column: K): Aggregate<NonNullable<ValueOf<S, K>> | null>
  /** MAX, decoded by the column's field; null over no values. */
  max<K extends Columns<S>>(column: K): Aggregate<NonNullable<ValueOf<S, K>> | null>
}

/** A row of a grouped query: its group columns and its named aggregates. */
export type GroupRow<S extends Model.AnyNoContext, G extends Columns<S>, N> =
  & { readonly [K in G]: ValueOf<S, K> }
  & { readonly [K in keyof N]: N[K] extends Aggregate<infer A> ? A : never }

/** A GROUP BY query: `aggregate` names the aggregates, `having` filters the groups. */
export interface Grouped<S extends Model.AnyNoContext, R, G extends Columns<S>, N> {
  /** Names the aggregates each row carries, e.g. `(a) => ({ users: a.count(), age: a.avg("age") })`. */
  aggregate<const M extends Record<string, Aggregate<any>>>(f: (a: Aggregates<S>) => M): Grouped<S, R, G, M>
  /** `HAVING name = value` on a group column or a named aggregate; conditions are joined with AND. */
  having<K extends G | Extract<keyof N, string>>(name: K, value: GroupRow<S, G, N>[K]): Grouped<S, R, G, N>
  /** `HAVING name <operator> value`. */
  having<K extends G | Extract<keyof N, string>>(
    name: K,
    operator: Operator,
    value: GroupRow<S, G, N>[K]
  ): Grouped<S, R, G, N>
  /** Orders the groups by a group column or a named aggregate. */
  orderBy(name: G | Extract<keyof N, string>, direction?: Direction): Grouped<S, R, G, N>
  /** LIMIT on the groups. */
  limit(count: number): Grouped<S, R, G, N>
  /** OFFSET on the groups. */
  offset(count: number): Grouped<S, R, G, N>
  /** The groups. */
  get(): Effect.Effect<ReadonlyArray<GroupRow<S, G, N>>, QueryError, R>
}

/** An immutable query over a model's table; `R` is the connection it needs, `A` the row it reads. */
export interface Query<S extends Model.AnyNoContext, R, A = S["Type"], Rel = {}> extends Where<S, Query<S, R, A, Rel>> {
  /** Reads only these columns; rows are typed and decoded as those fields. */
  select<const K extends ReadonlyArray<Columns<S>>>(...columns: K): Query<S, R, Selected<S, K[number]>, Rel>
  /** Adds an ORDER BY term. */
  orderBy(column: Columns<S>, direction?: Direction): Query<S, R, A, Rel>
  /** LIMIT: a non-negative safe integer. */
  limit(count: number): Query<S, R, A, Rel>
  /** OFFSET: a non-negative safe integer. */
  offset(count: number): Query<S, R, A, Rel>
  /** Runs on the primary with WriteOnly set (read-your-own-writes). */
  forceWrite(): Query<S, WriteConnection, A, Rel>
  /** `SELECT ... FOR UPDATE` on the primary (no-op lock on SQLite, whose transactions here begin IMMEDIATE). */
  lockForUpdate(): Query<S, WriteConnection, A, Rel>
  /** Says that `update` / `delete` / `increment` without conditions mean every row (they refuse otherwise). */
  all(): Query<S, R, A, Rel>
  /**
   * Eager-loads relations declared with `Relations.define`: `with("posts")`, `with(["posts", "profile"])`,
   * `with({ posts: { where, orderBy, limit, with: ["comments"] } })`. One statement per relation level, all on
   * the node the rows were read from (README, "Relations").
   */
  with<const W extends Relations.With<Rel>>(spec: W): Query<S, R, A & Relations.Loaded<Rel, W>, Rel>

  /** All matching rows. */
  get(): Effect.Effect<ReadonlyArray<A>, QueryError, R>
  /** The first matching row (in the query's order). */
  first(): Effect.Effect<Option.Option<A>, QueryError, R>
  /** How many rows match (honouring limit/offset). */
  count(): Effect.Effect<number, QueryError, R>
  /** Whether any row matches. */
  exists(): Effect.Effect<boolean, QueryError, R>
  /** One column of every matching row. */
  pluck<K extends Columns<S>>(column: K): Effect.Effect<ReadonlyArray<ValueOf<S, K>>, QueryError, R>
  /** SUM over the matching rows; 0 when there are none. */
  sum(column: NumberColumns<S>): Effect.Effect<number, QueryError, R>
  /** AVG over the matching rows; none when no value is not null. */
  avg(column: NumberColumns<S>): Effect.Effect<Option.Option<number>, QueryError, R>
  /** MIN over the matching rows; none when no value is not null. */
  min<K extends Columns<S>>(column: K): Effect.Effect<Option.Option<NonNullable<ValueOf<S, K>>>, QueryError, R>
  /** MAX over the matching rows; none when no value is not null. */
  max<K extends Columns<S>>(column: K): Effect.Effect<Option.Option<NonNullable<ValueOf<S, K>>>, QueryError, R>
  /** GROUP BY these columns; name aggregates with `aggregate`. */
  groupBy<const G extends ReadonlyArray<Columns<S>>>(...columns: G): Grouped<S, R, G[number], {}>
  /**
   * Page `page` (from 1) of `perPage` rows, and the total, read in one statement (one node, one snapshot). Ordered
   * by the query's order, then by the id column.
   */
  paginate(options: { readonly page: number; readonly perPage: number }): Effect.Effect<Page<A>, QueryError, R>
  /**
   * Keyset pagination: `limit` rows after the cursor `after` (the first page without it), in the query's order
   * then the id column's; a cursor that this query did not make is `InvalidCursor`.
   */
  cursor(options: {
    readonly after?: string | undefined
    readonly limit: number
  }): Effect.Effect<CursorPage<A>, QueryError | InvalidCursor, R>
  /**
   * The matching rows as a stream, read through a server-side cursor (PostgreSQL cursor, mysql2 row streaming,
   * SQLite iteration) and decoded as they come: memory stays flat whatever the result's size. Routed like every
   * read, never retried once it started.
   */
  stream(): Stream.Stream<A, QueryError, R>

  /** Sets the patch's fields on every matching row; the number of rows. */
  update(patch: Partial<S["update"]["Type"]>): Effect.Effect<number, WriteError, WriteConnection>
  /** Deletes every matching row; the number of rows. */
  delete(): Effect.Effect<number, WriteError, WriteConnection>
  /** Adds `by` (default 1) to a number column of every matching row; the number of rows. */
  increment(column: NumberColumns<S>, by?: number): Effect.Effect<number, WriteError, WriteConnection>
  /** Subtracts `by` (default 1) from a number column of every matching row; the number of rows. */
  decrement(column: NumberColumns<S>, by?: number): Effect.Effect<number, WriteError, WriteConnection>
}

/** @internal */
export const fromState: <S extends Model.AnyNoContext, R>(state: internal.QueryState) => Query<S, R> =
  internal.fromState

/** @internal */
export const emptyState = internal.emptyState
