/**
 * Compiled statements (repositories' reads and writes) skip @effect/sql's Statement, scope and span: routed like any
 * statement, run as prepared statements on the node's pooled connection, traced only when a tracer listens
 * (ARCHITECTURE.md, "The path of one statement"). The router offers these runners on its read and write clients.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import { CompiledStatement, CompiledStream } from "@fastorm/core"
import type { ConnectionWrapper } from "@fastorm/core"
import * as Effect from "effect/Effect"

/** Runs one compiled statement wherever `around` routes it: `execute` on the chosen connection. */
const direct = <A>(
  around: ConnectionWrapper.Around,
  spanAttributes: ReadonlyArray<readonly [string, unknown]>,
  execute: (
    connection: Connection,
    statement: CompiledStatement.CompiledStatement,
    params: ReadonlyArray<unknown>
  ) => Effect.Effect<A, SqlError>,
  fallback: (
    statement: CompiledStatement.CompiledStatement,
    params: ReadonlyArray<unknown>
  ) => Effect.Effect<A, SqlError>
) =>
(statement: CompiledStatement.CompiledStatement, params: ReadonlyArray<unknown>): Effect.Effect<A, SqlError> =>
  Effect.withFiberRuntime((fiber) => {
    // A statement transformer applies only on @effect/sql's own path.
    if (CompiledStatement.placement(fiber)._tag === "Statement") return fallback(statement, params)
    const effect = around(statement.sql, params, (c) => execute(c, statement, params))
    return CompiledStatement.isTracing(fiber)
      ? Effect.withSpan(effect, "sql.execute", {
        kind: "client",
        captureStackTrace: false,
        attributes: CompiledStatement.spanAttributes(statement, spanAttributes)
      })
      : effect
  })

/**
 * Offers `client` the direct runners of rows and of counting writes (MySQL's affectedRows, SQLite's changes, pg's
 * rowCount), both routed through `around`, and of streams in batches, placed through `aroundStream` (a transaction's
 * stream too: the router's decision keeps it on the transaction's connection).
 */
export const offer = (
  client: SqlClient.SqlClient,
  around: ConnectionWrapper.Around,
  aroundStream: ConnectionWrapper.AroundStream,
  spanAttributes: ReadonlyArray<readonly [string, unknown]>
): SqlClient.SqlClient =>
  Object.assign(client, {
    [CompiledStatement.RunnerTypeId]: direct(
      around,
      spanAttributes,
      CompiledStatement.executeOn,
      (statement, params) => client.unsafe(statement.sql, params)
    ),
    [CompiledStatement.CountRunnerTypeId]: direct(
      around,
      spanAttributes,
      CompiledStatement.countOn,
      (statement, params) => Effect.map(client.unsafe(statement.sql, params).raw, CompiledStatement.affectedRows)
    ),
    [CompiledStream.StreamRunnerTypeId]: CompiledStream.makeStreamRunnerWith(
      (_transaction, statement, params) =>
        aroundStream(statement.sql, params, (c) => CompiledStream.streamOn(c, statement, params)),
      CompiledStream.statementStream(client),
      spanAttributes
    )
  })
