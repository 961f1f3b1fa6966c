/**
 * A `Connection` (@effect/sql's five statement methods) whose every statement runs through one function: the shape
 * of every router, recorder or guard that decides, per statement, which connection runs it and what happens around.
 */
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"

/** Runs one statement, given its SQL and parameters, on the connection the wrapper chooses. */
export type Around = <A>(
  sql: string,
  params: ReadonlyArray<unknown>,
  run: (connection: Connection) => Effect.Effect<A, SqlError>
) => Effect.Effect<A, SqlError>

/** Runs one streamed statement on the connection the wrapper chooses. */
export type AroundStream = (
  sql: string,
  params: ReadonlyArray<unknown>,
  run: (connection: Connection) => Stream.Stream<any, SqlError>
) => Stream.Stream<any, SqlError>

/** The connection whose statements run through `statement` and whose streams run through `stream`. */
export const make = (statement: Around, stream: AroundStream): Connection => ({
  execute: (sql, params, transformRows) => statement(sql, params, (c) => c.execute(sql, params, transformRows)),
  executeRaw: (sql, params) => statement(sql, params, (c) => c.executeRaw(sql, params)),
  executeValues: (sql, params) => statement(sql, params, (c) => c.executeValues(sql, params)),
  executeUnprepared: (sql, params, transformRows) =>
    statement(sql, params, (c) => c.executeUnprepared(sql, params, transformRows)),
  executeStream: (sql, params, transformRows) => stream(sql, params, (c) => c.executeStream(sql, params, transformRows))
})
