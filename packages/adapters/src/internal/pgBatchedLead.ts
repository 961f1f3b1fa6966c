/**
 * A session read with its replay poll in front, in a batch behind a pooler (ARCHITECTURE.md, "Batches behind a
 * pooler"): the poll's Parse/Bind/Execute (no Describe: its rows come as text with no RowDescription) go just before
 * the read's messages, both under the batch's one Sync. Under READ COMMITTED each statement of the batch's implicit
 * transaction takes its own snapshot, the read's after the poll's, so a poll that shows the session's writes replayed
 * proves that the read saw them (the poll returns the isolation level too, `pgLead.ts`). Without it a led read took a
 * pooled connection and a round trip of its own (a submittable, which no batch carries).
 */
import type { TextRow } from "../DatabaseAdapter.js"
import type { Read, Wire } from "./pgBatch.js"
import type { Reply } from "./pgSubmit.js"
import { refusedAt, RowsFirst, statement } from "./pgWrapped.js"

/** The statement sent in front of a read, and where its rows go (`NodeReads.leading`). */
export interface Lead {
  readonly sql: string
  readonly onRows: (rows: ReadonlyArray<TextRow>) => void
}

/** pg's `Query` as the batch drives it. */
interface Query extends Read {
  callback?: Reply | undefined
}

/**
 * The read's query with its lead: the batch hands it every message of both; the lead's rows are kept and handed to
 * `onRows` just before a successful reply, the rest is the read's. A read whose value pg could not send (refused at
 * submit, answered at once) leaves its lead's answer to take, and nothing more.
 */
export class BatchedLead extends RowsFirst<Query> implements Read {
  /** The CommandCompletes that answer it: the lead's and the read's (the lead's alone once the read was refused). */
  answers = 2
  private seen = 0
  private refused = false
  constructor(query: Query, private readonly lead: Lead) {
    super(query, lead.onRows)
  }

  submit(wire: Wire): Error | null {
    statement(wire, this.lead.sql)
    if (refusedAt(this.query, wire)) {
      this.refused = true
      this.answers = 1
    }
    return null
  }

  handleRowDescription(msg: unknown) {
    this.query.handleRowDescription(msg)
  }
  handleDataRow(msg: { readonly fields: TextRow }) {
    if (this.seen === 0) this.rows.push(msg.fields)
    else this.query.handleDataRow(msg)
  }
  handleCommandComplete(msg: unknown, wire: unknown) {
    if (this.seen++ > 0 && !this.refused) this.query.handleCommandComplete(msg, wire)
  }
  handleEmptyQuery(wire: unknown) {
    if (!this.refused) this.query.handleEmptyQuery(wire)
  }
  handleReadyForQuery(wire: unknown) {
    if (!this.refused) this.query.handleReadyForQuery(wire)
  }
  /** The lead's failure or the read's, or a lost connection: the read's, as a read's in a batch (it runs elsewhere). */
  handleError(error: unknown, wire: unknown) {
    if (!this.refused) this.query.handleError(error, wire)
  }
}
