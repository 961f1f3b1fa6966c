/**
 * Statement building and routing shared by Query and Repository. Every statement is built from fresh fragments of
 * the client it runs on (a compiled fragment caches its SQL for whichever dialect compiled it first).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { DialectFeaturesShape } from "../Connections.js"
import { DialectFeatures, ReadConnection, WriteConnection, WriteOnly } from "../Connections.js"
import { type Dialect, of } from "../Dialect.js"
import type { ConnectionError, ValidationError } from "../Errors.js"
import { liftConnectionErrors, MissingWriteConnection } from "../Errors.js"
import type { Operator, Value } from "./validation.js"

/** What a query or repository knows about its table. @internal */
export interface TableInfo {
  readonly modelName: string
  readonly table: string
  readonly idColumn: string
  readonly columns: ReadonlySet<string>
  /** A problem with the table or id column themselves, reported by every operation. */
  readonly setupError: ValidationError | undefined
  readonly decodeRows: (rows: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<any>, ParseError>
}

/** @internal */
export type Condition =
  | {
    readonly _tag: "Compare"
    readonly connector: "AND" | "OR"
    readonly column: string
    readonly operator: Operator
    readonly value: Value
  }
  | {
    readonly _tag: "In"
    readonly connector: "AND" | "OR"
    readonly column: string
    readonly not: boolean
    readonly values: ReadonlyArray<Value>
  }
  | {
    readonly _tag: "Null"
    readonly connector: "AND" | "OR"
    readonly column: string
    readonly not: boolean
  }

/** @internal */
export interface QueryState {
  readonly info: TableInfo
  readonly conditions: ReadonlyArray<Condition>
  readonly orders: ReadonlyArray<readonly [column: string, direction: "asc" | "desc"]>
  readonly limit: number | undefined
  readonly offset: number | undefined
  readonly mode: "read" | "write"
  readonly lock: boolean
  /** The first validation error met while building; reported before any SQL is sent. */
  readonly error: ValidationError | undefined
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

/**
 * better-sqlite3 binds only numbers, strings, bigints, buffers and null: booleans become 0/1 and Dates ISO text
 * (what @effect/sql's sqlite Model helpers read back).
 * @internal
 */
export const bindValue = (dialect: Dialect, value: unknown): unknown => {
  if (dialect !== "sqlite") return value
  if (typeof value === "boolean") return value ? 1 : 0
  if (value instanceof Date) return value.toISOString()
  return value
}

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
  liftConnectionErrors(Effect.flatMap(Effect.zip(WriteConnection, DialectFeatures), ([sql, features]) => {
    const dialect = dialectOf(sql)
    return f(sql, supportsReturning(features, dialect), supportsUpdateReturning(features, dialect))
  }))

const comparisonSql = (operator: Operator): string => {
  switch (operator) {
    case "!=":
      return "<>"
    case "like":
      return "LIKE"
    case "not like":
      return "NOT LIKE"
    default:
      return operator
  }
}

const conditionFragment = (sql: SqlClient.SqlClient, dialect: Dialect, c: Condition): Statement.Fragment => {
  switch (c._tag) {
    case "Compare":
      if (c.value === null) {
        // Validation admits null only with equality operators.
        return c.operator === "=" ? sql`${sql(c.column)} IS NULL` : sql`${sql(c.column)} IS NOT NULL`
      }
      return sql`${sql(c.column)} ${sql.literal(comparisonSql(c.operator))} ${bindValue(dialect, c.value)}`
    case "In":
      // An empty list: IN matches nothing, NOT IN everything (sql.in(col, []) is 1=0 too).
      if (c.values.length === 0) return sql.literal(c.not ? "1=1" : "1=0")
      return sql`${sql(c.column)} ${sql.literal(c.not ? "NOT IN" : "IN")} ${
        sql.in(c.values.map((v) => bindValue(dialect, v)))
      }`
    case "Null":
      return c.not ? sql`${sql(c.column)} IS NOT NULL` : sql`${sql(c.column)} IS NULL`
  }
}

/** @internal */
export const whereFragment = (
  sql: SqlClient.SqlClient,
  dialect: Dialect,
  conditions: ReadonlyArray<Condition>
): Statement.Fragment => {
  if (conditions.length === 0) return sql.literal("")
  // Connectors keep SQL precedence (AND binds tighter than OR), as in Laravel's builder; each condition is
  // parenthesised so no operand can merge with its neighbour.
  let acc: Statement.Fragment = sql`(${conditionFragment(sql, dialect, conditions[0])})`
  for (let i = 1; i < conditions.length; i++) {
    const c = conditions[i]
    acc = sql`${acc} ${sql.literal(c.connector)} (${conditionFragment(sql, dialect, c)})`
  }
  return sql` WHERE ${acc}`
}

const orderFragment = (sql: SqlClient.SqlClient, state: QueryState): Statement.Fragment => {
  if (state.orders.length === 0) return sql.literal("")
  let acc: Statement.Fragment | undefined
  for (const [column, direction] of state.orders) {
    const item = sql`${sql(column)} ${sql.literal(direction === "desc" ? "DESC" : "ASC")}`
    acc = acc === undefined ? item : sql`${acc}, ${item}`
  }
  return sql` ORDER BY ${acc!}`
}

/** LIMIT/OFFSET are validated safe integers, written as literals (mysql prepared LIMIT ? is unreliable). */
const limitFragment = (
  sql: SqlClient.SqlClient,
  dialect: Dialect,
  limit: number | undefined,
  offset: number | undefined
): Statement.Fragment => {
  let text = ""
  if (limit !== undefined) text += ` LIMIT ${limit}`
  if (offset !== undefined) {
    // MySQL and SQLite need a LIMIT before OFFSET.
    if (limit === undefined && dialect === "mysql") text += " LIMIT 18446744073709551615"
    if (limit === undefined && dialect === "sqlite") text += " LIMIT -1"
    text += ` OFFSET ${offset}`
  }
  return sql.literal(text)
}

/** @internal */
export const selectStatement = (
  sql: SqlClient.SqlClient,
  state: QueryState,
  overrides?: { readonly limit?: number | undefined; readonly orders?: QueryState["orders"] | undefined }
) => {
  const dialect = dialectOf(sql)
  const s = overrides?.orders !== undefined ? { ...state, orders: overrides.orders } : state
  const limit = overrides?.limit !== undefined
    ? Math.min(overrides.limit, state.limit ?? overrides.limit)
    : state.limit
  // SQLite has no row locks (one writer at a time; transactions here start IMMEDIATE).
  const lock = state.lock && dialect !== "sqlite" ? " FOR UPDATE" : ""
  return sql`SELECT * FROM ${sql(state.info.table)}${whereFragment(sql, dialect, state.conditions)}${
    orderFragment(sql, s)
  }${limitFragment(sql, dialect, limit, state.offset)}${sql.literal(lock)}`
}

/** @internal */
export const countStatement = (sql: SqlClient.SqlClient, state: QueryState) => {
  const dialect = dialectOf(sql)
  const table = sql(state.info.table)
  const where = whereFragment(sql, dialect, state.conditions)
  if (state.limit === undefined && state.offset === undefined) {
    return sql`SELECT COUNT(*) AS fastorm_count FROM ${table}${where}`
  }
  return sql`SELECT COUNT(*) AS fastorm_count FROM (SELECT 1 AS fastorm_one FROM ${table}${where}${
    orderFragment(sql, state)
  }${limitFragment(sql, dialect, state.limit, state.offset)}) fastorm_sub`
}

/** @internal */
export const existsStatement = (sql: SqlClient.SqlClient, state: QueryState) => {
  const dialect = dialectOf(sql)
  return sql`SELECT 1 AS fastorm_exists FROM ${sql(state.info.table)}${whereFragment(sql, dialect, state.conditions)}${
    limitFragment(sql, dialect, 1, state.offset)
  }`
}

/** COUNT(*) arrives as a number (sqlite, mysql), a string (pg bigint) or a bigint (safe integers). @internal */
export const readCount = (rows: ReadonlyArray<Record<string, unknown>>): number => {
  const row = rows[0]
  if (row === undefined) return 0
  const value = Object.values(row)[0]
  return typeof value === "number" ? value : Number(value)
}

/** Fails with the first validation error, before anything touches a connection. @internal */
export const guard = (state: QueryState): Effect.Effect<void, ValidationError> =>
  state.info.setupError !== undefined
    ? Effect.fail(state.info.setupError)
    : state.error !== undefined
    ? Effect.fail(state.error)
    : Effect.void

/** @internal */
export const runGet = (state: QueryState, operation: string) =>
  Effect.zipRight(
    guard(state),
    withClient(state.mode, operation, (sql) => Effect.flatMap(selectStatement(sql, state), state.info.decodeRows))
  )

/** @internal */
export const runFirst = (state: QueryState, operation: string, orders?: QueryState["orders"]) =>
  Effect.zipRight(
    guard(state),
    withClient(state.mode, operation, (sql) =>
      Effect.flatMap(selectStatement(sql, state, { limit: 1, orders }), (rows) =>
        rows.length === 0
          ? Effect.succeedNone
          : Effect.map(state.info.decodeRows(rows.slice(0, 1)), (decoded) =>
            Option.some(decoded[0]))))
  )

/** @internal */
export const runCount = (state: QueryState, operation: string) =>
  Effect.zipRight(
    guard(state),
    withClient(state.mode, operation, (sql) => Effect.map(countStatement(sql, state), readCount))
  )

/** @internal */
export const runExists = (state: QueryState, operation: string) =>
  Effect.zipRight(
    guard(state),
    withClient(state.mode, operation, (sql) => Effect.map(existsStatement(sql, state), (rows) => rows.length > 0))
  )

/** @internal */
export const makeDecodeRows = (model: Schema.Schema.AnyNoContext) => {
  const decode = Schema.decodeUnknown(Schema.Array(model))
  return (rows: ReadonlyArray<unknown>): Effect.Effect<ReadonlyArray<any>, ParseError> => decode(rows)
}
