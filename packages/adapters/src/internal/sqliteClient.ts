/**
 * A SQLite `SqlClient` for one database file, with FastORM's pragmas applied.
 *
 * better-sqlite3 is synchronous and @effect/sql-sqlite-node serialises every statement on one connection, so the
 * writer is a single connection by construction; readers open the same file `readonly`, which SQLite enforces.
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import type * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { SqlError } from "@effect/sql/SqlError"
import { CompiledStatement, ConnectionWrapper } from "@fastorm/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { DriverNotInstalled } from "../AdapterError.js"
import type { NodeClient, PoolStatus } from "../DatabaseAdapter.js"
import type { SqliteOptimalConfig } from "../OptimalConfig.js"
import * as Drivers from "./drivers.js"

/** Options of one SQLite connection. */
export interface SqliteNodeOptions {
  readonly alias: string
  readonly readOnly: boolean
  readonly spanAttributes?: Record<string, unknown> | undefined
}

/** The pragmas run on a new connection, in order. */
export const pragmas = (config: SqliteOptimalConfig, readOnly: boolean): ReadonlyArray<string> => [
  // busy_timeout first: the statements after it may need to wait for the writer's lock.
  `PRAGMA busy_timeout = ${Math.round(Duration.toMillis(config.busyTimeout))}`,
  // journal_mode is a property of the file: a read-only connection cannot change it and inherits the writer's.
  ...(readOnly ? [] : [`PRAGMA journal_mode = ${config.journalMode.toUpperCase()}`]),
  `PRAGMA synchronous = ${config.synchronous.toUpperCase()}`,
  `PRAGMA cache_size = -${Math.round(config.cacheSizeKiB)}`,
  `PRAGMA foreign_keys = ${config.foreignKeys ? "ON" : "OFF"}`
]

/** Opens the file and applies the pragmas. */
export const make = (
  filename: string,
  config: SqliteOptimalConfig,
  options: SqliteNodeOptions
): Effect.Effect<SqliteClient.SqliteClient & NodeClient, SqlError | DriverNotInstalled, Scope.Scope | Reactivity> =>
  Effect.gen(function*() {
    const { SqliteClient } = yield* Drivers.sqlite.load
    const client = yield* SqliteClient.make({
      filename,
      readonly: options.readOnly,
      // The journal mode is ours to set (and a read-only connection must not try to).
      disableWAL: true,
      spanAttributes: { ...options.spanAttributes, "fastorm.node": options.alias }
    }).pipe(
      // better-sqlite3 throws when it cannot open the file (SQLITE_CANTOPEN, a missing folder, a read-only
      // in-memory database): bad input, a typed failure, not a defect.
      Effect.catchAllDefect((cause) =>
        Effect.fail(new SqlError({ message: "Failed to open the SQLite database", cause }))
      )
    )
    for (const pragma of pragmas(config, options.readOnly)) {
      yield* client.unsafe(pragma).raw
    }
    // One connection behind a semaphore: never "exhausted" in the pool sense.
    // Each statement takes the client's lock like its own statements do, so it never runs inside another fiber's
    // transaction on the one connection. SQLite is local: there is no network deadline.
    const connection = ConnectionWrapper.make(
      (_sql, _params, run) => Effect.scoped(Effect.flatMap(client.reserve, run)),
      (_sql, _params, run) => Stream.unwrapScoped(Effect.map(client.reserve, run))
    )
    return Object.assign(client, {
      [CompiledStatement.RunnerTypeId]: CompiledStatement.makeRunner(
        connection,
        (statement, params) => client.unsafe(statement.sql, params),
        [...Object.entries(options.spanAttributes ?? {}), ["db.system.name", "sqlite"], ["fastorm.node", options.alias]]
      ),
      connection,
      // In-process and synchronous: there is no network to wait on, and a running statement cannot be interrupted
      // anyway (better-sqlite3 holds the event loop). A router's timer around it would only cost fibers.
      statementDeadline: Duration.zero,
      poolStatus: (): PoolStatus => ({ open: 1, idle: 1, waiting: 0, max: 1 })
    })
  })
