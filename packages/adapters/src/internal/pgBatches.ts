/**
 * Reads batched behind a pooler (ARCHITECTURE.md, "Read batches behind a pooler"). A pooler in transaction mode cannot
 * take pipelined statements each closed by its own Sync (PgBouncer 1.18 hands the parts to different server
 * connections, `pgLanes.ts`), but it hands one implicit transaction, everything up to one Sync, to one server
 * connection. So the reads of many callers that wait at one moment go out together as Parse/Bind/Describe/Execute
 * each, closed by one Sync, on one pooled connection: one round trip, one pass through the pooler, one server wakeup.
 *
 * Reads only: statements under one Sync commit or roll back together, which is nothing to a SELECT under READ
 * COMMITTED (each takes its own snapshot) but would tie one caller's write to another's failure. A read the server
 * refuses fails alone; the server skips the reads after it up to the Sync, so they never ran and go out again in the
 * next batch. A connection that breaks fails the reads it carried, as a pooled connection fails its one.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type Pg from "pg"
import { LANE_DEPTH } from "./pgLaneChoice.js"
import type { NodePool } from "./pgPool.js"
import * as PgSocket from "./pgSocket.js"
import type { Reply, Target, Within } from "./pgSubmit.js"
import { acquireError, connectionSurvives, submitWithin } from "./pgSubmit.js"

/** pg's connection, as a batch writes on it. */
interface Wire {
  readonly stream: { cork?: () => void; uncork?: () => void }
  sync(): void
}

/** pg's `Query`, as a batch drives it: each read is the query pg would run on its own, answered through it. */
interface Read {
  callback?: Reply | undefined
  binary?: boolean | undefined
  queryMode?: string | undefined
  readonly _result?: { _types?: unknown } | undefined
  submit(wire: Wire): Error | null
  handleRowDescription(msg: unknown): void
  handleDataRow(msg: unknown): void
  handleCommandComplete(msg: unknown, wire: unknown): void
  handleEmptyQuery(wire: unknown): void
  handleError(error: unknown, wire: unknown): void
  handleReadyForQuery(wire: unknown): void
}

/** A queued read, and how it fails when no connection could be had for it (as a pooled read's checkout fails). */
interface Entry {
  readonly read: Read
  readonly refuse: (error: SqlError) => void
}

/**
 * A statement a batch can carry: plain text, unnamed (a pooler shares server connections, so nothing is prepared by
 * name behind one), no type overrides, rows as objects or arrays, and not a submittable of its own (a transaction's
 * BEGIN, a session read's poll). A batch sends every read with the extended protocol, which takes one statement per
 * text: a text without parameters (pg would send it as a simple query, which may hold several) goes only when it has
 * no semicolon at all; any other keeps its own round trip.
 */
export const batchable = (query: Pg.QueryConfig): boolean => {
  const c = query as Pg.QueryConfig & { readonly rowMode?: unknown; readonly submit?: unknown }
  if (c.submit !== undefined || c.name !== undefined || c.types !== undefined) return false
  if (c.rowMode !== undefined && c.rowMode !== "array") return false
  if (Array.isArray(c.values) && c.values.length > 0) return true
  return typeof c.text === "string" && c.text.trim() !== "" && !c.text.includes(";")
}

const noop = () => {}

/** The most batches one checked-out connection carries in a row before it goes back to the pool. */
const KEEP_BATCHES = 64

/** What stands in `Batch.sent` for a read already answered. */
const ANSWERED: Entry = { read: undefined as unknown as Read, refuse: noop }

/**
 * One batch on one connection: pg's client takes it as one query and hands it every message of its answer. A read it
 * answered is let go at once: else its rows stay reachable until the batch's answer ends, and from a batch in V8's old
 * generation until a full collection (BENCHMARKS.md, lever 44).
 */
class Batch {
  // The reads written (a value pg could not bind fails at once and sends no Execute), and the one being answered.
  private readonly sent: Array<Entry> = []
  private at = 0
  private ended = false
  constructor(
    private entries: ReadonlyArray<Entry>,
    readonly client: Pg.PoolClient,
    private readonly end: (batch: Batch, skipped: ReadonlyArray<Entry>, broken: Error | undefined) => void
  ) {}

  /** True while `read` is on this batch's wire, unanswered. */
  carries(read: Read): boolean {
    for (let i = this.at; i < this.sent.length; i++) if (this.sent[i]!.read === read) return true
    return false
  }

  submit(wire: Wire): Error | null {
    const types = (this.client as unknown as { readonly _types?: unknown })._types
    const binary = (this.client as unknown as { readonly binary?: boolean }).binary
    wire.stream.cork?.()
    // Each read writes its messages as pg writes them, but for its Sync: the batch's one Sync closes them all.
    wire.sync = noop
    try {
      for (const entry of this.entries) {
        const read = entry.read
        // What pg's client sets on a query it runs.
        if (read._result !== undefined && read._result._types === undefined) read._result._types = types
        if (binary === true && read.binary !== true) read.binary = true
        // One without parameters too (`batchable`): pg would write it as a simple query, which carries its own Sync.
        read.queryMode = "extended"
        const reply = read.callback
        let refused = false
        read.callback = (error, result) => {
          refused = true
          reply?.(error, result)
        }
        const error = read.submit(wire)
        read.callback = reply
        if (error !== null) read.handleError(error, wire)
        else if (!refused) this.sent.push(entry)
      }
    } finally {
      delete (wire as { sync?: unknown }).sync
      wire.sync()
      wire.stream.uncork?.()
      this.entries = []
    }
    return null
  }

  handleRowDescription(msg: unknown) {
    this.sent[this.at]?.read.handleRowDescription(msg)
  }
  handleDataRow(msg: unknown) {
    this.sent[this.at]?.read.handleDataRow(msg)
  }
  handleCommandComplete(msg: unknown, wire: unknown) {
    const entry = this.answered()
    if (entry === undefined) return
    entry.read.handleCommandComplete(msg, wire)
    entry.read.handleReadyForQuery(wire)
  }
  handleEmptyQuery(wire: unknown) {
    const entry = this.answered()
    if (entry === undefined) return
    entry.read.handleEmptyQuery(wire)
    entry.read.handleReadyForQuery(wire)
  }
  handlePortalSuspended() {}
  handleCopyInResponse() {}
  handleCopyData() {}

  /**
   * A server's refusal is the read's being answered: it fails alone, and the ones after it never ran (pg answers
   * nothing more for this query: the ReadyForQuery that follows finds no query). Anything else broke the connection:
   * every read not answered gets it.
   */
  handleError(error: unknown, wire: unknown) {
    if (this.ended) return
    if (connectionSurvives(error) && this.at < this.sent.length) {
      this.sent[this.at]!.read.handleError(error, wire)
      return this.finish(this.sent.slice(this.at + 1), undefined)
    }
    const left = this.sent.slice(this.at)
    this.at = this.sent.length
    for (const entry of left) entry.read.handleError(error, wire)
    this.finish([], error instanceof Error ? error : new Error(String(error)))
  }
  handleReadyForQuery() {
    this.finish([], undefined)
  }

  /** The read being answered, let go of here (`ANSWERED` in its place) and the next one's turn. */
  private answered(): Entry | undefined {
    const entry = this.sent[this.at]
    if (entry !== undefined) this.sent[this.at] = ANSWERED
    this.at++
    return entry
  }

  private finish(skipped: ReadonlyArray<Entry>, broken: Error | undefined) {
    if (this.ended) return
    this.ended = true
    this.end(this, skipped, broken)
  }
}

/** The read batches of one node. */
export interface Batches {
  /** Queues a built read (its reply comes through its callback); `refuse` fails it when no connection can be had. */
  readonly query: (query: Pg.Query, refuse: (error: SqlError) => void) => void
  /** A read past its deadline: out of the queue, or, sent, its batch's connection is cut (the server did not answer). */
  readonly expire: (query: Pg.Query) => void
  /** An interrupted read: out of the queue if it is still there (sent, its answer is dropped). */
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
}

/** The batches of one node: none goes out before a read asks. */
export const make = (options: BatchesOptions): Batches => {
  const { alias, max, pool } = options
  const queue: Array<Entry> = []
  const live = new Set<Batch>()
  // Checkouts asked for and batches on the wire: at most `max`.
  let out = 0

  /** The next batch on a checked-out connection; the connection goes back when no read waits, or when it broke. */
  const send = (held: Held) => {
    held.batches++
    const batch = new Batch(queue.splice(0, LANE_DEPTH), held.client, (done, skipped, lost) => {
      live.delete(done)
      // Never ran: first in line again.
      if (skipped.length > 0) queue.unshift(...skipped)
      const cause = lost ?? held.broken
      // The connection carries the next batch at once, unless someone else waits for the pool (a write must not wait
      // behind a stream of reads) or it has carried a run of them (the pool's lifetime bookkeeping sees it on return).
      if (
        cause === undefined && queue.length > 0 && held.batches < KEEP_BATCHES && pool.current().waitingCount === 0
      ) return send(held)
      held.client.off("error", held.onError)
      out--
      held.release(cause)
      pump()
    })
    live.add(batch)
    held.client.query(batch as unknown as Pg.QueryConfig)
  }

  const pump = () => {
    // Up to `max` out. Not one per batch the queue fills: a checkout can hang (a new connection over a dead link waits
    // out `connectTimeout`), and the reads queued behind it would wait for it rather than ask for another.
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

  const unqueue = (query: Pg.Query): boolean => {
    const i = queue.findIndex((entry) => entry.read === (query as unknown as Read))
    if (i === -1) return false
    queue.splice(i, 1)
    return true
  }

  return {
    query: (query, refuse) => {
      queue.push({ read: query as unknown as Read, refuse })
      if (out < max) pump()
    },
    expire: (query) => {
      if (unqueue(query)) return
      for (const batch of live) if (batch.carries(query as unknown as Read)) PgSocket.cut(batch.client)
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

/**
 * Sends one read in the node's batches under its deadline (`submitWithin`) and returns its canceller. Interrupted, a
 * read still queued leaves the queue, a sent one's answer is dropped. Past its deadline a queued read leaves the queue
 * and a sent one's connection is cut: the server did not answer, and the reads beside it fail as on a lost connection.
 */
export const submitBatched = <A>(
  batches: Batches,
  query: Pg.QueryConfig,
  map: (result: any) => A,
  within: Within<A>,
  resume: (outcome: Effect.Effect<A, SqlError>) => void
): () => void => {
  let built: Pg.Query | undefined
  let timer: ReturnType<typeof setTimeout> | undefined = undefined
  const refuse = (error: SqlError) => {
    if (!within.guard.claim()) return
    if (timer !== undefined) clearTimeout(timer)
    resume(Effect.fail(error))
  }
  const target: Target = {
    query: (q) => {
      built = q as Pg.Query
      batches.query(built, refuse)
    }
  }
  timer = submitWithin(target, query, map, within, resume, (_broken, timedOut) => {
    if (timedOut && built !== undefined) batches.expire(built)
    // Answered: the closures of this read may outlive it (its canceller, held until the fiber moves on), and through
    // this variable they held its query and rows; in the old generation they kept every batched read's rows through
    // young collections, to be promoted (BENCHMARKS.md, lever 44).
    built = undefined
  })
  // Refused at once (the pool is closing): its deadline has nothing left to bound.
  if (within.guard.settled()) clearTimeout(timer)
  return () => {
    if (!within.guard.claim()) return
    clearTimeout(timer)
    if (built !== undefined) batches.drop(built)
  }
}
