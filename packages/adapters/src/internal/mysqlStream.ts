/**
 * A statement's rows as a stream, in chunks, with backpressure: mysql2's row stream is paused while a chunk waits for
 * the consumer (mysql2 then stops reading the socket), so memory stays flat whatever the result's size.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Mysql from "mysql2"

/** Rows per chunk of a stream, and how many rows mysql2 reads ahead of the consumer. */
const STREAM_CHUNK = 256

/**
 * Streams `sql`'s rows on `conn`. A stream that ends before its last row calls `abandon`: the server would keep
 * sending the rest on that connection, which must never be reused.
 */
export const queryStream = (
  conn: Mysql.PoolConnection,
  sql: string,
  params: ReadonlyArray<unknown>,
  transformRows: (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined,
  abandon: () => void
): Stream.Stream<any, SqlError> =>
  Stream.async<any, SqlError>((emit) => {
    const rows = (conn as any).query(sql, params).stream({ highWaterMark: STREAM_CHUNK })
    let batch: Array<any> = []
    let ended = false
    const flush = (): Promise<unknown> => {
      const chunk = batch
      batch = []
      return chunk.length === 0
        ? Promise.resolve()
        : emit.chunk(Chunk.unsafeFromArray(transformRows ? transformRows(chunk) : chunk))
    }
    rows.on("error", (cause: unknown) => {
      ended = true
      emit.fail(new SqlError({ cause, message: "Failed to stream statement" }))
    })
    rows.on("data", (row: any) => {
      batch.push(row)
      if (batch.length >= STREAM_CHUNK) {
        rows.pause()
        flush().then(() => rows.resume(), () => undefined)
      }
    })
    rows.on("end", () => {
      if (ended) return
      ended = true
      flush().then(() => emit.end(), () => undefined)
    })
    return Effect.sync(() => {
      if (!ended) abandon()
      rows.destroy()
    })
  }, 2)
