/**
 * A MySQL / MariaDB `SqlClient` over a mysql2 pool that FastORM owns.
 *
 * `MysqlClient.make` from @effect/sql-mysql2 cannot be used for a cluster node: it connects at start (a replica that
 * is down would fail the layer), it hides its pool (no per-session settings such as `SET SESSION TRANSACTION READ
 * ONLY`), and mysql2's pool waits for a free connection without any bound. This client keeps the same compiler and
 * row semantics and adds those three things (`mysqlPool.ts`, `mysqlRunner.ts`, `mysqlStream.ts`), and, on MariaDB,
 * the GTID of each write's commit from its OK packet (`mysqlPositions.ts`).
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import type { CompiledStatement } from "@fastorm/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Mysql from "mysql2"
import type { DriverNotInstalled } from "../AdapterError.js"
import type { CommitPositions, NodeClient as Shape } from "../DatabaseAdapter.js"
import * as NodeClient from "../NodeClient.js"
import type { MysqlOptimalConfig } from "../OptimalConfig.js"
import * as Drivers from "./drivers.js"
import * as MysqlPool from "./mysqlPool.js"
import * as MysqlRunner from "./mysqlRunner.js"
import { queryStream } from "./mysqlStream.js"
import { acquireReleaseSync } from "./scopedRelease.js"

export type { MysqlEndpoint } from "./mysqlPool.js"
export { sessionStatements } from "./mysqlPool.js"

/** Options of one node's client. */
export interface MysqlNodeOptions {
  readonly alias: string
  readonly readOnly: boolean
  readonly spanAttributes?: Record<string, unknown> | undefined
}

type Exec = (
  sql: string,
  values: ReadonlyArray<unknown>,
  rowsAsArray: boolean,
  method: MysqlRunner.Method,
  map: MysqlRunner.MapResult
) => Effect.Effect<unknown, SqlError>

type TransformRows = Parameters<Connection["execute"]>[2]
type Rows = Effect.Effect<ReadonlyArray<any>, SqlError>

const asRows = (results: unknown): ReadonlyArray<any> => Array.isArray(results) ? results : []
const asIs = (results: unknown): unknown => results

// Applied in the driver callback; without a transform (the direct runners' case) the shared `asRows`: no closure.
const rowsOf = (transformRows: TransformRows): MysqlRunner.MapResult =>
  transformRows === undefined ? asRows : (r: unknown) => transformRows(asRows(r))

// A write's count is read in the driver callback too: no `Effect.map` over the whole result for repositories' writes.
const affectedRows = (results: unknown): number =>
  Number((results as { affectedRows?: unknown } | null)?.affectedRows ?? 0)

const makeConnection = (
  exec: Exec,
  executeStream: Connection["executeStream"]
): CompiledStatement.CountingConnection => ({
  execute: (sql, params, transformRows) => exec(sql, params, false, "execute", rowsOf(transformRows)) as Rows,
  executePrepared: (statement, params) => exec(statement.sql, params, false, "execute", asRows) as Rows,
  executeCounted: (statement, params) =>
    exec(statement.sql, params, false, "execute", affectedRows) as Effect.Effect<number, SqlError>,
  executeRaw: (sql, params) => exec(sql, params, false, "execute", asIs),
  executeValues: (sql, params) => exec(sql, params, true, "execute", asRows) as Rows,
  executeUnprepared: (sql, params, transformRows) => exec(sql, params, false, "query", rowsOf(transformRows)) as Rows,
  executeStream
})

/**
 * The connection of one `runCommitted` run, and the cell its statements' GTIDs go to: each statement borrows a
 * pooled connection and writes its OK packet's GTID into this object. The cell travels with the statement, so a
 * statement run in a fiber the run forked (a deadline's) still tells its run, and a nested run has its own. One
 * object per run, its methods on the prototype: no FiberRef write, no closure per run.
 */
class CommittingConnection implements CompiledStatement.CountingConnection, MysqlRunner.Committed {
  gtid: string | undefined = undefined
  constructor(readonly runner: MysqlRunner.Runner, readonly executeStream: Connection["executeStream"]) {}
  execute(sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows) {
    return this.runner.pooled(sql, params, false, "execute", rowsOf(transformRows), this) as Rows
  }
  executeRaw(sql: string, params: ReadonlyArray<unknown>) {
    return this.runner.pooled(sql, params, false, "execute", asIs, this)
  }
  executePrepared(statement: CompiledStatement.CompiledStatement, params: ReadonlyArray<unknown>) {
    return this.runner.pooled(statement.sql, params, false, "execute", asRows, this) as Rows
  }
  executeCounted(statement: CompiledStatement.CompiledStatement, params: ReadonlyArray<unknown>) {
    return this.runner.pooled(statement.sql, params, false, "execute", affectedRows, this) as Effect.Effect<
      number,
      SqlError
    >
  }
  executeValues(sql: string, params: ReadonlyArray<unknown>) {
    return this.runner.pooled(sql, params, true, "execute", asRows, this) as Effect.Effect<
      ReadonlyArray<ReadonlyArray<unknown>>,
      SqlError
    >
  }
  executeUnprepared(sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows) {
    return this.runner.pooled(sql, params, false, "query", rowsOf(transformRows), this) as Rows
  }
}

/** Builds the client; no connection is opened until the first statement. */
export const make = (
  endpoint: MysqlPool.MysqlEndpoint,
  config: MysqlOptimalConfig,
  options: MysqlNodeOptions
): Effect.Effect<Shape, DriverNotInstalled, Scope.Scope | Reactivity> =>
  Effect.gen(function*() {
    const { Mysql, MysqlClient } = yield* Drivers.mysql.load
    const pool = yield* MysqlPool.make(Mysql, endpoint, config, options)
    const deadlineMs = Math.round(Duration.toMillis(config.statementTimeout)) + 100
    const runner = MysqlRunner.make(pool, options.alias, deadlineMs)

    const acquire = acquireReleaseSync(
      Effect.async<Mysql.PoolConnection, SqlError>((resume) => {
        const cancel = pool.borrow((conn) =>
          resume(conn instanceof SqlError ? Effect.fail(conn) : Effect.succeed(conn))
        )
        return Effect.sync(cancel)
      }),
      (conn, exit) => {
        // An interrupted statement may still be running on the server: never hand that connection to anyone else.
        if (Exit.isInterrupted(exit) || runner.isBroken(conn)) conn.destroy()
        else pool.giveBack(conn)
      }
    )
    // A stream ended early leaves rows on the way: the connection is closed, never reused.
    const abandon = (conn: Mysql.PoolConnection) => () => runner.destroy(conn)
    // Outside a transaction each statement borrows a connection for its own duration only (a stream, for its own).
    const pooledStream: Connection["executeStream"] = (sql, params, transformRows) =>
      Stream.unwrapScoped(Effect.map(acquire, (conn) => queryStream(conn, sql, params, transformRows, abandon(conn))))
    const pooled = makeConnection(
      (sql, values, rowsAsArray, method, map) => runner.pooled(sql, values, rowsAsArray, method, map, undefined),
      pooledStream
    )

    // What the last statement on each reserved connection committed (MariaDB reports it in the OK packet).
    const lastCommits = new WeakMap<Connection, MysqlRunner.Committed>()
    // A reserved connection (a transaction's) streams on itself: the stream sees the transaction's writes.
    const transactionAcquirer = Effect.map(acquire, (conn) => {
      const last: MysqlRunner.Committed = { gtid: undefined }
      const connection = makeConnection(
        (sql, values, rowsAsArray, method, map) => runner.on(conn, sql, values, rowsAsArray, method, map, last),
        (sql, params, transformRows) => queryStream(conn, sql, params, transformRows, abandon(conn))
      )
      lastCommits.set(connection, last)
      return connection
    })

    const commitPositions: CommitPositions = {
      runCommitted: (use) =>
        Effect.suspend(() => {
          const committing = new CommittingConnection(runner, pooledStream)
          return Effect.map(use(committing), (value) => [value, committing.gtid] as const)
        }),
      lastCommit: (reserved) => lastCommits.get(reserved)?.gtid
    }

    const spanAttributes: ReadonlyArray<readonly [string, unknown]> = [
      ...Object.entries(options.spanAttributes ?? {}),
      ["db.system.name", "mysql"],
      ["server.address", endpoint.host],
      ["server.port", endpoint.port],
      ["fastorm.node", options.alias],
      ...(endpoint.database !== undefined ? [["db.namespace", endpoint.database] as const] : [])
    ]
    // mysql2's execute already prepares each text once per connection (its own statement cache).
    const client = yield* NodeClient.make({
      connection: pooled,
      reserve: transactionAcquirer,
      compiler: MysqlClient.makeCompiler(),
      spanAttributes,
      statementDeadline: Duration.millis(deadlineMs),
      poolStatus: pool.status
    })
    return Object.assign(client, { commitPositions })
  })
