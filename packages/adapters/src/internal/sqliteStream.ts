/**
 * Streams on SQLite: on a read-only connection of the stream's own, so the node's one connection stays free.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import type Sqlite from "better-sqlite3"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

type Execute = Connection["execute"]

/** Rows read from a statement's iterator per pull. */
const CHUNK = 256

/** Whether `filename` names an in-memory database, which only the connection that opened it can see. */
export const inMemory = (filename: string): boolean =>
  filename === ":memory:" || filename === "" || filename.startsWith("file::memory:")

/**
 * Streams on SQLite. Outside a transaction, a stream iterates its statement on a read-only connection of its own to
 * the same file (WAL readers see every commit and never block the writer), so the node's one connection stays free
 * while the stream is consumed. Inside a transaction (which must see its own writes) and on an in-memory database
 * (which no other connection can open), the rows are read at once on the given connection.
 */
export const makeStream = (Database: typeof Sqlite, filename: string, busyTimeoutMs: number) => {
  const memory = inMemory(filename)
  const iterate = (sql: string, params: ReadonlyArray<unknown>, safeIntegers: boolean) =>
    Effect.gen(function*() {
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
