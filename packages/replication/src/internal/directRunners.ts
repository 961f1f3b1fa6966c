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
import type * as Fiber from "effect/Fiber"

/**
 * `ConnectionWrapper.Around` given the fiber that runs what it returns, when the runner knows it (no span set around
 * the statement): the router decides in it at once instead of in a runtime step of its own.
 */
export type AroundIn = <A>(
  fiber: Fiber.RuntimeFiber<any, any> | undefined,
  sql: string,
  params: ReadonlyArray<unknown>,
  run: (connection: Connection) => Effect.Effect<A, SqlError>
) => Effect.Effect<A, SqlError>

/**
 * Offers `client` the direct runners of rows and of counting writes (MySQL's affectedRows, SQLite's changes, pg's
 * rowCount), both routed through `around`, and of streams in batches, placed through `aroundStream`: a transaction's
 * statements and streams too, since the router's decision keeps them on the transaction's connection.
 */
export const offer = (
  client: SqlClient.SqlClient,
  around: AroundIn,
  aroundStream: ConnectionWrapper.AroundStream,
  spanAttributes: ReadonlyArray<readonly [string, unknown]>
): SqlClient.SqlClient =>
  Object.assign(client, {
    [CompiledStatement.RunnerTypeId]: CompiledStatement.makeRunnerWith(
      (_transaction, statement, params, fiber) =>
        around(fiber, statement.sql, params, (c) => CompiledStatement.executeOn(c, statement, params)),
      (statement, params) => client.unsafe(statement.sql, params),
      spanAttributes
    ),
    [CompiledStatement.CountRunnerTypeId]: CompiledStatement.makeRunnerWith(
      (_transaction, statement, params, fiber) =>
        around(fiber, statement.sql, params, (c) => CompiledStatement.countOn(c, statement, params)),
      (statement, params) => Effect.map(client.unsafe(statement.sql, params).raw, CompiledStatement.affectedRows),
      spanAttributes
    ),
    [CompiledStream.StreamRunnerTypeId]: CompiledStream.makeStreamRunnerWith(
      (_transaction, statement, params) =>
        aroundStream(statement.sql, params, (c) => CompiledStream.streamOn(c, statement, params)),
      CompiledStream.statementStream(client),
      spanAttributes
    )
  })
