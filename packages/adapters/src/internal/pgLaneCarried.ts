/**
 * A session read with its replay poll in front, on a pipelined connection (`pgLanes.ts`; ARCHITECTURE.md, "Pipelined
 * connections"): the poll goes out as a statement of its own just before the read, both in the lane's one write for
 * the turn, each closed by its own Sync. The server answers them in order and runs the read once the poll is done, so
 * the read's snapshot is taken after the poll's whatever the isolation level: a poll that shows the session's writes
 * replayed proves that the read saw them. Without it a led read took a pooled connection and a round trip of its own.
 */
import type Pg from "pg"
import type { TextRow } from "../DatabaseAdapter.js"
import type { Lead } from "./pgBatchedLead.js"
import type { QueryClass, Reply, Target } from "./pgSubmit.js"
import { fromText } from "./pgSubmit.js"

/**
 * `lane` sending `lead` just before each query: the lead's rows, as arrays of text, go to `lead.onRows` before the
 * query's successful reply; a failure of either is the query's (the lead's first: it ran first).
 */
export class LedLane implements Target {
  constructor(private readonly lane: Target, private readonly lead: Lead, private readonly Query: QueryClass) {}

  readonly query = (query: Pg.QueryConfig | Pg.Query, reply: Reply): void => {
    let rows: ReadonlyArray<TextRow> = []
    let failure: Error | undefined
    const config = { text: this.lead.sql, rowMode: "array" } as Pg.QueryConfig
    this.lane.query(fromText(this.Query, config) ?? config, (error, result) => {
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
