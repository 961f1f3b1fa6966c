/**
 * A MySQL / MariaDB `SqlClient` over a mysql2 pool that FastORM owns.
 *
 * `MysqlClient.make` from @effect/sql-mysql2 cannot be used for a cluster node: it connects at start (a replica that
 * is down would fail the layer), it hides its pool (no per-session settings such as `SET SESSION TRANSACTION READ
 * ONLY`), and mysql2's pool waits for a free connection without any bound. This client keeps the same compiler and
 * row semantics and adds those three things (`mysqlPool.ts`, `mysqlSession.ts`, `mysqlRunner.ts`, `mysqlConnections.ts`,
 * `mysqlStream.ts`), pipelined connections (`mysqlLanes.ts`), and, on MariaDB, the GTID of each write's commit from
 * its OK packet (`mysqlPositions.ts`).
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import type { HeldConnection } from "@fastorm/core"
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
import { poolBounds } from "../OptimalConfig.js"
import { cancellable } from "./cancellable.js"
import * as Drivers from "./drivers.js"
import {
  CommittingConnection,
  LedConnection,
  PooledConnection,
  ReadConnection,
  ReservedConnection
} from "./mysqlConnections.js"
import * as MysqlLanes from "./mysqlLanes.js"
import * as MysqlPool from "./mysqlPool.js"
import * as MysqlRunner from "./mysqlRunner.js"
import { acquireReleaseSync } from "./scopedRelease.js"

export type { MysqlEndpoint } from "./mysqlPool.js"
export { sessionStatements } from "./mysqlSession.js"

/** Options of one node's client. */
export interface MysqlNodeOptions {
  readonly alias: string
  readonly readOnly: boolean
  readonly spanAttributes?: Record<string, unknown> | undefined
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
    const laneCount = MysqlLanes.laneCount(config.pipelinedConnections, poolBounds(config).max)
    const lanes = laneCount > 0 ? yield* MysqlLanes.make(pool, options.alias, laneCount, deadlineMs) : undefined
    const runner = MysqlRunner.make(pool, options.alias, deadlineMs, lanes)

    /** Borrows a connection and makes `as` of it in the pool's callback (no `map` over the wait). */
    const checkoutAs = <A>(as: (conn: Mysql.PoolConnection) => A) =>
      cancellable<A, SqlError>((resume) =>
        pool.borrow((conn) => resume(conn instanceof SqlError ? Effect.fail(conn) : Effect.succeed(as(conn))))
      )
    const checkout = checkoutAs((conn) => conn)
    const giveBack = (conn: Mysql.PoolConnection, exit: Exit.Exit<unknown, unknown>) => {
      // An interrupted statement may still be running on the server: never hand that connection to anyone else.
      if (Exit.isInterrupted(exit) || runner.isBroken(conn)) conn.destroy()
      else pool.giveBack(conn)
    }
    const acquire = acquireReleaseSync(checkout, giveBack)
    // Outside a transaction each statement borrows a connection for its own duration only (a stream, for its own).
    const pooledStream = (read: boolean): Connection["executeStream"] => (sql, params, transformRows) =>
      Stream.unwrapScoped(Effect.map(acquire, (conn) => runner.stream(conn, sql, params, transformRows, read)))
    const ownStream = pooledStream(false)
    const readStream = pooledStream(true)
    const pooled = new PooledConnection(runner, ownStream)
    // A transaction's connection, held with no scope (`Connections.Holds`; its scoped reserve is made from it): the
    // cell of its last statement's GTID. `read`: held for a stream of reads, which `cutReads` ends at once.
    const holdFor = (read: boolean) =>
      checkoutAs((conn): HeldConnection => ({
        connection: new ReservedConnection(runner, conn, read),
        release: (exit) => Effect.sync(() => giveBack(conn, exit))
      }))
    const hold = holdFor(false)

    const commitPositions: CommitPositions = {
      costsStatement: false,
      runCommitted: (use) =>
        Effect.suspend(() => {
          // One object per run, the cell of its statements' GTIDs: no FiberRef write, no closure per run.
          const committing = new CommittingConnection(runner, ownStream)
          return Effect.map(use(committing), (value) => [value, committing.gtid] as const)
        }),
      lastCommit: (reserved) => reserved instanceof ReservedConnection ? reserved.gtid : undefined
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
      reads: {
        connection: new ReadConnection(runner, readStream),
        cut: runner.cutReads,
        reserve: NodeClient.scopedHold(holdFor(true)),
        // A session read with its replica's wait in front (`mysqlLead.ts`): made per read, for the wait's rows.
        leading: (sql, onRows, waitMs = 0) => new LedConnection(runner, readStream, { sql, onRows, waitMs })
      },
      hold,
      compiler: MysqlClient.makeCompiler(),
      spanAttributes,
      statementDeadline: Duration.millis(deadlineMs),
      poolStatus: () => ({ ...pool.status(), pipelined: lanes?.open() ?? 0 })
    })
    return Object.assign(client, { commitPositions })
  })
