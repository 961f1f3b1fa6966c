/**
 * A statement's rows as a stream, pulled in chunks: each pull takes the rows mysql2 has parsed (up to a chunk) or
 * waits for the next rows. The rows never flow by themselves: mysql2 stops reading the socket once a chunk's worth
 * waits unread, so memory stays flat whatever the result's size.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as Mysql from "mysql2"
import type { EventEmitter } from "node:events"
import { cancellable } from "./cancellable.js"
import { timeoutError } from "./deadline.js"
import type { InFlight } from "./inFlight.js"
import { cutError } from "./inFlight.js"

/**
 * Rows per chunk of a stream at most, and how many rows mysql2 reads ahead of the consumer before it stops reading.
 * Chunks of 256 rows made a consumer that handles rows one by one cost about twice as much per row as chunks of 1 024
 * (BENCHMARKS.md, lever 33).
 */
const STREAM_CHUNK = 1024
/** Bytes the connection may read ahead of the consumer: wide rows stop mysql2 before a chunk's worth of them. */
const STREAM_BYTES = 1024 * 1024

type Transform = <A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>

/** One open row stream: its pull, and its close (which tells whether it ended). */
interface Open {
  readonly pull: Effect.Effect<Chunk.Chunk<any>, Option.Option<SqlError>>
  readonly close: () => void
}

// mysql2's query emits each row as a "result" event; the rows wait in a plain array until a pull takes up to a chunk of
// them, and the connection is paused (mysql2 stops reading the socket and queues what it already read) while a chunk's
// worth waits. Its own `stream()` puts each row through a Readable (a push, a "result" re-emit and, here, a `read()`
// per row) for the same backpressure. Before that, a "data" listener that paused mysql2 per chunk and handed each chunk
// over through a queue and a promise (a fiber per chunk) cost more again.
const open = (
  conn: Mysql.PoolConnection,
  sql: string,
  params: ReadonlyArray<unknown>,
  transformRows: Transform | undefined,
  bound: Bound
): Open => {
  const { abandon } = bound
  const query: EventEmitter = (conn as any).query(sql, params)
  // The connection's socket (TLS or not): what it has read since the last pull took rows is what waits in memory.
  const socket = (conn as unknown as { stream?: { bytesRead?: number } }).stream
  const bytesRead = () => socket?.bytesRead ?? 0
  let readAtTake = bytesRead()
  // Rows the server sent that no pull took yet: the connection is paused at a chunk's worth of rows or bytes.
  let buffered: Array<any> = []
  let paused = false
  let ended = false
  let failure: unknown = undefined
  // The pull waiting for rows, woken by the next rows, the end or an error.
  let waiting: (() => void) | undefined
  let wakeScheduled = false
  const wake = () => {
    wakeScheduled = false
    const waiter = waiting
    waiting = undefined
    if (waiter !== undefined) waiter()
  }
  query.on("result", (row: unknown) => {
    buffered.push(row)
    if (!paused && (buffered.length >= STREAM_CHUNK || bytesRead() - readAtTake >= STREAM_BYTES)) {
      paused = true
      conn.pause()
    }
    // Once the rows of the socket read at hand are all parsed, not per row: a waiting pull gets them together.
    if (waiting !== undefined && !wakeScheduled) {
      wakeScheduled = true
      process.nextTick(wake)
    }
  })
  query.on("end", () => {
    ended = true
    wake()
  })
  query.on("error", (cause: unknown) => {
    failure = cause ?? new Error("stream failed")
    ended = true
    wake()
  })
  /** Up to a chunk of the waiting rows (a whole chunk pauses the connection, so no more wait); resumes it. */
  const take = (): Array<any> => {
    readAtTake = bytesRead()
    let batch: Array<any>
    if (buffered.length <= STREAM_CHUNK) {
      batch = buffered
      buffered = []
    } else {
      batch = buffered.slice(0, STREAM_CHUNK)
      buffered = buffered.slice(STREAM_CHUNK)
    }
    if (paused && buffered.length < STREAM_CHUNK) {
      paused = false
      // Runs the packets mysql2 queued while paused: their rows land in the fresh `buffered`.
      conn.resume()
    }
    return batch
  }
  // A pull that waited past the deadline closed the connection: the stream is over, whatever comes after.
  let expired = false
  // The node was found down (`NodeClient.reads.cut`): the connection is closed and the stream fails at once.
  let cut = false
  const unwatch = bound.tracked?.watch(() => {
    if (ended || expired) return false
    cut = true
    abandon()
    wake()
    return true
  })
  const pull: Open["pull"] = cancellable((resume) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const attempt = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      if (cut) return resume(Effect.fail(Option.some(cutError(bound.alias))))
      if (expired) return resume(Effect.fail(Option.some(timeoutError(bound.alias, bound.ms))))
      if (failure !== undefined) {
        return resume(Effect.fail(Option.some(new SqlError({ cause: failure, message: "Failed to stream statement" }))))
      }
      if (buffered.length > 0) {
        const batch = take()
        return resume(Effect.succeed(Chunk.unsafeFromArray(transformRows ? transformRows(batch) : batch)))
      }
      if (ended) return resume(Effect.fail(Option.none()))
      waiting = attempt
      // Only a pull that waits for rows has a deadline: a slow consumer costs the server nothing here.
      timer = setTimeout(() => {
        if (waiting !== attempt) return
        waiting = undefined
        expired = true
        abandon()
        resume(Effect.fail(Option.some(timeoutError(bound.alias, bound.ms))))
      }, bound.ms)
    }
    attempt()
    return () => {
      if (timer !== undefined) clearTimeout(timer)
      waiting = undefined
    }
  })
  return {
    pull,
    // An unfinished result keeps coming on the connection: it is closed (the listeners stay, for its last error).
    close: () => {
      unwatch?.()
      if (!ended && !expired && !cut) abandon()
    }
  }
}

/**
 * A stream's bounds: each pull waits at most `ms` for rows (a server that stopped answering would hold it forever),
 * and `abandon` closes the connection of a stream ended before its last row, past that deadline or cut (the server
 * would keep sending the rest on it, so it must never be reused).
 */
export interface Bound {
  readonly alias: string
  readonly ms: number
  readonly abandon: () => void
  /** A stream of reads: its node's reads in flight, whose `cutAll` ends it at once. */
  readonly tracked?: InFlight | undefined
}

/** Streams `sql`'s rows on `conn` within `bound` (ARCHITECTURE.md, "Deadlines"). */
export const queryStream = (
  conn: Mysql.PoolConnection,
  sql: string,
  params: ReadonlyArray<unknown>,
  transformRows: Transform | undefined,
  bound: Bound
): Stream.Stream<any, SqlError> =>
  Stream.unwrapScoped(Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => open(conn, sql, params, transformRows, bound)),
      (stream) => Effect.sync(stream.close)
    ),
    (stream) => Stream.repeatEffectChunkOption(stream.pull)
  ))
