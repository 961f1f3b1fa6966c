/**
 * One better-sqlite3 database as @effect/sql connections. better-sqlite3 is synchronous, so a statement runs to its
 * end inside one step of one fiber: nothing else can interleave with it. The only thing a statement must wait for is
 * another fiber's open transaction on the one connection (BEGIN..COMMIT spans many steps). So a transaction takes
 * the connection's lock for its whole length, and every other statement runs at once when no transaction holds it
 * (the common case: no scope, no semaphore), else waits for the lock like a transaction would.
 *
 * Statements are prepared once per SQL text on this connection (BEGIN and COMMIT too) and kept, up to a bound
 * (sqliteStatements.ts).
 *
 * A read-only node may have reader threads (sqliteThreads.ts): outside a transaction, a read whose measured time is
 * mostly SQLite's own work runs there instead (sqliteOffload.ts decides), and the event loop goes on meanwhile. The
 * threads start at the first such read.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type { CompiledStream, HeldConnection } from "@fastorm/core"
import { CompiledStatement } from "@fastorm/core"
import type Sqlite from "better-sqlite3"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import * as Lock from "./sqliteLock.js"
import * as Offload from "./sqliteOffload.js"
import * as Rows from "./sqliteRows.js"
import * as Statements from "./sqliteStatements.js"
import type * as Stream from "./sqliteStream.js"
import type { ReaderThreads } from "./sqliteThreads.js"

/** A connection that also reports a write's affected rows (better-sqlite3 `changes`) and streams in batches. */
export type SqliteConnection = CompiledStatement.CountingConnection & CompiledStream.BatchConnection

/** The database's statement-running connections. */
export interface SqliteConnections {
  /** Statements outside transactions: run at once unless another fiber's transaction holds the connection. */
  readonly connection: SqliteConnection
  /** A transaction's connection: it takes the lock at its first statement (BEGIN) and holds it to the scope's end. */
  readonly reserve: Effect.Effect<SqliteConnection, SqlError, Scope.Scope>
  /** `reserve` with no scope: the lock is held until the connection's release (`Connections.Holds`). */
  readonly hold: Effect.Effect<HeldConnection, never>
}

/** How a connection streams, given its own statements' run (sqliteStream.ts). */
export type StreamOn = (run: Stream.Run) => Stream.Streams

/** Connections over `db`: statements prepared once per text, a lock only transactions take. */
export const make = (db: Sqlite.Database, streamOn: StreamOn, threads?: ReaderThreads): SqliteConnections => {
  const statements = Statements.make(db, threads !== undefined)
  const lock = Lock.make()

  /** Runs now, in this step of the fiber: better-sqlite3 returns before anything else can run. */
  const attempt = (
    fiber: { readonly currentContext: Context.Context<never> },
    sql: string,
    params: ReadonlyArray<unknown>,
    mode: Statements.Mode
  ): Effect.Effect<any, SqlError> => {
    try {
      return Effect.succeed(
        statements.run(sql, params, mode, Context.get(fiber.currentContext, SqlClient.SafeIntegers))
      )
    } catch (error) {
      return Effect.fail(error as SqlError)
    }
  }
  const now = (sql: string, params: ReadonlyArray<unknown>, mode: Statements.Mode) =>
    Effect.withFiberRuntime<any, SqlError>((fiber) => attempt(fiber, sql, params, mode))

  /** After the open transaction ends: the lock for this statement alone, released as soon as it ran. */
  const inTurn = (sql: string, params: ReadonlyArray<unknown>, mode: Statements.Mode) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(lock.acquire), () =>
        Effect.withFiberRuntime<any, SqlError>((fiber) => {
          const result = attempt(fiber, sql, params, mode)
          lock.release()
          return result
        }))
    )

  /**
   * On a reader thread, with its own connection: the event loop goes on while SQLite works. If the thread stopped
   * before answering, the read runs here instead: a read is safe to run again, and nothing is lost.
   */
  const onThread = (
    fiber: { readonly currentContext: Context.Context<never> },
    prepared: Statements.Prepared,
    sql: string,
    params: ReadonlyArray<unknown>,
    mode: Statements.Mode
  ) => {
    const safe = Context.get(fiber.currentContext, SqlClient.SafeIntegers)
    return Effect.async<any, SqlError>((resume) =>
      threads!.run(sql, params, safe, (error, names, values, micros, stopped) => {
        if (stopped === true) {
          return resume(Effect.withFiberRuntime((fiber) => onConnection(fiber, sql, params, mode)))
        }
        if (error !== undefined) return resume(Effect.fail(error))
        Offload.observe(prepared.cost!, micros, values.length)
        resume(Effect.succeed(
          mode === "changes"
            ? values.length
            : mode === "values"
            ? values
            : mode === "arrays"
            ? CompiledStatement.withColumns(values, names)
            : Rows.rowsOf(values, prepared.threadRows!.forNames(names))
        ))
      })
    )
  }

  /**
   * Outside a transaction: on a reader thread if the statement goes there (its own connection needs no lock), else
   * at once, or after the open transaction ends. The first read that would go to a thread starts them and waits
   * for one (bounded): run here meanwhile, it and the reads like it would hold the event loop, and a thread's
   * readiness, an event, would wait behind them.
   */
  const free = (sql: string, params: ReadonlyArray<unknown>, mode: Statements.Mode) =>
    Effect.withFiberRuntime<any, SqlError>((fiber) => {
      if (threads !== undefined) {
        const prepared = statements.cached(sql)
        if (prepared?.cost?.away === true) {
          if (threads.available()) return onThread(fiber, prepared, sql, params, mode)
          // Started or not, a thread is taken only if one is there now (it may have stopped since).
          return Effect.flatMap(threads.ready, () =>
            threads.available()
              ? onThread(fiber, prepared, sql, params, mode)
              : onConnection(fiber, sql, params, mode))
        }
      }
      return onConnection(fiber, sql, params, mode)
    })

  /** On this connection: at once, or after the open transaction ends. */
  const onConnection = (
    fiber: { readonly currentContext: Context.Context<never> },
    sql: string,
    params: ReadonlyArray<unknown>,
    mode: Statements.Mode
  ) => lock.isHeld() ? inTurn(sql, params, mode) : attempt(fiber, sql, params, mode)

  // Built once per reserved connection too: the stream is made here, not by copying the connection afterwards.
  const connectionOf = (
    run: (sql: string, params: ReadonlyArray<unknown>, mode: Statements.Mode) => Effect.Effect<any, SqlError>
  ): SqliteConnection => {
    const execute: Connection["execute"] = (sql, params, transformRows) =>
      transformRows ? Effect.map(run(sql, params, "rows"), transformRows) : run(sql, params, "rows")
    return {
      execute,
      executeRaw: (sql, params) => run(sql, params, "raw"),
      executeValues: (sql, params) => run(sql, params, "values"),
      executeUnprepared: (sql, params, transformRows) =>
        transformRows ? Effect.map(run(sql, params ?? [], "rows"), transformRows) : run(sql, params ?? [], "rows"),
      ...streamOn(run),
      executePrepared: (statement, params) => run(statement.sql, params, statement.arrays === true ? "arrays" : "rows"),
      executeCounted: (statement, params) => run(statement.sql, params, "changes")
    }
  }

  const connection = connectionOf(free)

  /**
   * A reserved connection takes the lock at its first statement and holds it until it is given back. When the lock
   * is free (the common case) that is one flag, in the statement's own step: no deferred, no extra fiber step. Only
   * when another transaction holds it does the first statement wait, and statements racing to be its first (none do
   * in a transaction: BEGIN comes first) wait for the one taking it.
   */
  const open = (): { readonly connection: SqliteConnection; readonly giveBack: () => void } => {
    let mine = false
    let closed = false
    let taking: Deferred.Deferred<void> | undefined
    const wait = Effect.suspend((): Effect.Effect<void> => {
      if (mine) return Effect.void
      if (taking !== undefined) return Deferred.await(taking)
      const gate = taking = Deferred.unsafeMake<void>(FiberId.none)
      return Effect.uninterruptibleMask((restore) =>
        Effect.matchCauseEffect(restore(lock.acquire), {
          // Only an interruption: the next statement tries again.
          onFailure: (cause) => {
            taking = undefined
            return Effect.zipRight(Deferred.failCause(gate, cause), Effect.failCause(cause))
          },
          onSuccess: () => {
            taking = undefined
            // Handed the lock after it was given back: release it at once (the statement then runs as a free one).
            if (closed) lock.release()
            else mine = true
            return Deferred.succeed(gate, undefined)
          }
        })
      )
    })
    const run = (sql: string, params: ReadonlyArray<unknown>, mode: Statements.Mode) =>
      Effect.withFiberRuntime<any, SqlError>((fiber) => {
        if (mine) return attempt(fiber, sql, params, mode)
        if (!closed && taking === undefined && lock.tryAcquire()) {
          mine = true
          return attempt(fiber, sql, params, mode)
        }
        return Effect.zipRight(wait, Effect.suspend(() => mine ? now(sql, params, mode) : free(sql, params, mode)))
      })
    const giveBack = () => {
      closed = true
      if (mine) {
        mine = false
        lock.release()
      }
    }
    return { connection: connectionOf(run), giveBack }
  }

  const reserve = Effect.withFiberRuntime<SqliteConnection, never, Scope.Scope>((fiber) => {
    // The scope read from the fiber's context in this step (`Effect.scope` was one more).
    const scope = Context.unsafeGet(fiber.currentContext as Context.Context<Scope.Scope>, Scope.Scope)
    const { connection, giveBack } = open()
    return Effect.as(Scope.addFinalizer(scope, Effect.sync(giveBack)), connection)
  })

  // No scope: given back by its release (`Connections.Holds`).
  const hold = Effect.sync((): HeldConnection => {
    const { connection, giveBack } = open()
    return { connection, release: () => Effect.sync(giveBack) }
  })

  return { connection, reserve, hold }
}
