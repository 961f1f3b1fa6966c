/**
 * Compiled statements streamed batch by batch. A stream of a repository's query (`query.stream()`) runs its compiled
 * statement the way `CompiledStatement.run` runs a list: directly on a connection that knows how, as batches of rows
 * as the driver read them (arrays of values marked with their columns when the statement asks, `asArrays`), so the
 * model's row decoder takes a batch at a time and no object is built per row only to be read once. Everything
 * @effect/sql's stream would honour is honoured: a transaction's connection, a statement transformer (then its own
 * path runs) and a span whenever a tracer listens.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as CompiledStatement from "./CompiledStatement.js"

/** A statement's rows, a batch at a time: each batch arrays marked with their columns (`asArrays`), or objects. */
export type Batches = Stream.Stream<ReadonlyArray<any>, SqlError>

/** A connection that streams a compiled statement's rows in batches, as arrays when the statement asks for them. */
export interface BatchConnection extends Connection {
  readonly executeStreamBatches: (
    statement: CompiledStatement.CompiledStatement,
    params: ReadonlyArray<unknown>
  ) => Batches
}

/** Whether `connection` streams compiled statements in batches itself. */
export const isBatchConnection = (connection: Connection): connection is BatchConnection =>
  typeof (connection as Partial<BatchConnection>).executeStreamBatches === "function"

/** A stream of rows as its batches (the chunks it was read in), each batch objects as the stream gave them. */
export const batchesOf = (rows: Stream.Stream<any, SqlError>): Batches =>
  Stream.map(Stream.chunks(rows), Chunk.toReadonlyArray)

/** Streams a compiled statement on `connection`: in its own batches where it can, else its row stream's chunks. */
export const streamOn = (
  connection: Connection,
  statement: CompiledStatement.CompiledStatement,
  params: ReadonlyArray<unknown>
): Batches =>
  isBatchConnection(connection)
    ? connection.executeStreamBatches(statement, params)
    : batchesOf(connection.executeStream(statement.sql, params, undefined))

/** The key under which a client offers its direct stream runner. */
export const StreamRunnerTypeId: unique symbol = Symbol.for("@fastorm/core/CompiledStream/StreamRunner")

/** Streams compiled statements directly, in batches (no row transform). */
export type StreamRun = (statement: CompiledStatement.CompiledStatement, params: ReadonlyArray<unknown>) => Batches

/** The client's direct stream runner, if it has one. */
export const streamRunnerOf = (client: SqlClient.SqlClient): StreamRun | undefined =>
  (client as { readonly [StreamRunnerTypeId]?: StreamRun })[StreamRunnerTypeId]

/** @effect/sql's statement stream on `client`, as a stream runner: any client's way, and a direct runner's fallback. */
export const statementStream = (client: SqlClient.SqlClient): StreamRun => (statement, params) =>
  batchesOf(client.unsafe(statement.sql, params).stream)

/** Streams `statement` on `client`: directly when the client can, else through @effect/sql's statement stream. */
export const stream = (
  client: SqlClient.SqlClient,
  statement: CompiledStatement.CompiledStatement,
  params: ReadonlyArray<unknown>
): Batches => (streamRunnerOf(client) ?? statementStream(client))(statement, params)

/**
 * A direct stream runner over `on` (the connection it picks for a statement, given the connection a transaction
 * holds, if any): a statement transformer sends the stream down `fallback`, @effect/sql's own path; a
 * `sql.execute` span covers the stream only when a tracer listens.
 */
export const makeStreamRunnerWith = (
  on: (
    transaction: Connection | undefined,
    statement: CompiledStatement.CompiledStatement,
    params: ReadonlyArray<unknown>
  ) => Batches,
  fallback: StreamRun,
  attributes: ReadonlyArray<readonly [string, unknown]>
): StreamRun =>
(statement, params) =>
  Stream.unwrap(Effect.withFiberRuntime((fiber) => {
    const where = CompiledStatement.placement(fiber)
    if (where._tag === "Statement") return Effect.succeed(fallback(statement, params))
    const batches = on(where._tag === "Transaction" ? where.connection : undefined, statement, params)
    return Effect.succeed(
      CompiledStatement.isTracing(fiber)
        ? Stream.withSpan(batches, "sql.execute", {
          kind: "client",
          captureStackTrace: false,
          attributes: {
            ...CompiledStatement.spanAttributes(statement, attributes),
            "db.operation.name": "executeStream"
          }
        })
        : batches
    )
  }))

/** A direct stream runner over one connection (a node's pooled connection), placed and traced as `makeRunner`'s. */
export const makeStreamRunner = (
  connection: Connection,
  fallback: StreamRun,
  attributes: ReadonlyArray<readonly [string, unknown]>
): StreamRun =>
  makeStreamRunnerWith(
    (transaction, statement, params) => streamOn(transaction ?? connection, statement, params),
    fallback,
    attributes
  )
