/**
 * A statement sent in front of another on a MySQL / MariaDB connection, the two in one round trip: a session read's
 * wait for its replica (`MASTER_GTID_WAIT`), answered just before the read (ARCHITECTURE.md, "Read-your-writes").
 * Both are written before the first answer (`mysqlPipeline.ts`), in one write to the socket; a statement not yet
 * prepared on the connection runs after the lead's answer instead, as mysql2 queues it: slower, never different.
 */
import type * as Mysql from "mysql2"
import type { TextRow } from "../DatabaseAdapter.js"
import type { Reply } from "./mysqlPipeline.js"
import { sendStatement } from "./mysqlPipeline.js"

/** A statement to send in front of another, and where its rows go (as arrays of text, `NodeReads.leading`). */
export interface Lead {
  readonly sql: string
  readonly onRows: (rows: ReadonlyArray<TextRow>) => void
  /** How long the lead may wait on the server (a session read's replica wait), added to the statement's deadline. */
  readonly waitMs: number
}

/** mysql2's rows as arrays, each value as text (as PostgreSQL's lead rows come): the lead's one row or few. */
const asText = (rows: unknown): ReadonlyArray<TextRow> =>
  Array.isArray(rows)
    ? rows.map((row: ReadonlyArray<unknown>) => row.map((v) => v === null || v === undefined ? null : String(v)))
    : []

/**
 * Runs `lead`, then the statement, on `conn` (idle, held by the caller), in one write and one round trip where the
 * connection allows. `reply` gets the statement's own outcome: the server runs it whatever became of the lead (a lost
 * connection fails both). The lead's rows go to `onRows` just before a successful reply; a lead that failed, or a
 * statement that failed, hands over none (a session read then takes the replica as behind, and waits).
 */
export const sendLed = (
  conn: Mysql.PoolConnection,
  lead: Lead,
  method: "execute" | "query",
  sql: string,
  values: ReadonlyArray<unknown>,
  rowsAsArray: boolean,
  reply: Reply
): void => {
  let leadRows: ReadonlyArray<TextRow> | undefined
  // Both commands in one write to the socket.
  const stream = (conn as unknown as { readonly stream: { cork?: () => void; uncork?: () => void } }).stream
  stream.cork?.()
  try {
    conn.query({ sql: lead.sql, rowsAsArray: true }, (error: unknown, rows: unknown) => {
      if (!error) leadRows = asText(rows)
    })
    const led: Reply = (cause, results) => {
      if (cause) return reply(cause, results)
      if (leadRows !== undefined) lead.onRows(leadRows)
      reply(null, results)
    }
    sendStatement(conn, method, sql, values, rowsAsArray, led)
  } finally {
    stream.uncork?.()
  }
}
