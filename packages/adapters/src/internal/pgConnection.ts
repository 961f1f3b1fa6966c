/**
 * The connection a PostgreSQL node's statements go through (`CompiledStatement`'s connection), over a `run` that sends
 * one query: pooled, a transaction's reserved client, a session read with its lead, a write that records its position
 * (`pgClient.ts`).
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { CompiledStatement, ConnectionWrapper } from "@fastorm/core"
import { CompiledStream } from "@fastorm/core"
import * as Chunk from "effect/Chunk"
import type * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type Pg from "pg"
import type * as PgCursor from "./pgCursor.js"
import type { Prepared } from "./pgPrepared.js"
import { rowsFor, rowsOf } from "./pgRows.js"

const countOf = (result: any): number => Number(result?.rowCount ?? 0)
const textQuery = (sql: string, params: ReadonlyArray<unknown>): Pg.QueryConfig => ({
  text: sql,
  values: params as Array<any>
})
const arrayQuery = (sql: string, params: ReadonlyArray<unknown>): Pg.QueryConfig => ({
  text: sql,
  values: params as Array<any>,
  rowMode: "array"
} as Pg.QueryArrayConfig)

/**
 * A connection whose statements run through `run`, compiled ones as `prepared` says (named where `prepare` and the
 * node prepare). An instance of a class, not an object literal: a transaction makes one, and V8 may allocate a
 * literal's objects in the old generation, where it would keep the transaction's closures alive until a full
 * collection (BENCHMARKS.md, lever 24). The methods are own fields, as a literal's were: a caller may spread the
 * connection or pass a method on its own. `unprepared` replaces `executeUnprepared` (a transaction's BEGIN held back,
 * `pgReserved.ts`).
 */
export class PgConnection implements CompiledStatement.CountingConnection, CompiledStream.BatchConnection {
  readonly executePrepared: CompiledStatement.CountingConnection["executePrepared"]
  readonly executeCounted: CompiledStatement.CountingConnection["executeCounted"]
  readonly execute: CompiledStatement.CountingConnection["execute"]
  readonly executeRaw: CompiledStatement.CountingConnection["executeRaw"]
  readonly executeValues: CompiledStatement.CountingConnection["executeValues"]
  readonly executeUnprepared: CompiledStatement.CountingConnection["executeUnprepared"]
  readonly executeStream: CompiledStatement.CountingConnection["executeStream"]
  readonly executeStreamBatches: CompiledStream.BatchConnection["executeStreamBatches"]
  constructor(
    prepared: Prepared,
    run: <A>(query: Pg.QueryConfig, map: (result: any) => A) => Effect.Effect<A, SqlError>,
    stream: PgCursor.StreamRows,
    prepare: boolean,
    unprepared?: ConnectionWrapper.Unprepared
  ) {
    this.executePrepared = prepare
      ? (statement, params) => prepared.run(run, statement, params, rowsFor(statement))
      : (statement, params) => prepared.unnamed(run, statement, params, rowsFor(statement))
    // A write's count comes with its CommandComplete, prepared or not: no RETURNING needed to count.
    this.executeCounted = prepare
      ? (statement, params) => prepared.run(run, statement, params, countOf)
      : (statement, params) => prepared.unnamed(run, statement, params, countOf)
    this.execute = (sql, params, transformRows) =>
      run(textQuery(sql, params), (r) => transformRows ? transformRows(rowsOf(r)) : rowsOf(r))
    this.executeRaw = (sql, params) => run(textQuery(sql, params), (r) => r)
    this.executeValues = (sql, params) => run(arrayQuery(sql, params), (r) => (r as Pg.QueryResult).rows)
    const plain: CompiledStatement.CountingConnection["executeUnprepared"] = (sql, params, transformRows) =>
      run(textQuery(sql, params), (r) => transformRows ? transformRows(rowsOf(r)) : rowsOf(r))
    this.executeUnprepared = unprepared === undefined ? plain : unprepared(plain)
    this.executeStream = (sql, params, transformRows) =>
      transformRows
        ? Stream.mapChunks(
          stream(sql, params, false),
          (c) => Chunk.unsafeFromArray(transformRows(Chunk.toArray(c)))
        )
        : stream(sql, params, false)
    // A compiled statement's stream: its chunks as read, arrays when it asks for them (`asArrays`).
    this.executeStreamBatches = (statement, params) =>
      CompiledStream.batchesOf(stream(statement.sql, params, statement.arrays === true))
  }
}
