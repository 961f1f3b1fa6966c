/**
 * Statements written on a MySQL / MariaDB connection before the answers of those ahead of them (ARCHITECTURE.md,
 * "Pipelined connections"). The protocol answers commands in the order they come, so several can be on the wire at
 * once; mysql2 writes a command only when the one before it has been answered, so a command it queued is started
 * here at once (`startQueued`) and takes its answer where mysql2 would have started it. A command that cannot go
 * without an answer of its own first (a statement not yet prepared on the connection), or one behind such a command,
 * is left in mysql2's queue: it runs in its turn, slower, never out of order.
 */
import type * as Mysql from "mysql2"

/** mysql2's callback of one statement. */
export type Reply = (cause: any, results?: unknown) => void

/** A mysql2 command: its current state (null: not started), and the run of one packet through it (`done`: true). */
interface Command {
  readonly constructor: { readonly name: string }
  next: ((this: Command, packet: unknown, connection: Wire) => unknown) | null
  readonly options?: object
  execute(packet: unknown, connection: Wire): boolean
}

/** mysql2's queue of commands waiting for their turn. */
interface Queue {
  readonly length: number
  peekAt(index: number): Command | undefined
  removeOne(index: number): unknown
}

/** The slice of a mysql2 connection a pipelined command is written through. */
export interface Wire {
  sequenceId: number
  readonly _command: Command | null | undefined
  readonly _commands: Queue
  readonly _statements: { has(key: string): boolean }
  readonly config: { readonly compress?: boolean }
  readonly constructor: { statementKey?: (options: object) => string }
}

/** The command mysql2's `execute` queues first: it finds the statement in the connection's cache, or prepares it. */
const isPrepare = (command: Command): boolean => command.constructor.name === "Prepare"

/** The command that runs a prepared statement: it can start only once its `Prepare` has handed the statement over. */
const isExecute = (command: Command): boolean => command.constructor.name === "Execute"

/** Whether a queued `Prepare` finds its statement in the connection's cache (it then writes nothing). */
const cached = (wire: Wire, prepare: Command): boolean => {
  const key = prepare.options === undefined ? undefined : wire.constructor.statementKey?.(prepare.options)
  return key !== undefined && wire._statements.has(key)
}

/**
 * Starts the statement mysql2 just queued on `wire` (its last command, behind a `Prepare` for `execute`) while the
 * commands ahead of it await their answers, when every one of them has been started too and the statement can go
 * without an answer first; true when it went out (or failed before anything was written: its callback was told).
 * The answer being read when it is written keeps its place in the count of packets (`sequenceId`); the statement's
 * own answer is numbered from 1 when mysql2 hands it the turn.
 */
export const startQueued = (wire: Wire): boolean => {
  const queue = wire._commands
  const last = queue.length - 1
  const command = queue.peekAt(last)
  if (command === undefined || wire.config.compress || wire._command == null) return false
  const before = queue.peekAt(last - 1)
  const prepare = before !== undefined && before.next === null && isPrepare(before) ? before : undefined
  // An `execute` whose `Prepare` is not the unstarted command just ahead of it is still being prepared.
  if (prepare === undefined && isExecute(command)) return false
  const first = prepare === undefined ? last : last - 1
  for (let i = 0; i < first; i++) if (queue.peekAt(i)!.next === null) return false
  if (prepare !== undefined && !cached(wire, prepare)) return false
  const sequenceId = wire.sequenceId
  if (prepare !== undefined) {
    // Found in the cache: it hands the statement to the command behind it and writes nothing.
    queue.removeOne(first)
    prepare.execute(undefined, wire)
  }
  if (command.execute(undefined, wire)) {
    // It failed before anything was written (mysql2 told its callback): nothing of it is to come.
    queue.removeOne(queue.length - 1)
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
  wire.sequenceId = sequenceId
  return true
}

/**
 * Runs one statement on `conn` through mysql2 (`method`), written at once when the connection is busy with others
 * (`startQueued`). The options-object form costs mysql2 ~10 µs more per statement than the positional one (measured
 * with bench/src/probes/mysqlProbe.ts); it is used only for rows as arrays.
 */
export const sendStatement = (
  conn: Mysql.PoolConnection,
  method: "execute" | "query",
  sql: string,
  values: ReadonlyArray<unknown>,
  rowsAsArray: boolean,
  reply: Reply
): void => {
  // An idle connection: mysql2 writes it at once itself.
  const busy = (conn as unknown as Wire)._command != null
  if (rowsAsArray) (conn as any)[method]({ sql, values, rowsAsArray }, reply)
  else (conn as any)[method](sql, values, reply)
  if (busy) startQueued(conn as unknown as Wire)
}
