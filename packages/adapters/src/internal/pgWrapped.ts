/**
 * What stands in for pg's `Query` where statements travel in front of it or after it (`pgBegin.ts`, `pgBatchedLead.ts`,
 * `pgBatchedWrite.ts`): the properties pg's client and a batch read and set on the query they run reach the wrapped
 * query itself, and the statements around it are written with no Describe and no Sync of their own.
 */
import type { TextRow } from "../DatabaseAdapter.js"
import type { Wire } from "./pgBatch.js"
import type { Reply } from "./pgSubmit.js"

/** pg's `Query`, as much of it as a wrapper passes through. */
export interface Wrappable {
  readonly _result?: unknown
  binary?: boolean | undefined
  queryMode?: string | undefined
  callback?: Reply | undefined
}

/** A connection as a statement around the query writes on it. */
export interface StatementWire {
  parse(query: { text: string }): void
  bind(config: object): void
  execute(config: object): void
}

/** Writes one statement's Parse/Bind/Execute: no Describe (its rows come as text, with no RowDescription), no Sync. */
export const statement = (wire: StatementWire, text: string): void => {
  wire.parse({ text })
  wire.bind({})
  wire.execute({})
}

/** pg's `Query` as it is submitted on a wire. */
export interface Submitted {
  callback?: Reply | undefined
  submit(wire: Wire): Error | null
  handleError(error: unknown, wire: unknown): void
}

/**
 * Submits `query` on `wire` and tells whether pg refused it: its values could not be serialised, so nothing of it was
 * written and its caller has been answered at once (pg calls the reply during `submit`, or returns the error).
 */
export const refusedAt = (query: Submitted, wire: Wire): boolean => {
  let refused = false
  const reply = query.callback
  query.callback = (error, result) => {
    refused = true
    reply?.(error, result)
  }
  const error = query.submit(wire)
  query.callback = reply
  if (error !== null) query.handleError(error, wire)
  return error !== null || refused
}

/**
 * The wrapped query's result (pg sets its type parsers), binary flag and query mode (a batch sets both): the query's
 * own, so that pg's `Query` stays as pg builds every other (BENCHMARKS.md, lever 37).
 */
export abstract class WrappedQuery<Q extends Wrappable> {
  constructor(readonly query: Q) {}
  get _result(): Q["_result"] {
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
}

/**
 * A wrapper whose statements in front have rows the caller wants (`rows`, gathered by the subclass): handed to
 * `onRows` just before the query's successful reply, none after a failure. The reply set on the wrapper (by pg's
 * client, a batch, or already on the query when wrapped) is the caller's.
 */
export abstract class RowsFirst<Q extends Wrappable> extends WrappedQuery<Q> {
  protected readonly rows: Array<TextRow> = []
  private reply: Reply | undefined
  constructor(query: Q, private readonly onRows: ((rows: ReadonlyArray<TextRow>) => void) | undefined) {
    super(query)
    this.reply = query.callback
    if (query.callback !== undefined) query.callback = this.deliver
  }
  get callback() {
    return this.reply
  }
  set callback(reply: Reply | undefined) {
    this.reply = reply
    this.query.callback = reply === undefined ? undefined : this.deliver
  }
  private readonly deliver: Reply = (error, result) => {
    if (!error && this.onRows !== undefined) this.onRows(this.rows)
    this.reply?.(error, result)
  }
}
