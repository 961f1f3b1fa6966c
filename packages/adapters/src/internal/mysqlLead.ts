/**
 * A statement sent in front of another on a MySQL / MariaDB connection, the two in one round trip: a session read's
 * wait for its replica (`MASTER_GTID_WAIT`), answered just before the read (ARCHITECTURE.md, "Read-your-writes").
 * The protocol answers commands in the order they come, so both can be written before the first answer; mysql2
 * writes a command only when the one before it has been answered, so the read's command is started here as soon as
 * it is queued (its packets go with the lead's, in one write), and takes its answer where mysql2 would have started it.
 * A statement not yet prepared on the connection, or a connection that is not idle, runs after the lead's answer
 * instead, as mysql2 queues it: slower, never different.
 */
import type * as Mysql from "mysql2"
import type { TextRow } from "../DatabaseAdapter.js"

/** A statement to send in front of another, and where its rows go (as arrays of text, `NodeReads.leading`). */
export interface Lead {
  readonly sql: string
  readonly onRows: (rows: ReadonlyArray<TextRow>) => void
  /** How long the lead may wait on the server (a session read's replica wait), added to the statement's deadline. */
  readonly waitMs: number
}

/** mysql2's callback of one statement. */
export type Reply = (cause: any, results?: unknown) => void

/** A mysql2 command: its current state, and the run of one packet through it (`done` when it returns true). */
interface Command {
  next: ((this: Command, packet: unknown, connection: Wire) => unknown) | null
  readonly options?: object
  execute(packet: unknown, connection: Wire): boolean
}

/** The slice of a mysql2 connection the lead writes through. */
interface Wire {
  sequenceId: number
  readonly _command: Command | null | undefined
  readonly _commands: { readonly length: number; peekAt(index: number): Command | undefined; shift(): unknown }
  readonly _statements: { has(key: string): boolean }
  readonly config: { readonly compress?: boolean }
  readonly stream: { cork?: () => void; uncork?: () => void }
  readonly constructor: { statementKey?: (options: object) => string }
}

/** mysql2's rows as arrays, each value as text (as PostgreSQL's lead rows come): the lead's one row or few. */
const asText = (rows: unknown): ReadonlyArray<TextRow> =>
  Array.isArray(rows)
    ? rows.map((row: ReadonlyArray<unknown>) => row.map((v) => v === null || v === undefined ? null : String(v)))
    : []

/** The command mysql2's `execute` queues first: it finds the statement in the connection's cache, or prepares it. */
const isPrepare = (command: Command): boolean => command.constructor.name === "Prepare"

/**
 * Starts the statement queued behind the lead now, while the lead waits for its answer, when it can go without an
 * answer of its own first (prepared on this connection already, or a text query). The lead's answer comes first,
 * numbered from 1; when mysql2 hands the statement the turn, its answer is numbered from 1 again.
 */
const runAhead = (wire: Wire): void => {
  const queue = wire._commands
  let command = queue.peekAt(0)
  if (command === undefined) return
  if (isPrepare(command)) {
    const key = command.options === undefined ? undefined : wire.constructor.statementKey?.(command.options)
    if (key === undefined || !wire._statements.has(key) || queue.length !== 2) return
    // Found in the cache: it hands the statement to the command behind it and writes nothing.
    queue.shift()
    command.execute(undefined, wire)
    command = queue.peekAt(0)!
  }
  if (queue.length !== 1) return
  if (command.execute(undefined, wire)) {
    // It failed before anything was sent (mysql2 told its callback): nothing of it is to come.
    queue.shift()
  } else {
    const proceed = command.next
    command.next = function(packet, connection) {
      // Its turn, given without a packet: it was started already; its answer is numbered from 1.
      if (packet === undefined) {
        connection.sequenceId = 1
        return proceed
      }
      return proceed === null ? null : proceed.call(this, packet, connection)
    }
  }
  wire.sequenceId = 1
}

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
  const wire = conn as unknown as Wire
  let leadRows: ReadonlyArray<TextRow> | undefined
  const pipelined = !wire.config.compress && wire._command == null && wire._commands.length === 0
  if (pipelined) wire.stream.cork?.()
  try {
    conn.query({ sql: lead.sql, rowsAsArray: true }, (error: unknown, rows: unknown) => {
      if (!error) leadRows = asText(rows)
    })
    const led: Reply = (cause, results) => {
      if (cause) return reply(cause, results)
      if (leadRows !== undefined) lead.onRows(leadRows)
      reply(null, results)
    }
    if (rowsAsArray) (conn as any)[method]({ sql, values, rowsAsArray }, led)
    else (conn as any)[method](sql, values, led)
    if (pipelined) runAhead(wire)
  } finally {
    if (pipelined) wire.stream.uncork?.()
  }
}
