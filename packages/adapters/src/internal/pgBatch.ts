/**
 * One batch behind a pooler (ARCHITECTURE.md, "Batches behind a pooler"): the statements of many callers written
 * together on one pooled connection, each as pg writes it but for its Sync, closed by one Sync. pg's client takes the
 * batch as one query and hands it every message of the answer; the batch hands each message to the statement it
 * belongs to, in order. A read is answered by its one CommandComplete; a write (`pgBatchedWrite.ts`) runs in a
 * transaction of its own and is answered by its COMMIT's.
 */
import type { SqlError } from "@effect/sql/SqlError"
import type Pg from "pg"
import type { Reply } from "./pgSubmit.js"
import { connectionSurvives } from "./pgSubmit.js"
import { refusedAt } from "./pgWrapped.js"

/** pg's connection, as a batch writes on it. */
export interface Wire {
  readonly stream: { cork?: () => void; uncork?: () => void }
  sync(): void
  parse(query: { text: string }): void
  bind(config: object): void
  execute(config: object): void
}

/** A statement as a batch drives it: pg's `Query` for a read, the query pg would run on its own, answered through it. */
export interface Read {
  callback?: Reply | undefined
  binary?: boolean | undefined
  queryMode?: string | undefined
  readonly _result?: { _types?: unknown } | undefined
  /** A statement answered by more than one CommandComplete (a write and its transaction's): how many. */
  readonly answers?: number
  /** After a server error: its transaction was left open (aborted), to be rolled back before the connection serves. */
  readonly leftOpen?: boolean
  submit(wire: Wire): Error | null
  handleRowDescription(msg: unknown): void
  handleDataRow(msg: unknown): void
  handleCommandComplete(msg: unknown, wire: unknown): void
  handleEmptyQuery(wire: unknown): void
  handleError(error: unknown, wire: unknown): void
  handleReadyForQuery(wire: unknown): void
}

/**
 * A queued statement; `key`, the pg `Query` its caller's deadline and interruption name (the read itself, or the
 * query a write carries); `refuse` fails it when no connection could be had for it (as a pooled checkout fails).
 */
export interface Entry {
  readonly read: Read
  readonly key: object
  readonly refuse: (error: SqlError) => void
  /** Told when the statement is written, and at which place in its batch (a write's deadline starts there). */
  readonly sent?: ((position: number) => void) | undefined
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

/** What stands in `Batch.sent` for a statement already answered. */
const ANSWERED: Entry = { read: undefined as unknown as Read, key: {}, refuse: noop }

/**
 * How a batch ended: the statements that never ran (after a server error, up to the Sync), the connection's loss if
 * it broke, and whether a write's transaction was left open (aborted) by a server error.
 */
export type BatchEnd = (
  batch: Batch,
  skipped: ReadonlyArray<Entry>,
  broken: Error | undefined,
  rollback: boolean
) => void

/**
 * One batch on one connection. A statement it answered is let go at once: else its rows stay reachable until the
 * batch's answer ends, and from a batch in V8's old generation until a full collection (BENCHMARKS.md, lever 44).
 */
export class Batch {
  // The statements written (a value pg could not bind fails its read at once and sends no Execute), the one being
  // answered, and how many CommandCompletes it has had.
  private readonly sent: Array<Entry> = []
  private at = 0
  private seen = 0
  private ended = false
  /**
   * When it was written (`performance.now()`), to tell a batch held up by a slow statement; until then, when it was
   * made (pg's client writes it once the batch before it on the connection has its ReadyForQuery).
   */
  sentAt = performance.now()
  constructor(
    private entries: ReadonlyArray<Entry>,
    readonly client: Pg.PoolClient,
    private readonly end: BatchEnd
  ) {}

  /** True while the statement of `key` is on this batch's wire, unanswered. */
  carries(key: object): boolean {
    for (let i = this.at; i < this.sent.length; i++) if (this.sent[i]!.key === key) return true
    return false
  }

  submit(wire: Wire): Error | null {
    const types = (this.client as unknown as { readonly _types?: unknown })._types
    const binary = (this.client as unknown as { readonly binary?: boolean }).binary
    this.sentAt = performance.now()
    wire.stream.cork?.()
    // Each statement writes its messages as pg writes them, but for its Sync: the batch's one Sync closes them all.
    wire.sync = noop
    try {
      for (const entry of this.entries) {
        const read = entry.read
        // What pg's client sets on a query it runs.
        if (read._result !== undefined && read._result._types === undefined) read._result._types = types
        if (binary === true && read.binary !== true) read.binary = true
        // One without parameters too (`batchable`): pg would write it as a simple query, which carries its own Sync.
        read.queryMode = "extended"
        // A write or a led read refused its value still has statements on the wire to be answered (its wrapper's
        // submit never fails itself).
        if (!refusedAt(read, wire) || read.answers !== undefined) {
          this.sent.push(entry)
          entry.sent?.(this.sent.length - 1)
        }
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
    const entry = this.sent[this.at]
    if (entry === undefined) return
    const read = entry.read
    // A write's statements before its last (BEGIN, its settings, the write itself).
    if (read.answers !== undefined && ++this.seen < read.answers) return read.handleCommandComplete(msg, wire)
    this.answered()
    read.handleCommandComplete(msg, wire)
    read.handleReadyForQuery(wire)
  }
  handleEmptyQuery(wire: unknown) {
    const entry = this.sent[this.at]
    if (entry === undefined) return
    this.answered()
    entry.read.handleEmptyQuery(wire)
    entry.read.handleReadyForQuery(wire)
  }
  handlePortalSuspended() {}
  handleCopyInResponse() {}
  handleCopyData() {}

  /**
   * A server's refusal is the statement's being answered: it fails alone, and the ones after it never ran (pg answers
   * nothing more for this query: the ReadyForQuery that follows finds no query). Anything else broke the connection:
   * every statement not answered gets it.
   */
  handleError(error: unknown, wire: unknown) {
    if (this.ended) return
    if (connectionSurvives(error) && this.at < this.sent.length) {
      const read = this.sent[this.at]!.read
      read.handleError(error, wire)
      return this.finish(this.sent.slice(this.at + 1), undefined, read.leftOpen === true)
    }
    const left = this.sent.slice(this.at)
    this.at = this.sent.length
    for (const entry of left) entry.read.handleError(error, wire)
    this.finish([], error instanceof Error ? error : new Error(String(error)), false)
  }
  handleReadyForQuery() {
    this.finish([], undefined, false)
  }

  /** The statement being answered, let go of here (`ANSWERED` in its place), and the next one's turn. */
  private answered() {
    this.sent[this.at] = ANSWERED
    this.at++
    this.seen = 0
  }

  private finish(skipped: ReadonlyArray<Entry>, broken: Error | undefined, rollback: boolean) {
    if (this.ended) return
    this.ended = true
    this.end(this, skipped, broken, rollback)
  }
}
