/**
 * A write in a batch behind a pooler (ARCHITECTURE.md, "Batches behind a pooler"): everything up to a Sync is one
 * implicit transaction, so a write goes as a transaction of its own inside the batch, `BEGIN`, its timeouts as
 * `SET LOCAL` (a pooler refuses them at startup), the write, `COMMIT`, and is answered by its COMMIT. A write that
 * fails is rolled back alone: the server skips every message after the error up to the Sync, so the statements after
 * it never ran, and those before it have committed. Given a `PositionCell` (a session that records its writes'
 * positions), the primary's position follows the COMMIT in the same batch (`commitPosition`), read once the write has
 * committed: it covers the write, with no position read of its own (ARCHITECTURE.md, "Read-your-writes").
 */
import type Pg from "pg"
import type { Read, Wire } from "./pgBatch.js"
import { batchable } from "./pgBatch.js"
import { sharedLoss } from "./pgLane.js"
import type { Answered, Reply } from "./pgSubmit.js"
import { connectionSurvives } from "./pgSubmit.js"
import { refusedAt, statement, WrappedQuery } from "./pgWrapped.js"

// Writes whose meaning is the same in a transaction block as alone: not a procedure that commits by itself (CALL,
// DO), nor what cannot run in a block at all (VACUUM, CREATE INDEX CONCURRENTLY).
const write = /^\s*(INSERT|UPDATE|DELETE|MERGE)\s/i

/**
 * A statement a batch can carry as a write: `INSERT`, `UPDATE`, `DELETE` or `MERGE` as plain text, unnamed, no type
 * overrides, rows as objects or arrays, not a submittable; without parameters only with no semicolon (one statement).
 */
export const writeBatchable = (query: Pg.QueryConfig): boolean =>
  typeof query.text === "string" && write.test(query.text) && batchable(query)

/**
 * The position a commit returned before: the flush position (the commit waited for its flush), or with
 * `synchronous_commit` off (the commit returned before it) the insert position. Any connection of the primary reads
 * it; the flush position does not wait for other sessions' records still unflushed.
 */
export const commitPosition =
  "SELECT (CASE WHEN current_setting('synchronous_commit') = 'off' THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_flush_lsn() END)::text AS p"

/** Where a write's position goes, read after its COMMIT in its batch; undefined when none came back. */
export interface PositionCell {
  position: string | undefined
}

/** pg's `Query` as the write drives it; `_results`, what its callback is given. */
interface Query extends Read {
  callback?: Reply | undefined
  readonly _results?: unknown
}

/**
 * The write's query in its transaction: the batch hands it every message of its statements; the query gets those of
 * the write itself and, once COMMIT has answered, its ReadyForQuery, so its caller learns the outcome only when it
 * is committed. `opening`: BEGIN and the settings.
 */
export class BatchedWrite extends WrappedQuery<Query> implements Read {
  /** The CommandCompletes that answer it: the opening statements', the write's, COMMIT's and the position read's. */
  answers: number
  /** A server error left its transaction open (aborted): the connection needs a ROLLBACK. */
  leftOpen = false
  // CommandCompletes had; the query refused before it was sent (its transaction is rolled back unseen).
  private seen = 0
  private refused = false
  constructor(
    query: Query,
    private readonly opening: ReadonlyArray<string>,
    private readonly cell?: PositionCell | undefined
  ) {
    super(query)
    this.answers = opening.length + (cell === undefined ? 2 : 3)
  }
  /** True once COMMIT has answered: the write is committed, whatever comes after. */
  private get committed() {
    return this.seen > this.opening.length + 1
  }
  /**
   * The write's own result once its COMMIT has answered, the position read after it perhaps not: what its deadline
   * delivers in place of a timeout (`pgBatchedSubmit.ts` `submitBatched`), as a connection lost then answers it.
   */
  answered(): ReturnType<Answered> {
    return this.committed && !this.refused ? { result: this.query._results } : undefined
  }
  get callback() {
    return this.query.callback
  }
  set callback(reply: Reply | undefined) {
    this.query.callback = reply
  }

  submit(wire: Wire): Error | null {
    for (const text of this.opening) statement(wire, text)
    if (refusedAt(this.query, wire)) {
      // pg could not send its values (its serialisation threw): nothing of the write went, the transaction BEGIN
      // opened ends here, and its statements' answers are this write's to take.
      this.refused = true
      this.answers = this.opening.length + 1
      statement(wire, "ROLLBACK")
    } else {
      statement(wire, "COMMIT")
      if (this.cell !== undefined) statement(wire, commitPosition)
    }
    return null
  }

  handleRowDescription(msg: unknown) {
    this.query.handleRowDescription(msg)
  }
  handleDataRow(msg: { readonly fields: ReadonlyArray<unknown> }) {
    // The position read's one row, as text (no Describe was sent for it).
    if (this.committed) {
      const value = msg.fields[0]
      if (typeof value === "string" && this.cell !== undefined) this.cell.position = value
    } else {
      this.query.handleDataRow(msg)
    }
  }
  handleCommandComplete(msg: unknown, wire: unknown) {
    // Only the write's own: COMMIT's would make its result COMMIT's.
    if (this.seen++ === this.opening.length && !this.refused) this.query.handleCommandComplete(msg, wire)
  }
  handleEmptyQuery(wire: unknown) {
    if (!this.refused) this.query.handleEmptyQuery(wire)
  }
  handleReadyForQuery(wire: unknown) {
    if (!this.refused) this.query.handleReadyForQuery(wire)
  }

  /**
   * A server error at statement `seen`: after BEGIN and before COMMIT (or the refused write's ROLLBACK) it leaves the
   * transaction aborted, open until rolled back; BEGIN's own leaves none, and a failed COMMIT has ended it. A lost
   * connection: the write was sent and may have run (its COMMIT too), whatever the socket's error says.
   */
  handleError(error: unknown, wire: unknown) {
    const survives = connectionSurvives(error)
    // Between BEGIN's answer and COMMIT: a setting or the write refused.
    if (survives) this.leftOpen = this.seen >= 1 && this.seen <= this.opening.length
    if (this.refused) return
    // The position read failed or the connection was lost after COMMIT answered: the write is committed, its caller
    // answered as such, with no position (the session reads it as for any write).
    if (this.committed) return this.query.handleReadyForQuery(wire)
    this.query.handleError(survives || !(error instanceof Error) ? error : sharedLoss(error, true), wire)
  }
}
