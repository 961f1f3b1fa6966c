/**
 * Repositories over an @effect/sql `Model.Class`: plain objects whose reads need `ReadConnection` (or
 * `WriteConnection` when forced) and whose writes need `WriteConnection`. Built without any Effect or service, and
 * never capturing a client: each call resolves its connection when it runs, so routing and transactions apply.
 */
import type * as Model from "@effect/sql/Model"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import type { ReadConnection, WriteConnection } from "./Connections.js"
import type {
  ConnectionError,
  MissingWriteConnection,
  ModelNotFound,
  TransactionOutcomeUnknown,
  ValidationError
} from "./Errors.js"
import * as internal from "./internal/repository.js"
import type { Columns, Conditions, Operator, Query, ValueOf } from "./Query.js"

/** Options of a repository read. */
export interface ReadOptions {
  /** Run on the primary (with WriteOnly set); the read then needs `WriteConnection` instead of `ReadConnection`. */
  readonly forceWrite?: boolean | undefined
}

/** The connection a read with options `O` needs: `WriteConnection` for `{ forceWrite: true }`. */
export type ConnectionFor<O> = [O] extends [{ readonly forceWrite: true }] ? WriteConnection
  : [O] extends [{ readonly forceWrite?: false | undefined }] ? ReadConnection
  : ReadConnection | WriteConnection

/** Errors of reads; a `ConnectionError` (e.g. `PrimaryUnavailable`) arrives by its own tag, not inside `SqlError`. */
export type ReadError = ValidationError | SqlError | ParseError | MissingWriteConnection | ConnectionError

/** Errors of writes (a read-back on servers without RETURNING runs in a transaction). */
export type WriteError = ValidationError | SqlError | ParseError | TransactionOutcomeUnknown | ConnectionError

/** Options of `Repository.make`. */
export interface Options<Id extends string> {
  readonly table: string
  readonly idColumn: Id
}

/** Options of `upsert`. */
export interface UpsertOptions<C extends string> {
  /** The unique columns that decide whether the row exists (ON CONFLICT / the unique key for ON DUPLICATE KEY). */
  readonly conflict: ReadonlyArray<C>
}

/** The type of a model's id field. */
export type IdOf<S extends Model.AnyNoContext, Id extends Columns<S>> = S["Type"][Id]

/** A repository of model `S` keyed by column `Id`. */
export interface Repository<S extends Model.AnyNoContext, Id extends Columns<S>> {
  readonly model: S
  readonly table: string
  readonly idColumn: Id
  /** The model's columns, for validating names that arrive from outside. */
  readonly columns: ReadonlyArray<Columns<S>>
  /** Whether `name` is a column of the model (a type guard for strings from outside). */
  readonly isColumn: (name: string) => name is Columns<S>

  /** The row with this id. */
  find<const O extends ReadOptions = {}>(
    id: IdOf<S, Id>,
    options?: O
  ): Effect.Effect<Option.Option<S["Type"]>, ReadError, ConnectionFor<O>>
  /** The row with this id, or `ModelNotFound`. */
  findOrFail<const O extends ReadOptions = {}>(
    id: IdOf<S, Id>,
    options?: O
  ): Effect.Effect<S["Type"], ReadError | ModelNotFound, ConnectionFor<O>>
  /** Every row, ordered by the id column. */
  all<const O extends ReadOptions = {}>(
    options?: O
  ): Effect.Effect<ReadonlyArray<S["Type"]>, ReadError, ConnectionFor<O>>
  /** The number of rows. */
  count<const O extends ReadOptions = {}>(options?: O): Effect.Effect<number, ReadError, ConnectionFor<O>>
  /** The row with the smallest id. */
  first<const O extends ReadOptions = {}>(
    options?: O
  ): Effect.Effect<Option.Option<S["Type"]>, ReadError, ConnectionFor<O>>
  /** The row with the largest id. */
  last<const O extends ReadOptions = {}>(
    options?: O
  ): Effect.Effect<Option.Option<S["Type"]>, ReadError, ConnectionFor<O>>
  /** The number of rows where `column = value`. */
  countWhere<K extends Columns<S>, const O extends ReadOptions = {}>(
    column: K,
    value: ValueOf<S, K>,
    options?: O
  ): Effect.Effect<number, ReadError, ConnectionFor<O>>
  /** Starts a query with `column = value` (a value of the column's Type, encoded by its field). */
  where<K extends Columns<S>>(column: K, value: ValueOf<S, K>): Query<S, ReadConnection>
  /** Starts a query with `column <operator> value`. */
  where<K extends Columns<S>>(column: K, operator: Operator, value: ValueOf<S, K>): Query<S, ReadConnection>
  /** Starts a query with a parenthesised group of conditions. */
  where(group: (query: Conditions<S>) => Conditions<S>): Query<S, ReadConnection>
  /** Starts an empty query. */
  query(): Query<S, ReadConnection>

  /** Inserts a row and returns it as stored. */
  create(data: S["insert"]["Type"]): Effect.Effect<S["Type"], WriteError, WriteConnection>
  /** Inserts rows and returns them as stored, in order. */
  createMany(
    data: ReadonlyArray<S["insert"]["Type"]>
  ): Effect.Effect<ReadonlyArray<S["Type"]>, WriteError, WriteConnection>
  /** Updates the given fields of the row with this id and returns it as stored, or `ModelNotFound`. */
  update(
    id: IdOf<S, Id>,
    patch: Partial<S["update"]["Type"]>
  ): Effect.Effect<S["Type"], WriteError | ModelNotFound, WriteConnection>
  /** Updates the row when it has an id that exists, else inserts it; returns it as stored. */
  save(value: S["insert"]["Type"] | S["update"]["Type"]): Effect.Effect<S["Type"], WriteError, WriteConnection>
  /** Deletes the row with this id; whether a row went. */
  delete(id: IdOf<S, Id>): Effect.Effect<boolean, WriteError, WriteConnection>
  /** Inserts, or updates the other columns of the row with the same `conflict` columns; returns it as stored. */
  upsert(
    data: S["insert"]["Type"],
    options: UpsertOptions<Columns<S>>
  ): Effect.Effect<S["Type"], WriteError, WriteConnection>
  /**
   * `upsert` for many rows in as few statements as the server's parameter limit allows, in one transaction;
   * returns them as stored, in order. Two rows with the same conflict values are refused before any SQL.
   */
  upsertMany(
    data: ReadonlyArray<S["insert"]["Type"]>,
    options: UpsertOptions<Columns<S>>
  ): Effect.Effect<ReadonlyArray<S["Type"]>, WriteError, WriteConnection>
}

/** Builds a repository for `model` stored in `options.table`. No Effect, no service: a plain object. */
export const make: <S extends Model.AnyNoContext, const Id extends Columns<S>>(
  model: S,
  options: Options<Id>
) => Repository<S, Id> = internal.make
