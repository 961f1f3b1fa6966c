/**
 * A SQLite `SqlClient` for one database file, with FastORM's pragmas applied.
 *
 * better-sqlite3 is synchronous and @effect/sql-sqlite-node serialises every statement on one connection, so the
 * writer is a single connection by construction; readers open the same file `readonly`, which SQLite enforces.
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import type * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import { CompiledStatement, ConnectionWrapper } from "@fastorm/core"
import type Sqlite from "better-sqlite3"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createRequire } from "node:module"
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
    const streamOn = makeStream(filename, Math.round(Duration.toMillis(config.busyTimeout)))
    // One connection behind a semaphore: never "exhausted" in the pool sense.
    // Each statement takes the client's lock like its own statements do, so it never runs inside another fiber's
    // transaction on the one connection. SQLite is local: there is no network deadline.
    const ownReserve = client.reserve
    const wrapped = ConnectionWrapper.make(
      (_sql, _params, run) => Effect.scoped(Effect.flatMap(ownReserve, run)),
      (_sql, _params, run) => Stream.unwrapScoped(Effect.map(ownReserve, run))
    )
    // Streams iterate on a connection of their own (below); @effect/sql-sqlite-node's executeStream dies.
    const connection: Connection = { ...wrapped, executeStream: streamOn(wrapped.execute) }
    // A reserved connection takes the client's lock at its first statement, not before: a stream (which reads on a
    // connection of its own) then never holds the node's one connection, so statements run while it is consumed.
    // A transaction's BEGIN takes the lock and holds it to the end.
    const lazyReserve = Effect.flatMap(Effect.scope, (scope) => Effect.cached(Scope.extend(ownReserve, scope)))
    const reserve = Effect.map(lazyReserve, (held): Connection => {
      const execute: Connection["execute"] = (sql, params, transformRows) =>
        Effect.flatMap(held, (c) => c.execute(sql, params, transformRows))
      return {
        execute,
        executeRaw: (sql, params) => Effect.flatMap(held, (c) => c.executeRaw(sql, params)),
        executeValues: (sql, params) => Effect.flatMap(held, (c) => c.executeValues(sql, params)),
        executeUnprepared: (sql, params, transformRows) =>
          Effect.flatMap(held, (c) => c.executeUnprepared(sql, params, transformRows)),
        executeStream: streamOn(execute)
      }
    })
    return Object.assign(client, {
      reserve,
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

type Execute = Connection["execute"]

const require = createRequire(import.meta.url)

/** Rows read from a statement's iterator per pull. */
const CHUNK = 256

/**
 * Streams on SQLite. Outside a transaction, a stream iterates its statement on a read-only connection of its own to
 * the same file (WAL readers see every commit and never block the writer), so the node's one connection stays free
 * while the stream is consumed. Inside a transaction (which must see its own writes) and on an in-memory database
 * (which no other connection can open), the rows are read at once on the given connection.
 */
const makeStream = (filename: string, busyTimeoutMs: number) => {
  const memory = filename === ":memory:" || filename === "" || filename.startsWith("file::memory:")
  const iterate = (sql: string, params: ReadonlyArray<unknown>, safeIntegers: boolean) =>
    Effect.gen(function*() {
      // better-sqlite3 is CommonJS and already loaded with @effect/sql-sqlite-node: `require` gives that module.
      const Database: typeof Sqlite = require("better-sqlite3")
      const db = yield* Effect.acquireRelease(
        Effect.try({
          try: () => new Database(filename, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs }),
          catch: (cause) => new SqlError({ cause, message: "Failed to open the SQLite database for a stream" })
        }),
        (db) => Effect.sync(() => db.close())
      )
      const iterator = yield* Effect.try({
        try: () => {
          const statement = db.prepare(sql)
          if (safeIntegers) statement.safeIntegers(true)
          return statement.iterate(...params) as IterableIterator<unknown>
        },
        catch: (cause) => new SqlError({ cause, message: "Failed to stream statement" })
      })
      // Closes the statement before the connection (finalizers run in reverse order).
      yield* Effect.addFinalizer(() => Effect.sync(() => iterator.return?.()))
      const pull = Effect.try({
        try: () => {
          const rows: Array<unknown> = []
          for (let next = iterator.next(); !next.done; next = iterator.next()) {
            rows.push(next.value)
            if (rows.length === CHUNK) break
          }
          return rows
        },
        catch: (cause) => Option.some(new SqlError({ cause, message: "Failed to stream statement" }))
      }).pipe(
        Effect.flatMap((rows) =>
          rows.length === 0 ? Effect.fail(Option.none()) : Effect.succeed(Chunk.unsafeFromArray(rows))
        )
      )
      return Stream.repeatEffectChunkOption(pull)
    })
  return (execute: Execute): Connection["executeStream"] => (sql, params, transformRows) =>
    Stream.unwrapScoped(Effect.withFiberRuntime((fiber) => {
      const inTransaction = Option.isSome(Context.getOption(fiber.currentContext, SqlClient.TransactionConnection))
      if (memory || inTransaction) return Effect.succeed(Stream.fromIterableEffect(execute(sql, params, transformRows)))
      const safeIntegers = Context.get(fiber.currentContext, SqlClient.SafeIntegers)
      return Effect.map(
        iterate(sql, params, safeIntegers),
        (rows) =>
          transformRows === undefined
            ? rows
            : Stream.mapChunks(rows, (c) => Chunk.unsafeFromArray(transformRows(Chunk.toArray(c) as Array<object>)))
      )
    }))
}
