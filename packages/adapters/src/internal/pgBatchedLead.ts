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
export class BatchedLead implements Read {
  /** The CommandCompletes that answer it: the lead's and the read's (the lead's alone once the read was refused). */
  answers = 2
  private seen = 0
  private refused = false
  private readonly rows: Array<TextRow> = []
  private reply: Reply | undefined
  constructor(readonly query: Query, private readonly lead: Lead) {
    // The query's reply, as built (`pgSubmit.ts`), becomes this one's: the lead's rows go first.
    this.reply = query.callback
    if (query.callback !== undefined) query.callback = this.deliver
  }
  get _result() {
    return this.query._result
  }
  get binary() {
    return this.query.binary
  }
  set binary(binary: boolean | undefined) {
    this.query.binary = binary
  }
  get queryMode() {
    return this.query.queryMode
  }
  set queryMode(mode: string | undefined) {
    this.query.queryMode = mode
  }
  get callback() {
    return this.reply
  }
  set callback(reply: Reply | undefined) {
    this.reply = reply
    this.query.callback = reply === undefined ? undefined : this.deliver
  }
  private readonly deliver: Reply = (error, result) => {
    if (!error) this.lead.onRows(this.rows)
    this.reply?.(error, result)
  }

  submit(wire: Wire): Error | null {
    wire.parse({ text: this.lead.sql })
    wire.bind({})
    wire.execute({})
    let refused = false
    const reply = this.reply
    this.callback = (error, result) => {
      refused = true
      reply?.(error, result)
    }
    const error = this.query.submit(wire)
    this.callback = reply
    if (error !== null) this.query.handleError(error, wire)
    if (error !== null || refused) {
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
