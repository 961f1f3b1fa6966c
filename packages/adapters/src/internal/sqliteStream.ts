/**
 * Streams on SQLite: on a read-only connection of the stream's own, so the node's one connection stays free.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { CompiledStatement, CompiledStream } from "@fastorm/core"
import type Sqlite from "better-sqlite3"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/** Rows read from a statement's iterator per pull. */
const CHUNK = 256

/** Whether `filename` names an in-memory database, which only the connection that opened it can see. */
export const inMemory = (filename: string): boolean =>
  filename === ":memory:" || filename === "" || filename.startsWith("file::memory:")

/** What a statement's run returns for a stream: its rows as objects, or as arrays marked with their columns. */
export type Run = (sql: string, params: ReadonlyArray<unknown>, mode: "rows" | "arrays") => Effect.Effect<
  ReadonlyArray<any>,
  SqlError
>

/** A connection's streams: of rows (@effect/sql's) and of a compiled statement's batches. */
export type Streams = Pick<CompiledStream.BatchConnection, "executeStream" | "executeStreamBatches">

/**
 * Streams on SQLite. Outside a transaction, a stream iterates its statement on a read-only connection of its own to
 * the same file (WAL readers see every commit and never block the writer), so the node's one connection stays free
 * while the stream is consumed. Inside a transaction (which must see its own writes) and on an in-memory database
 * (which no other connection can open), the rows are read at once on the given connection (`run`), one chunk. A
 * compiled statement that asks for arrays (`asArrays`) gets better-sqlite3's raw rows, no object per row, each chunk
 * marked with its columns and handed over as one batch.
 */
export const makeStream = (Database: typeof Sqlite, filename: string, busyTimeoutMs: number) => {
  const memory = inMemory(filename)
  const iterate = (sql: string, params: ReadonlyArray<unknown>, safeIntegers: boolean, arrays: boolean) =>
    Effect.gen(function*() {
      const db = yield* Effect.acquireRelease(
        Effect.try({
          try: () => new Database(filename, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs }),
          catch: (cause) => new SqlError({ cause, message: "Failed to open the SQLite database for a stream" })
        }),
        (db) => Effect.sync(() => db.close())
      )
      const { columns, iterator } = yield* Effect.try({
        try: () => {
          const statement = db.prepare(sql)
          if (safeIntegers) statement.safeIntegers(true)
          if (arrays) statement.raw(true)
          return {
            columns: arrays ? statement.columns().map((column) => column.name) : undefined,
            iterator: statement.iterate(...params) as IterableIterator<unknown>
          }
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
          rows.length === 0
            ? Effect.fail(Option.none())
            : Effect.succeed(
              Chunk.unsafeFromArray(columns === undefined ? rows : CompiledStatement.withColumns(rows, columns))
            )
        )
      )
      return Stream.repeatEffectChunkOption(pull)
    })
  return (run: Run): Streams => {
    // Rows in chunks as read; with `arrays`, each chunk's array marked with its columns (`batchesOf` keeps it).
    const chunks = (sql: string, params: ReadonlyArray<unknown>, arrays: boolean): Stream.Stream<any, SqlError> =>
      Stream.unwrapScoped(Effect.withFiberRuntime((fiber) => {
        const inTransaction = Option.isSome(Context.getOption(fiber.currentContext, SqlClient.TransactionConnection))
        if (memory || inTransaction) {
          return Effect.succeed(
            Stream.unwrap(
              Effect.map(
                run(sql, params, arrays ? "arrays" : "rows"),
                (rows) => Stream.fromChunk(Chunk.unsafeFromArray(rows as Array<any>))
              )
            )
          )
        }
        return iterate(sql, params, Context.get(fiber.currentContext, SqlClient.SafeIntegers), arrays)
      }))
    return {
      executeStream: (sql, params, transformRows) =>
        transformRows === undefined
          ? chunks(sql, params, false)
          : Stream.mapChunks(chunks(sql, params, false), (c) => Chunk.unsafeFromArray(transformRows(Chunk.toArray(c)))),
      executeStreamBatches: (statement, params) =>
        CompiledStream.batchesOf(chunks(statement.sql, params, statement.arrays === true))
    }
  }
}
