/**
 * A transaction's `BEGIN` (behind a pooler with its `SET LOCAL` timeouts, `pgSession.ts`) sent in front of its first
 * statement, in one write and one round trip (ARCHITECTURE.md, "Transactions on PostgreSQL"). Each opening statement
 * goes as extended-protocol Parse/Bind/Execute with no Sync of its own, so the statement's Sync closes them all: if one
 * fails, the server skips every message up to that Sync, and the statement never runs, let alone outside the
 * transaction. Only a statement that uses the extended protocol itself (parameters or a name) can carry them; any
 * other first statement waits for them to go first, as one simple query.
 */
import type Pg from "pg"
import { fromText } from "./pgSubmit.js"

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
  describe(config: { type: "P" | "S"; name?: string }): void
  execute(config: object): void
}

/** pg's own refusal at submit: a name this connection knows for another text (then nothing may be written first). */
const refused = (wire: Wire, name: string | undefined, text: string | undefined): boolean => {
  if (name === undefined || name === "") return false
  const known = wire.parsedStatements?.[name] ?? wire.submittedNamedStatements?.[name]
  return known !== undefined && known !== text
}

/**
 * `query` as a pg submittable that sends the `opening` statements first. pg then hands its callback one result per
 * statement (as for a multi-statement query): `lastResult` takes the statement's. Built as `pgSubmit.submit` builds a
 * query (`fromText`), named where the statement is prepared. With `describe`, each opening statement's rows come back
 * with their columns (a session read's replay poll, `pgLead.ts`); without, an opening statement returns no rows.
 */
export const withBegin = (
  QueryClass: typeof Pg.Query,
  query: Pg.QueryConfig,
  opening: ReadonlyArray<string>,
  describe = false
): Pg.Query => {
  const carrier = fromText(QueryClass, query) ?? new QueryClass(query)
  const submit = (carrier as unknown as { submit: (wire: Wire) => Error | null }).submit.bind(carrier)
  Object.assign(carrier, {
    submit: (wire: Wire): Error | null => {
      if (refused(wire, query.name, query.text)) return submit(wire)
      wire.stream.cork?.()
      try {
        for (const text of opening) {
          wire.parse({ text })
          wire.bind({})
          if (describe) wire.describe({ type: "P" })
          wire.execute({})
        }
        return submit(wire)
      } finally {
        wire.stream.uncork?.()
      }
    }
  })
  return carrier
}

/** The statement's own result out of what a query that carried `BEGIN` returned. */
export const lastResult = (result: unknown): unknown => Array.isArray(result) ? result[result.length - 1] : result
