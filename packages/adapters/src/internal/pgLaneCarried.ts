/**
 * Statements a pipelined connection (`pgLanes.ts`; ARCHITECTURE.md, "Pipelined connections") carries around a
 * caller's, each a statement of its own with its own Sync, all in the lane's one write for the turn: the server answers
 * them in order.
 *
 * - A session read's replay poll, just before the read (`LedLane`): the read's transaction starts once the poll's has
 *   ended, so its snapshot follows the poll whatever the isolation level, and a poll that shows the session's writes
 *   replayed proves that the read saw them. Without it a led read took a pooled connection and a round trip of its own.
 * - The primary's position, just after a write of a session that reads after its writes (`CommittedOnLane`): the
 *   write committed when it was answered (no transaction: its own Sync ends it), so the position read after it covers
 *   it (`commitPosition`), with no shared position read and no wait for one (ARCHITECTURE.md, "Read-your-writes").
 */
import type Pg from "pg"
import type { TextRow } from "../DatabaseAdapter.js"
import type { Lead } from "./pgBatchedLead.js"
import type { PositionCell } from "./pgBatchedWrite.js"
import { commitPosition } from "./pgBatchedWrite.js"
import type { Answered, QueryClass, Reply, Target } from "./pgSubmit.js"
import { fromText } from "./pgSubmit.js"

/** A statement of text columns and no parameters, as pg would build it, its rows as arrays. */
const textQuery = (Query: QueryClass, text: string): Pg.QueryConfig | Pg.Query => {
  const config = { text, rowMode: "array" } as Pg.QueryConfig
  return fromText(Query, config) ?? config
}

/**
 * `lane` sending `lead` just before each query: the lead's rows, as arrays of text, go to `lead.onRows` before the
 * query's successful reply; a failure of either is the query's (the lead's first: it ran first).
 */
export class LedLane implements Target {
  constructor(private readonly lane: Target, private readonly lead: Lead, private readonly Query: QueryClass) {}

  query(query: Pg.QueryConfig | Pg.Query, reply: Reply): void {
    let rows: ReadonlyArray<TextRow> = []
    let failure: Error | undefined
    this.lane.query(textQuery(this.Query, this.lead.sql), (error, result) => {
      if (error) failure = error
      else rows = (result as { readonly rows: ReadonlyArray<TextRow> }).rows
    })
    this.lane.query(query, (error, result) => {
      if (!error && failure !== undefined) return reply(failure, undefined)
      if (!error) this.lead.onRows(rows)
      reply(error, result)
    })
  }
}

/**
 * `lane` reading the primary's position just after each write: the write's caller is answered once the position has
 * come, with the position in `cell`. A failed write is answered at once (its position is not read into the cell); a
 * failed position read, or a connection lost after the write's answer, leaves the write answered as it was, with no
 * position (the session then reads it as for any write); so does the deadline passing after the write's answer and
 * before the position's (`answered`): the write committed, and is not reported as a timeout.
 */
export class CommittedOnLane implements Target {
  // The write's own result once it succeeded (one write per instance: one per statement sent).
  private written: { readonly result: unknown } | undefined
  constructor(private readonly lane: Target, private readonly cell: PositionCell, private readonly Query: QueryClass) {}

  answered(): ReturnType<Answered> {
    return this.written
  }

  query(query: Pg.QueryConfig | Pg.Query, reply: Reply): void {
    // A failed write was answered at once: the position read's answer is not taken.
    let failed = false
    this.lane.query(query, (error, result) => {
      if (error) {
        failed = true
        return reply(error, result)
      }
      this.written = { result }
    })
    this.lane.query(textQuery(this.Query, commitPosition), (error, result) => {
      if (failed) return
      if (!error) {
        const value = (result as { readonly rows: ReadonlyArray<TextRow> }).rows[0]?.[0]
        if (typeof value === "string") this.cell.position = value
      }
      reply(null, this.written?.result)
    })
  }
}
