/**
 * A transaction's `BEGIN` (behind a pooler with its `SET LOCAL` timeouts, `pgSession.ts`) sent in front of its first
 * statement, in one write and one round trip (ARCHITECTURE.md, "Transactions on PostgreSQL"). Each opening statement
 * goes as extended-protocol Parse/Bind/Execute with no Sync of its own, so the statement's Sync closes them all: if one
 * fails, the server skips every message up to that Sync, and the statement never runs, let alone outside the
 * transaction. Only a statement that uses the extended protocol itself (parameters or a name) can carry them; any
 * other first statement waits for them to go first, as one simple query.
 */
import type Pg from "pg"
import type { TextRow } from "../DatabaseAdapter.js"
import type { Reply } from "./pgSubmit.js"
import { fromText } from "./pgSubmit.js"
import { RowsFirst, statement } from "./pgWrapped.js"

// One statement that opens a transaction and nothing else (`BEGIN`, `BEGIN ISOLATION LEVEL ...`, `START TRANSACTION`).
const beginStatement = /^\s*(BEGIN|START\s+TRANSACTION)\b[^;]*?;?\s*$/i

/** True for SQL that only opens a transaction: it can wait for the first statement. */
export const isBegin = (sql: string): boolean => beginStatement.test(sql)

/** True for a plain `ROLLBACK`: with `BEGIN` still unsent, there is nothing to roll back. */
export const isRollback = (sql: string): boolean => /^\s*ROLLBACK\s*;?\s*$/i.test(sql)

/**
 * True for a statement with parameters, named or not: pg sends it with the extended protocol, ending with a Sync that
 * closes `BEGIN`'s messages too. pg refuses a name at submit only when the connection knows it for another text,
 * which `withBegin` checks before it writes anything.
 */
export const canCarryBegin = (query: Pg.QueryConfig): boolean =>
  typeof query.text === "string" && Array.isArray(query.values) && query.values.length > 0

/** The minimal slice of pg's connection that writes protocol messages, and the statement names it knows. */
interface Wire {
  readonly stream: { cork?: () => void; uncork?: () => void }
  readonly parsedStatements?: Record<string, string>
  readonly submittedNamedStatements?: Record<string, string>
  parse(query: { text: string }): void
  bind(config: object): void
  execute(config: object): void
}

/** pg's own refusal at submit: a name this connection knows for another text (then nothing may be written first). */
const refused = (wire: Wire, name: string | undefined, text: string | undefined): boolean => {
  if (name === undefined || name === "") return false
  const known = wire.parsedStatements?.[name] ?? wire.submittedNamedStatements?.[name]
  return known !== undefined && known !== text
}

/** What pg's client calls on the query it runs, beside `submit` (pg's `Query` has them all). */
interface Handlers {
  name?: string | undefined
  text?: string | undefined
  binary?: boolean | undefined
  callback?: Reply | undefined
  readonly _result?: unknown
  submit(wire: Wire): Error | null
  handleRowDescription(msg: unknown): void
  handleDataRow(msg: { readonly fields: TextRow }): void
  handleCommandComplete(msg: unknown, wire: unknown): void
  handleEmptyQuery(wire: unknown): void
  handlePortalSuspended(wire: unknown): void
  handleError(error: unknown, wire: unknown): void
  handleReadyForQuery(wire: unknown): void
  handleCopyInResponse(wire: unknown): void
  handleCopyData(msg: unknown, wire: unknown): void
}

/**
 * A submittable that sends the opening statements, then the statement, and answers the messages of the opening
 * statements itself, so that pg's `Query` for the statement stays as pg builds every other (one result, its own
 * shape: a query pg saw answered twice, or given its own `submit`, would make pg's hot handlers polymorphic for every
 * query after it, BENCHMARKS.md lever 37). Everything else goes to that `Query`, whose callback gets the statement's
 * result; `onRows` gets the opening statements' rows first, when the statement succeeded.
 */
class Carrier extends RowsFirst<Handlers> {
  private pending: number
  constructor(
    query: Handlers,
    private readonly opening: ReadonlyArray<string>,
    onRows: ((rows: ReadonlyArray<TextRow>) => void) | undefined
  ) {
    super(query, onRows)
    this.pending = opening.length
  }
  // pg's client reads the statement's name (prepared-statement bookkeeping), sets the callback, the binary flag and
  // the result's type parsers on the query it runs: all of them are the statement's (`RowsFirst`).
  get name() {
    return this.query.name
  }
  get text() {
    return this.query.text
  }
  submit(wire: Wire): Error | null {
    if (refused(wire, this.query.name, this.query.text)) return this.query.submit(wire)
    wire.stream.cork?.()
    try {
      for (const text of this.opening) statement(wire, text)
      return this.query.submit(wire)
    } finally {
      wire.stream.uncork?.()
    }
  }
  // No Describe is sent for an opening statement: no RowDescription comes for it, its DataRows and its
  // CommandComplete (or EmptyQueryResponse) come before the statement's first message.
  handleRowDescription(msg: unknown) {
    this.query.handleRowDescription(msg)
  }
  handleDataRow(msg: { readonly fields: TextRow }) {
    if (this.pending > 0) this.rows.push(msg.fields)
    else this.query.handleDataRow(msg)
  }
  handleCommandComplete(msg: unknown, wire: unknown) {
    if (this.pending > 0) this.pending--
    else this.query.handleCommandComplete(msg, wire)
  }
  handleEmptyQuery(wire: unknown) {
    if (this.pending > 0) this.pending--
    else this.query.handleEmptyQuery(wire)
  }
  handlePortalSuspended(wire: unknown) {
    this.query.handlePortalSuspended(wire)
  }
  handleError(error: unknown, wire: unknown) {
    this.query.handleError(error, wire)
  }
  handleReadyForQuery(wire: unknown) {
    this.query.handleReadyForQuery(wire)
  }
  handleCopyInResponse(wire: unknown) {
    this.query.handleCopyInResponse(wire)
  }
  handleCopyData(msg: unknown, wire: unknown) {
    this.query.handleCopyData(msg, wire)
  }
}

/**
 * `query` as a pg submittable that sends the `opening` statements first, in the same write, under the statement's
 * Sync. The statement itself is built as `pgSubmit.submit` builds a query (`fromText`), named where it is prepared,
 * and its callback gets its own result. `onRows`: the opening statements' rows, as text (`TextRow`), handed over
 * before the statement's result when the statement succeeds (a session read's replay poll, `pgLead.ts`).
 */
export const withBegin = (
  QueryClass: typeof Pg.Query,
  query: Pg.QueryConfig,
  opening: ReadonlyArray<string>,
  onRows?: (rows: ReadonlyArray<TextRow>) => void
): Pg.QueryConfig => {
  const statement = fromText(QueryClass, query) ?? new QueryClass(query)
  // A submittable, which `pgSubmit.submit` hands to pg as it is.
  return new Carrier(statement as unknown as Handlers, opening, onRows) as unknown as Pg.QueryConfig
}
