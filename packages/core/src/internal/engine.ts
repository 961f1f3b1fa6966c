/**
 * What every query and repository method runs on: the table's description, the query's state, the choice of client
 * and the compiled-statement cache (rows are decoded by `decodeRows.ts`). A statement's SQL is rendered once per query
 * shape and dialect (`sql.ts`) and run through `CompiledStatement.run`: prepared on PostgreSQL, routed like every
 * statement (ARCHITECTURE.md, "The path of one statement").
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import * as CompiledStatement from "../CompiledStatement.js"
import type { DialectFeaturesShape } from "../Connections.js"
import { DialectFeatures, ReadConnection, WriteConnection, WriteOnly } from "../Connections.js"
import { type Dialect, of } from "../Dialect.js"
import type { ConnectionError, ValidationError } from "../Errors.js"
import { InvalidQuery, liftConnectionErrors, MissingWriteConnection } from "../Errors.js"
import type * as Columns from "./columns.js"
import type { RowsDecoder } from "./decodeRows.js"
import type { EagerState } from "./relations/plan.js"
import type { Condition, Select } from "./sql.js"
import * as Sql from "./sql.js"
import * as Shape from "./sqlShape.js"

/** What a query or repository knows about its table. @internal */
export interface TableInfo {
  readonly modelName: string
  readonly table: string
  readonly idColumn: string
  readonly columns: ReadonlySet<string>
  /** A problem with the table or id column themselves, reported by every operation. */
  readonly setupError: ValidationError | undefined
  readonly column: (name: string) => Columns.Column
  /** Rows of every column, decoded by the model. */
  readonly decodeRows: RowsDecoder
  /** Rows of these columns only (a `select`), decoded by their fields; undefined: the whole model. */
  readonly decoderFor: (columns: ReadonlyArray<string> | undefined) => RowsDecoder
  /** The update variant's fields: the columns a patch may set. */
  readonly updatable: ReadonlySet<string>
  /** A patch encoded by the update variant's fields, each key a column and each value bindable. */
  readonly encodePatch: (
    patch: Record<string, unknown>
  ) => Encoded<Record<string, unknown>, ValidationError | ParseError>
  /** Compiled statements by dialect, then by operation and shape. */
  readonly statements: Map<Dialect, Map<string, CompiledStatement.CompiledStatement>>
}

/**
 * A value encoded for a statement: an `Either` when it was encoded synchronously (the usual case: the model's schemas
 * are synchronous), else the Schema's Effect. An `Either` is an Effect too; `encodedThen` goes on from it with no
 * runtime step. @internal
 */
export type Encoded<A, E> = Either.Either<A, E> | Effect.Effect<A, E>

/** `Effect.flatMap` of an encoded value: a synchronous one goes on at once. @internal */
export const encodedThen = <A, E, B, E2, R>(
  encoded: Encoded<A, E>,
  f: (a: A) => Effect.Effect<B, E2, R>
): Effect.Effect<B, E | E2, R> =>
  Either.isEither(encoded)
    ? Either.isRight(encoded) ? f(encoded.right) : Effect.fail(encoded.left)
    : Effect.flatMap(encoded, f)

/** The state of an immutable query. @internal */
export interface QueryState {
  readonly info: TableInfo
  readonly conditions: ReadonlyArray<Condition>
  readonly orders: ReadonlyArray<readonly [column: string, direction: "asc" | "desc"]>
  readonly limit: number | undefined
  readonly offset: number | undefined
  readonly mode: "read" | "write"
  readonly lock: boolean
  /** `select(...)`: the columns to read; undefined for every column. */
  readonly columns: ReadonlyArray<string> | undefined
  /** `.all()`: an update or delete without conditions is meant to touch every row. */
  readonly everything: boolean
  /** The first validation error met while building; reported before any SQL is sent. */
  readonly error: ValidationError | undefined
  /** The relations `with(...)` may name and the loads it asked for (internal/relations). */
  readonly eager?: EagerState | undefined
}

/** @internal */
export type { Dialect }

/** @internal */
export const dialectOf = of

/** @internal */
export const supportsReturning = (features: DialectFeaturesShape, dialect: Dialect): boolean =>
  features.supportsReturning ?? (dialect === "postgresql" || dialect === "sqlite")

/** @internal */
export const supportsUpdateReturning = (features: DialectFeaturesShape, dialect: Dialect): boolean =>
  features.supportsUpdateReturning ?? (dialect === "postgresql" || dialect === "sqlite")

/** @internal */
export const bindValue = Shape.bindValue

/** @internal */
export const bindRow = (dialect: Dialect, row: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(row)) out[key] = bindValue(dialect, row[key])
  return out
}

/**
 * Picks the client for a statement: the primary for writes and forced reads (run with WriteOnly set), else the
 * primary when WriteOnly is set, else the read connection. The caller's type states which tag it needs. Connection
 * errors are lifted out of `SqlError` here, once for every read of repositories and queries.
 * @internal
 */
export const withClient = <A, E, R>(
  mode: "read" | "write",
  operation: string,
  f: (client: SqlClient.SqlClient) => Effect.Effect<A, E, R>
): Effect.Effect<
  A,
  E | MissingWriteConnection | ConnectionError,
  R | ReadConnection | WriteConnection
> => {
  if (mode === "write") {
    return liftConnectionErrors(
      Effect.flatMap(WriteConnection, (client) => Effect.provideService(f(client), WriteOnly, true))
    )
  }
  // The hot path of every read: the flag and the client are read from the fiber's context in one step.
  return liftConnectionErrors(Effect.withFiberRuntime((fiber) => {
    const context = fiber.currentContext
    if (Context.get(context, WriteOnly)) {
      // Resolved optionally: an ordinary read's type needs only ReadConnection.
      const client = Context.getOption(context, WriteConnection)
      return Option.isSome(client) ? f(client.value) : Effect.fail(new MissingWriteConnection({ operation }))
    }
    const client = Context.getOption(context, ReadConnection)
    // Missing: the ordinary service lookup, which reports the missing service.
    return Option.isSome(client) ? f(client.value) : Effect.flatMap(ReadConnection, f)
  }))
}

/**
 * Runs a write with the primary's client and whether it has RETURNING; connection errors are lifted out of
 * `SqlError` here, once for every write of repositories.
 * @internal
 */
export const withWriter = <A, E, R>(
  f: (sql: SqlClient.SqlClient, returning: boolean, updateReturning: boolean) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | ConnectionError, R | WriteConnection> =>
  // Both services read from the fiber's context in one step: `Effect.zip` of two tags runs `Effect.all`, about
  // fifteen runtime steps on every write.
  liftConnectionErrors(Effect.withFiberRuntime((fiber) => {
    const context = fiber.currentContext as Context.Context<WriteConnection>
    const features = Context.get(context, DialectFeatures)
    const run = (sql: SqlClient.SqlClient) => {
      const dialect = dialectOf(sql)
      return f(sql, supportsReturning(features, dialect), supportsUpdateReturning(features, dialect))
    }
    const sql = Context.getOption(context, WriteConnection)
    // Missing: the ordinary service lookup, which reports the missing service.
    return Option.isSome(sql) ? run(sql.value) : Effect.flatMap(WriteConnection, run)
  }))

/** The first validation error of a query, if any. @internal */
export const problemOf = (state: QueryState): ValidationError | undefined => state.info.setupError ?? state.error

/** Fails with the first validation error, before anything touches a connection. @internal */
export const guard = (state: QueryState): Effect.Effect<void, ValidationError> => {
  const problem = problemOf(state)
  return problem !== undefined ? Effect.fail(problem) : Effect.void
}

/**
 * `run()` unless the query has a validation error, which it fails with before anything touches a connection: the
 * check is pure, so a valid query's read is its own effect, with no step before it. @internal
 */
export const guarded = <A, E, R>(
  state: QueryState,
  run: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E | ValidationError, R> => {
  const problem = problemOf(state)
  return problem !== undefined ? Effect.fail(problem) : run()
}

/** An `InvalidQuery` for this query's table. @internal */
export const invalid = (state: QueryState, operation: string, reason: string) =>
  new InvalidQuery({ table: state.info.table, operation, reason })

// Repositories see a bounded number of shapes in practice; a program that builds unbounded ones (IN lists of every
// length on MySQL) must not grow the cache without end.
const MAX_STATEMENTS = 2000

/**
 * The compiled statement of `key` for this dialect, rendered by `render` the first time.
 * @internal
 */
export const compiled = (
  info: TableInfo,
  dialect: Dialect,
  key: string,
  render: () => string
): CompiledStatement.CompiledStatement => {
  let byShape = info.statements.get(dialect)
  if (byShape === undefined) {
    byShape = new Map()
    info.statements.set(dialect, byShape)
  }
  let statement = byShape.get(key)
  if (statement === undefined) {
    if (byShape.size >= MAX_STATEMENTS) byShape.clear()
    statement = CompiledStatement.make(render())
    byShape.set(key, statement)
  }
  return statement
}

/** The SELECT of a query state, with overrides. @internal */
export const selectOf = (state: QueryState, overrides?: Partial<Select>): Select => ({
  table: state.info.table,
  conditions: state.conditions,
  columns: state.columns,
  orders: state.orders,
  limit: state.limit,
  offset: state.offset,
  lock: state.lock,
  ...overrides
})

/** The parameters of a SELECT built by `Sql.select` / `Sql.count` (conditions, then limit and offset). @internal */
export const selectParams = (dialect: Dialect, s: Select): Array<unknown> =>
  Shape.limitParams(dialect, s.limit, s.offset, Shape.conditionParams(dialect, s.conditions))

/**
 * Runs a SELECT of rows; `arrays`: rows that go straight to the model's decoder, which takes them as arrays where the
 * client gives them so (`CompiledStatement.asArrays`). @internal
 */
export const runSelect = (
  sql: SqlClient.SqlClient,
  info: TableInfo,
  s: Select,
  arrays = false
): Effect.Effect<ReadonlyArray<any>, SqlError> => {
  const dialect = dialectOf(sql)
  const statement = compiled(info, dialect, `select|${Shape.selectShape(dialect, s)}`, () => Sql.select(dialect, s))
  return CompiledStatement.run(
    sql,
    arrays ? CompiledStatement.asArrays(statement) : statement,
    selectParams(dialect, s)
  )
}

/** A number the driver returned: a number (SQLite, MySQL), a string (PostgreSQL bigint, decimals) or a bigint. */
export const toNumber = (value: unknown): number => typeof value === "number" ? value : Number(value)

/** The first column of the first row as a number (COUNT and friends); 0 without a row. @internal */
export const firstNumber = (rows: ReadonlyArray<Record<string, unknown>>): number => {
  const row = rows[0]
  if (row === undefined) return 0
  for (const key in row) return toNumber(row[key])
  return toNumber(undefined)
}
