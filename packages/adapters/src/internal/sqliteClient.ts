/**
 * A SQLite node client for one database file, with FastORM's pragmas applied.
 *
 * better-sqlite3 is synchronous and the node has one connection (sqliteConnection.ts serialises transactions on it),
 * so the writer is a single connection by construction; readers open the same file `readonly`, which SQLite
 * enforces. A reader also has `readerThreads` reader threads for its slow reads, started at the first one
 * (sqliteThreads.ts).
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { DriverNotInstalled } from "../AdapterError.js"
import type { NodeClient } from "../DatabaseAdapter.js"
import * as NodeClients from "../NodeClient.js"
import type { SqliteOptimalConfig } from "../OptimalConfig.js"
import * as Drivers from "./drivers.js"
import * as SqliteConnection from "./sqliteConnection.js"
import { inMemory, makeStream } from "./sqliteStream.js"
import * as Threads from "./sqliteThreads.js"

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
): Effect.Effect<NodeClient, SqlError | DriverNotInstalled, Scope.Scope | Reactivity> =>
  Effect.gen(function*() {
    // A typed DriverNotInstalled if better-sqlite3 is not installed.
    const { Database } = yield* Drivers.sqlite.load
    const readOnly = options.readOnly || config.openMode === "ro"
    const db = yield* Effect.acquireRelease(
      Effect.try({
        // better-sqlite3 throws when it cannot open the file (SQLITE_CANTOPEN, a missing folder, a read-only
        // in-memory database): bad input, a typed failure, not a defect.
        try: () => new Database(filename, { readonly: readOnly, fileMustExist: config.openMode !== "rwc" }),
        catch: (cause) => new SqlError({ message: "Failed to open the SQLite database", cause })
      }),
      (db) => Effect.sync(() => db.close())
    )
    for (const pragma of pragmas(config, readOnly)) {
      yield* Effect.try({
        try: () => db.exec(pragma),
        catch: (cause) => new SqlError({ cause, message: "Failed to execute statement" })
      })
    }
    // The node's one connection: statements run on it directly (prepared once per text), and wait only for another
    // fiber's open transaction (sqliteConnection.ts). SQLite is local: there is no network deadline.
    // Streams iterate on a connection of their own (sqliteStream.ts), except inside a transaction.
    const busyTimeoutMs = Math.round(Duration.toMillis(config.busyTimeout))
    // An in-memory database is the connection's own: no other connection, on a thread or not, can open it.
    const threads = options.readOnly && config.readerThreads > 0 && !inMemory(filename)
      ? yield* Threads.make(config.readerThreads, { filename, pragmas: pragmas(config, true), busyTimeoutMs })
      : undefined
    const own = SqliteConnection.make(db, makeStream(Database, filename, busyTimeoutMs), threads)
    const spanAttributes: ReadonlyArray<readonly [string, unknown]> = [
      ...Object.entries(options.spanAttributes ?? {}),
      ["db.system.name", "sqlite"],
      ["fastorm.node", options.alias]
    ]
    return yield* NodeClients.make({
      connection: own.connection,
      reserve: own.reserve,
      hold: own.hold,
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes,
      // In-process and synchronous: there is no network to wait on, and a running statement cannot be interrupted
      // anyway (better-sqlite3 holds the event loop). A router's timer around it would only cost fibers.
      statementDeadline: Duration.zero
    })
  })
