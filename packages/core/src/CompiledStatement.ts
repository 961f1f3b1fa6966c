/**
 * Statements compiled once and run many times. A repository's hot reads (`find`) compile their SQL once per dialect;
 * clients that know how (the adapters' node clients, the router) run such a statement directly on a connection,
 * as a server-side prepared statement where the driver has them, without building an @effect/sql `Statement`, a
 * scope and a span per call. Everything @effect/sql would honour is honoured: a transaction's connection, a
 * statement transformer (then the ordinary `Statement` path runs), and spans whenever a tracer listens.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Tracer from "effect/Tracer"

/** One statement's SQL text and the name a server may keep its plan under (the same name for the same text). */
export interface CompiledStatement {
  readonly sql: string
  readonly name: string
  /**
   * Rows wanted as arrays of values in the result's column order, named by `columnsOf` (`asArrays`): a connection
   * that can skip building an object per row does; any other gives objects, as for every statement.
   */
  readonly arrays?: true
}

// Names are per text, process-wide: a connection that prepared a name once can run it for every caller. A name is
// never given to another text, even after the map forgets one: a connection may still hold it prepared.
const byText = new Map<string, CompiledStatement>()
let named = 0
// Query shapes are few, but texts with literals in them (MySQL's LIMIT values) are not: the map forgets them all
// past this bound rather than grow without end (a forgotten text is named and prepared again).
const MAX_TEXTS = 10_000

/** The compiled statement of `sql`; the same object (and name) every time for the same text. */
export const make = (sql: string): CompiledStatement => {
  let statement = byText.get(sql)
  if (statement === undefined) {
    if (byText.size >= MAX_TEXTS) byText.clear()
    statement = { sql, name: `fastorm_${++named}` }
    byText.set(sql, statement)
  }
  return statement
}

export { asArrays, columnsOf, ColumnsTypeId, rowObjects, withColumns } from "./internal/rowArrays.js"

/** A connection that can run a compiled statement as a prepared statement of its server. */
export interface PreparedConnection extends Connection {
  readonly executePrepared: (
    statement: CompiledStatement,
    params: ReadonlyArray<unknown>
  ) => Effect.Effect<ReadonlyArray<any>, SqlError>
}

/** Whether `connection` runs compiled statements as prepared statements. */
export const isPreparedConnection = (connection: Connection): connection is PreparedConnection =>
  typeof (connection as Partial<PreparedConnection>).executePrepared === "function"

/** Runs a compiled statement on `connection`: prepared where it can be, else as ordinary SQL. */
export const executeOn = (
  connection: Connection,
  statement: CompiledStatement,
  params: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<any>, SqlError> =>
  isPreparedConnection(connection)
    ? connection.executePrepared(statement, params)
    : connection.execute(statement.sql, params, undefined)

/**
 * A connection that can bound one statement by a deadline of the caller's (never past its own): a timer in the driver
 * callback, no fiber. Past the deadline the statement's connection is closed (the statement may still be running)
 * and the answer is `undefined`: no answer in time.
 */
export interface BoundedConnection extends Connection {
  readonly executeWithin: (
    statement: CompiledStatement,
    params: ReadonlyArray<unknown>,
    deadlineMs: number
  ) => Effect.Effect<ReadonlyArray<any> | undefined, SqlError>
}

/** Whether `connection` bounds a statement by the caller's deadline itself. */
export const isBoundedConnection = (connection: Connection): connection is BoundedConnection =>
  typeof (connection as Partial<BoundedConnection>).executeWithin === "function"

/**
 * Runs a compiled statement on `connection` within `deadlineMs`; `undefined` when no answer came in time. Where the
 * connection cannot bound it itself, the statement is raced against the deadline and, when the deadline wins, left
 * to end in the background, not in the caller's time.
 */
export const executeWithin = (
  connection: Connection,
  statement: CompiledStatement,
  params: ReadonlyArray<unknown>,
  deadlineMs: number
): Effect.Effect<ReadonlyArray<any> | undefined, SqlError> =>
  isBoundedConnection(connection)
    ? connection.executeWithin(statement, params, deadlineMs)
    : Effect.timeoutTo(Effect.disconnect(executeOn(connection, statement, params)), {
      duration: Duration.millis(deadlineMs),
      onTimeout: (): ReadonlyArray<any> | undefined => undefined,
      onSuccess: (rows): ReadonlyArray<any> | undefined => rows
    })

/** A connection that reports a write's affected rows itself, without the driver's whole result. */
export interface CountingConnection extends PreparedConnection {
  readonly executeCounted: (
    statement: CompiledStatement,
    params: ReadonlyArray<unknown>
  ) => Effect.Effect<number, SqlError>
}

/** Whether `connection` counts a write's affected rows itself. */
export const canCount = (connection: Connection): connection is CountingConnection =>
  typeof (connection as Partial<CountingConnection>).executeCounted === "function"

/**
 * The rows a write changed, from a driver's result: mysql2 `affectedRows`, better-sqlite3 `changes`, pg `rowCount`,
 * postgres.js `count` (the stock @effect/sql-pg client).
 */
export const affectedRows = (result: any): number =>
  Number(result?.affectedRows ?? result?.changes ?? result?.rowCount ?? result?.count ?? 0)

/** Runs a write on `connection` and returns how many rows it changed. */
export const countOn = (
  connection: Connection,
  statement: CompiledStatement,
  params: ReadonlyArray<unknown>
): Effect.Effect<number, SqlError> =>
  canCount(connection)
    ? connection.executeCounted(statement, params)
    : Effect.map(connection.executeRaw(statement.sql, params), affectedRows)

/** The key under which a client offers its direct runner. */
export const RunnerTypeId: unique symbol = Symbol.for("@fastorm/core/CompiledStatement/Runner")

/** Runs compiled statements, returning rows as the driver gives them (no row transform). */
export type Run = (statement: CompiledStatement, params: ReadonlyArray<unknown>) => Effect.Effect<
  ReadonlyArray<any>,
  SqlError
>

/** A client that runs compiled statements directly. */
export interface Runner {
  readonly [RunnerTypeId]: Run
}

/** The client's direct runner, if it has one. */
export const runnerOf = (client: SqlClient.SqlClient): Run | undefined => (client as Partial<Runner>)[RunnerTypeId]

/** Runs `statement` on `client`: directly when the client can, else through an ordinary @effect/sql statement. */
export const run = (
  client: SqlClient.SqlClient,
  statement: CompiledStatement,
  params: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<any>, SqlError> => {
  const direct = runnerOf(client)
  return direct !== undefined ? direct(statement, params) : client.unsafe(statement.sql, params)
}

/** The key under which a client offers its direct counting runner (writes that return their affected rows). */
export const CountRunnerTypeId: unique symbol = Symbol.for("@fastorm/core/CompiledStatement/CountRunner")

/** Runs a compiled write and returns how many rows it changed. */
export type Count = (statement: CompiledStatement, params: ReadonlyArray<unknown>) => Effect.Effect<number, SqlError>

/** The client's direct counting runner, if it has one. */
export const countRunnerOf = (client: SqlClient.SqlClient): Count | undefined =>
  (client as { readonly [CountRunnerTypeId]?: Count })[CountRunnerTypeId]

/**
 * Runs a write on `client` and returns how many rows it changed: directly when the client can, else through an
 * ordinary @effect/sql statement and the driver's result.
 */
export const runCounted = (
  client: SqlClient.SqlClient,
  statement: CompiledStatement,
  params: ReadonlyArray<unknown>
): Effect.Effect<number, SqlError> => {
  const direct = countRunnerOf(client)
  return direct !== undefined
    ? direct(statement, params)
    : Effect.map(client.unsafe(statement.sql, params).raw, affectedRows)
}

const builtInTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/**
 * When FastORM's direct runs and routing open spans: `auto` when a tracer other than Effect's built-in one is
 * installed (an exporter is listening), `always` also under the built-in tracer, for code that reads
 * `Effect.currentSpan` (as `FastOrmTest` does to log each statement's routing reason).
 */
export class StatementSpans extends Context.Reference<StatementSpans>()("@fastorm/core/StatementSpans", {
  defaultValue: (): "auto" | "always" => "auto"
}) {}

/**
 * Whether anyone listens to spans in this fiber: tracing is enabled and the tracer is not Effect's built-in one
 * (which records nothing anywhere), or `StatementSpans` says always. A span nobody sees is not worth its cost on
 * every statement.
 */
export const isTracing = (fiber: Fiber.RuntimeFiber<any, any>): boolean =>
  fiber.getFiberRef(FiberRef.currentTracerEnabled) &&
  (fiber.currentTracer !== builtInTracer || Context.get(fiber.currentContext, StatementSpans) === "always")

/** What a direct runner must do before running: where the statement must go instead, if anywhere. */
export type Placement =
  | { readonly _tag: "Transaction"; readonly connection: Connection }
  | { readonly _tag: "Statement" }
  | { readonly _tag: "Direct" }

/** Marks a statement transformer that only observes statements (the router's span capture): direct runs stay direct. */
export const ObservingTransformer: unique symbol = Symbol.for("@fastorm/core/CompiledStatement/ObservingTransformer")

const transformed: Placement = { _tag: "Statement" }
const direct: Placement = { _tag: "Direct" }

/**
 * A statement inside a transaction (any @effect/sql client's: they share one tag) runs on the transaction's
 * connection; with a statement transformer installed, only the ordinary path applies it.
 */
export const placement = (fiber: Fiber.RuntimeFiber<any, any>): Placement => {
  const transformer = fiber.getFiberRef(Statement.currentTransformer)
  if (transformer._tag === "Some" && !(ObservingTransformer in transformer.value)) return transformed
  const transaction = Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)
  return transaction._tag === "Some" ? { _tag: "Transaction", connection: transaction.value[0] } : direct
}

/** The span attributes @effect/sql puts on a statement, for a direct run that is traced. */
export const spanAttributes = (
  statement: CompiledStatement,
  base: ReadonlyArray<readonly [string, unknown]>
): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {}
  for (const [key, value] of base) attributes[key] = value
  attributes["db.operation.name"] = "execute"
  attributes["db.query.text"] = statement.sql
  return attributes
}

/**
 * A direct runner over `on` (the run on the connection it picks for a statement, given the connection a transaction
 * holds, if any): a statement transformer sends the statement down `fallback`, @effect/sql's own path; a
 * `sql.execute` span covers it only when a tracer listens. Node clients pick their pooled connection, the router
 * the node its decision names. `on` is told the fiber that runs what it returns as it is, with no span set around
 * it (undefined under a tracer), so a caller that reads the fiber anyway needs no runtime step for it.
 */
export const makeRunnerWith = <A>(
  on: (
    transaction: Connection | undefined,
    statement: CompiledStatement,
    params: ReadonlyArray<unknown>,
    fiber: Fiber.RuntimeFiber<any, any> | undefined
  ) => Effect.Effect<A, SqlError>,
  fallback: (statement: CompiledStatement, params: ReadonlyArray<unknown>) => Effect.Effect<A, SqlError>,
  attributes: ReadonlyArray<readonly [string, unknown]>
) =>
(statement: CompiledStatement, params: ReadonlyArray<unknown>): Effect.Effect<A, SqlError> =>
  Effect.withFiberRuntime((fiber) => {
    const where = placement(fiber)
    if (where._tag === "Statement") return fallback(statement, params)
    const transaction = where._tag === "Transaction" ? where.connection : undefined
    return isTracing(fiber)
      ? Effect.withSpan(on(transaction, statement, params, undefined), "sql.execute", {
        kind: "client",
        captureStackTrace: false,
        attributes: spanAttributes(statement, attributes)
      })
      : on(transaction, statement, params, fiber)
  })

/**
 * A direct runner over one connection (a node's pooled connection): transactions and transformers as @effect/sql
 * would, a `sql.execute` span only when a tracer listens. `fallback` is the client's ordinary path.
 */
export const makeRunner = (
  connection: Connection,
  fallback: (statement: CompiledStatement, params: ReadonlyArray<unknown>) => Effect.Effect<
    ReadonlyArray<any>,
    SqlError
  >,
  attributes: ReadonlyArray<readonly [string, unknown]>
): Run =>
  makeRunnerWith(
    (transaction, statement, params) => executeOn(transaction ?? connection, statement, params),
    fallback,
    attributes
  )

/** A direct counting runner over one connection, placed and traced as `makeRunner`'s statements are. */
export const makeCountRunner = (
  connection: Connection,
  fallback: (statement: CompiledStatement, params: ReadonlyArray<unknown>) => Effect.Effect<number, SqlError>,
  attributes: ReadonlyArray<readonly [string, unknown]>
): Count =>
  makeRunnerWith(
    (transaction, statement, params) => countOn(transaction ?? connection, statement, params),
    fallback,
    attributes
  )
