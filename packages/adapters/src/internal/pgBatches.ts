/**
 * Statements batched behind a pooler (ARCHITECTURE.md, "Batches behind a pooler"). A pooler in transaction mode cannot
 * take pipelined statements each closed by its own Sync (PgBouncer 1.18 hands the parts to different server
 * connections, `pgLanes.ts`), but it hands one implicit transaction, everything up to one Sync, to one server
 * connection. So the statements of many callers that wait at one moment go out together, closed by one Sync, on one
 * pooled connection (`pgBatch.ts`): one round trip, one pass through the pooler, one server wakeup.
 *
 * A read goes as it is: under READ COMMITTED each takes its own snapshot. A write goes in a transaction of its own
 * (`pgBatchedWrite.ts`), so that it commits or fails alone. A statement the server refuses fails alone; the server
 * skips the statements after it up to the Sync, so they never ran and go out again in the next batch. A connection
 * that breaks fails the statements it carried, as a pooled connection fails its one. How one statement is sent here
 * and bounded: `pgBatchedSubmit.ts`.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type Pg from "pg"
import type { Entry } from "./pgBatch.js"
import { Batch } from "./pgBatch.js"
export { batchable } from "./pgBatch.js"
import { LANE_DEPTH, LANE_STALL_MS } from "./laneChoice.js"
import type { Lead } from "./pgBatchedLead.js"
import { BatchedLead } from "./pgBatchedLead.js"
import type { PositionCell } from "./pgBatchedWrite.js"
import { BatchedWrite } from "./pgBatchedWrite.js"
import type { NodePool } from "./pgPool.js"
import * as PgSocket from "./pgSocket.js"
import type { Answered } from "./pgSubmit.js"
import { acquireError } from "./pgSubmit.js"

/** The most batches one checked-out connection carries in a row before it goes back to the pool. */
const KEEP_BATCHES = 64

/** The batches of one node. */
export interface Batches {
  /**
   * Queues a built read (its reply comes through its callback); `refuse` fails it when no connection can be had.
   * `lead`: a session read's replay poll, sent just before it in its batch (`pgBatchedLead.ts`).
   */
  readonly query: (query: Pg.Query, refuse: (error: SqlError) => void, lead?: Lead) => void
  /**
   * Queues a built write, to run in a transaction of its own; as `query` otherwise, and `sent` is told when written.
   * `cell`: where the primary's position read after its COMMIT goes (`pgBatchedWrite.ts`). Returns the queued write,
   * which tells its result once its COMMIT has answered (`BatchedWrite.answered`).
   */
  readonly write: (
    query: Pg.Query,
    refuse: (error: SqlError) => void,
    sent: (position: number) => void,
    cell?: PositionCell
  ) => { readonly answered: Answered }
  /** A write's outcome when no batch took it before its deadline: it was never sent, as a checkout that timed out. */
  readonly unsent: Effect.Effect<never, SqlError>
  /**
   * True when a write may wait for a batch: one can go out now, or none of those out is held up by a slow statement
   * (out longer than a lane may stall, `LANE_STALL_MS`); else it takes the pool, as a statement does behind a stalled
   * lane.
   */
  readonly takesWrite: () => boolean
  /** A statement past its deadline: out of the queue, or, sent, its batch's connection is cut (no answer came). */
  readonly expire: (query: Pg.Query) => void
  /** An interrupted statement: out of the queue if it is still there (sent, its answer is dropped). */
  readonly drop: (query: Pg.Query) => void
  /** Cuts every batch's connection now (the node was found down). */
  readonly cutAll: () => void
}

/** What the batches of a node are made with. */
export interface BatchesOptions {
  readonly pool: NodePool
  readonly alias: string
  /** The most batches at once, each on a pooled connection of its own. */
  readonly max: number
  /** What opens each write's transaction: BEGIN and the node's timeouts (`pgSession.ts` `writeOpening`). */
  readonly writeOpening: ReadonlyArray<string>
  /** How long a ROLLBACK after a write's failure may take before its connection is cut. */
  readonly deadlineMs: number
}

/** The batches of one node: none goes out before a statement asks. */
export const make = (options: BatchesOptions): Batches => {
  const { alias, deadlineMs, max, pool, writeOpening } = options
  const queue: Array<Entry> = []
  const live = new Set<Batch>()
  // Checkouts asked for and batches on the wire: at most `max`.
  let out = 0

  /** The next batch on a checked-out connection; the connection goes back when nothing waits, or when it broke. */
  const send = (held: Held) => {
    held.batches++
    const batch = new Batch(queue.splice(0, LANE_DEPTH), held.client, (done, skipped, lost, rollback) => {
      live.delete(done)
      // Never ran: first in line again.
      if (skipped.length > 0) queue.unshift(...skipped)
      const cause = lost ?? held.broken
      if (cause !== undefined) return next(held, cause)
      if (rollback) return rollBack(held, () => later(held))
      later(held)
    })
    live.add(batch)
    held.client.query(batch as unknown as Pg.QueryConfig)
  }

  /**
   * A connection whose batch was answered waits one turn of the event loop: the callers its answers woke run their
   * next steps first (fibers resume in microtasks) and queue their next statements, which then go in its next batch
   * rather than in many small ones (BENCHMARKS.md, lever 46).
   */
  const later = (held: Held) => {
    setImmediate(() => next(held, held.broken))
  }

  /**
   * The connection carries the next batch, unless someone else waits for the pool (a write on the pool's path
   * must not wait behind a stream of batches) or it has carried a run of them (the pool's lifetime bookkeeping sees it
   * on return).
   */
  const next = (held: Held, cause: Error | undefined) => {
    if (cause === undefined && queue.length > 0 && held.batches < KEEP_BATCHES && pool.current().waitingCount === 0) {
      return send(held)
    }
    held.client.off("error", held.onError)
    out--
    held.release(cause)
    pump()
  }

  /**
   * A write's server error left its transaction open and aborted: a pooler keeps the server connection with this
   * client until it ends, and nothing else can run on it. Bounded: a ROLLBACK with no answer cuts the connection.
   */
  const rollBack = (held: Held, then: () => void) => {
    const timer = setTimeout(() => PgSocket.cut(held.client), deadlineMs)
    held.client.query("ROLLBACK", (error: Error | null | undefined) => {
      clearTimeout(timer)
      if (error) held.broken ??= error
      then()
    })
  }

  const pump = () => {
    // Up to `max` out. Not one per batch the queue fills: a checkout can hang (a new connection over a dead link waits
    // out `connectTimeout`), and the statements queued behind it would wait for it rather than ask for another.
    while (queue.length > 0 && out < max) {
      out++
      pool.connect((error, client, release) => {
        if (error !== undefined || client === undefined) {
          out--
          const failed = acquireError(alias, error ?? new Error("no client"))
          for (const entry of queue.splice(0, LANE_DEPTH)) entry.refuse(failed)
          return pump()
        }
        if (queue.length === 0) {
          out--
          return release()
        }
        send(new Held(client, release))
      })
    }
  }

  const enqueue = (entry: Entry) => {
    queue.push(entry)
    if (out < max) pump()
  }

  const unqueue = (query: Pg.Query): boolean => {
    const i = queue.findIndex((entry) => entry.key === query)
    if (i === -1) return false
    queue.splice(i, 1)
    return true
  }

  return {
    query: (query, refuse, lead) =>
      enqueue({
        read: lead === undefined
          ? query as unknown as Entry["read"]
          : new BatchedLead(query as unknown as Entry["read"], lead),
        key: query,
        refuse
      }),
    write: (query, refuse, sent, cell) => {
      const write = new BatchedWrite(query as unknown as Entry["read"], writeOpening, cell)
      enqueue({ read: write, key: query, refuse, sent })
      return write
    },
    unsent: Effect.failSync(() =>
      acquireError(alias, new Error("timeout exceeded when trying to connect: no batch took the write in time"))
    ),
    takesWrite: () => {
      if (out < max) return true
      const now = performance.now()
      for (const batch of live) if (now - batch.sentAt > LANE_STALL_MS) return false
      return true
    },
    expire: (query) => {
      if (unqueue(query)) return
      for (const batch of live) if (batch.carries(query)) PgSocket.cut(batch.client)
    },
    drop: (query) => {
      unqueue(query)
    },
    cutAll: () => {
      for (const batch of live) PgSocket.cut(batch.client)
    }
  }
}

/** A connection checked out for batches; a socket error while it is out marks it broken (unhandled, it ends the process). */
class Held {
  broken: Error | undefined = undefined
  // Batches carried in a row (`KEEP_BATCHES`).
  batches = 0
  readonly onError = (cause: Error) => {
    this.broken = cause
  }
  constructor(readonly client: Pg.PoolClient, readonly release: (cause?: Error) => void) {
    client.on("error", this.onError)
  }
}
