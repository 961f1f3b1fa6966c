/**
 * Statements on a MySQL / MariaDB node, each within the client-side deadline (a timer in the driver callback, not a
 * fiber: `deadline.ts`), on a pipelined connection (a lane, `mysqlLanes.ts`), on a borrowed connection (borrowed and
 * given back inside the driver's callbacks) or on a reserved one (a transaction's). A connection whose statement
 * outlived its deadline is destroyed: the statement may still be running on the server; so is a borrowed one whose
 * statement was interrupted, while on a lane an interrupted statement's answer is only dropped.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Mysql from "mysql2"
import { cancellable, type Register } from "./cancellable.js"
import { timeoutError } from "./deadline.js"
import { InFlight } from "./inFlight.js"
import type { MysqlLanes } from "./mysqlLanes.js"
import type { Lead } from "./mysqlLead.js"
import { sendLed } from "./mysqlLead.js"
import { sendStatement } from "./mysqlPipeline.js"
import type { MysqlPool } from "./mysqlPool.js"
import { committedGtid } from "./mysqlPositions.js"
import { queryStream } from "./mysqlStream.js"

/** mysql2's two ways to run a statement: prepared (`execute`) or text (`query`). */
export type Method = "execute" | "query"

/**
 * Where a statement's OK packet leaves the GTID its commit was given (undefined: none), overwritten by each
 * successful statement: a plain cell, so that telling it costs no closure per statement.
 */
export interface Committed {
  gtid: string | undefined
}

/** What a statement's caller makes of mysql2's result (its rows, or the result as it is), applied in the callback. */
export type MapResult = (results: unknown) => unknown

/**
 * One statement, with what its result becomes (applied in the driver callback: no `Effect.map` per statement) and
 * the cell its OK packet's GTID is written to (none: not looked at).
 */
export type Statement = (
  sql: string,
  values: ReadonlyArray<unknown>,
  rowsAsArray: boolean,
  method: Method,
  map: MapResult,
  committed: Committed | undefined
) => Effect.Effect<unknown, SqlError>

/** Runs statements on one node's connections. */
export interface Runner {
  /** One statement on a connection borrowed for its own duration. */
  readonly pooled: Statement
  /** `pooled`, for a read a router may retry elsewhere: tracked while in flight, for `cutReads`. */
  readonly read: Statement
  /**
   * `read` with `lead` sent in front of the statement, in its round trip where the connection allows
   * (`mysqlLead.ts`): a session read's wait for its replica, whose bound extends the statement's deadline.
   */
  readonly led: (lead: Lead, ...statement: Parameters<Statement>) => ReturnType<Statement>
  /** Ends every `read` in flight now, with a connection-class error; returns how many. */
  readonly cutReads: () => number
  /** One statement on a reserved connection. */
  readonly on: (conn: Mysql.PoolConnection, ...statement: Parameters<Statement>) => ReturnType<Statement>
  /**
   * One prepared statement on a borrowed connection within a caller's deadline `ms` (never past the node's), the
   * checkout included; `undefined` when no answer came in time (the connection is then closed). A `read` (a session
   * wait on a replica) is tracked like `read`'s statements, for `cutReads`.
   */
  readonly within: (
    ms: number,
    sql: string,
    values: ReadonlyArray<unknown>,
    map: MapResult,
    read: boolean
  ) => Effect.Effect<unknown, SqlError>
  /**
   * `sql`'s rows as a stream on `conn`, each pull waiting at most the node's deadline for rows; the connection is
   * destroyed when the stream ends early or past that deadline (`mysqlStream.ts`). A stream of reads (`read`) is
   * also ended at once by `cutReads`.
   */
  readonly stream: (
    conn: Mysql.PoolConnection,
    sql: string,
    params: ReadonlyArray<unknown>,
    transformRows: Parameters<typeof queryStream>[3],
    read?: boolean
  ) => Stream.Stream<any, SqlError>
  /** Marks a connection unusable (never returned to the pool) and closes it. */
  readonly destroy: (conn: Mysql.PoolConnection) => void
  /** True for a connection `destroy` or a deadline closed. */
  readonly isBroken: (conn: Mysql.PoolConnection) => boolean
}

/** How a connection came out of a statement: `survives` false means it must never serve again. */
type After = (conn: Mysql.PoolConnection, survives: boolean) => void

// A reserved connection stays with its holder either way (the holder's release looks at `isBroken`).
const keep: After = () => {}

/** The runner of a node whose statements get `deadlineMs` each, its lanes (none: every statement borrows). */
export const make = (
  pool: MysqlPool,
  alias: string,
  deadlineMs: number,
  lanes: MysqlLanes | undefined
): Runner => {
  // Connections whose statement outlived its deadline: destroyed, never returned to the pool.
  const broken = new WeakSet<Mysql.PoolConnection>()
  const destroy = (conn: Mysql.PoolConnection) => {
    broken.add(conn)
    conn.destroy()
  }
  // A borrowed connection goes back to the pool, or is closed (mysql2's pool drops a destroyed one itself).
  const giveBack: After = (conn, survives) => {
    if (survives) pool.giveBack(conn)
    else conn.destroy()
  }
  // A lane's statement: the lane counts its answer (and is retired when its connection must not serve again).
  const onLane: After = (conn, survives) => {
    const lane = lanes?.of(conn)
    if (lane !== undefined) lanes!.answered(lane, survives)
  }

  /**
   * One statement on a connection, within the deadline; `after` says whether the connection survives. The first of
   * answer, deadline or cancel wins (`done`, a local: no guard object per statement).
   */
  const send = (
    conn: Mysql.PoolConnection,
    sql: string,
    values: ReadonlyArray<unknown>,
    rowsAsArray: boolean,
    method: Method,
    map: MapResult,
    committed: Committed | undefined,
    resume: (result: Effect.Effect<unknown, SqlError>) => void,
    after: After,
    ms: number = deadlineMs,
    expired?: Effect.Effect<unknown, SqlError>,
    lead?: Lead
  ): () => void => {
    let done = false
    // Interrupted on a lane: its answer still comes, and the lane counts it (`after`); no one is told.
    let dropped = false
    const timer = setTimeout(() => {
      if (done) return
      done = true
      destroy(conn)
      after(conn, false)
      resume(expired ?? Effect.fail(timeoutError(alias, ms)))
    }, ms)
    const reply = (cause: any, results: unknown) => {
      if (done) {
        if (dropped) {
          dropped = false
          after(conn, !(cause && cause.fatal))
        }
        return
      }
      done = true
      clearTimeout(timer)
      // mysql2 marks errors that kill the connection `fatal`; the pool drops those connections itself.
      after(conn, !(cause && cause.fatal))
      if (cause) return resume(Effect.fail(new SqlError({ cause, message: "Failed to execute statement" })))
      // Before resuming: whoever awaits the statement finds its position already there.
      if (committed !== undefined) committed.gtid = committedGtid(results)
      // A throwing row transform is a defect of the statement's fiber, as it was under `Effect.map`, never an
      // exception inside mysql2's callback.
      let value: unknown
      try {
        value = map(results)
      } catch (defect) {
        return resume(Effect.die(defect))
      }
      resume(Effect.succeed(value))
    }
    try {
      if (lead !== undefined) sendLed(conn, lead, method, sql, values, rowsAsArray, reply)
      else sendStatement(conn, method, sql, values, rowsAsArray, reply)
    } catch (refused) {
      // mysql2 refused the values before queueing the statement (an undefined, a function): nothing of it was sent,
      // and the connection serves on.
      if (!done) {
        done = true
        clearTimeout(timer)
        after(conn, true)
        resume(Effect.fail(new SqlError({ cause: refused, message: "Failed to execute statement" })))
      }
    }
    return () => {
      if (done) return
      done = true
      clearTimeout(timer)
      // The statements behind it on a lane are others': it leaves its answer to come, and the lane serves on.
      if (after === onLane) dropped = true
      else {
        destroy(conn)
        after(conn, false)
      }
    }
  }

  const on: Runner["on"] = (conn, sql, values, rowsAsArray, method, map, committed) =>
    cancellable<unknown, SqlError>((resume) => {
      if (broken.has(conn)) {
        return resume(Effect.fail(
          new SqlError({
            message: "Failed to execute statement",
            cause: new Error("Can't add new command when connection is in closed state")
          })
        ))
      }
      return send(conn, sql, values, rowsAsArray, method, map, committed, resume, keep)
    })

  /**
   * Borrows a connection for one statement and gives it back, all in driver callbacks (no scope, no fiber). With
   * `expired` (a caller's own deadline, `within`), the checkout counts against `ms` too, and `expired` is the outcome
   * past it.
   */
  const borrowed = (
    sql: string,
    values: ReadonlyArray<unknown>,
    rowsAsArray: boolean,
    method: Method,
    map: MapResult,
    committed: Committed | undefined,
    ms: number = deadlineMs,
    expired?: Effect.Effect<unknown, SqlError>,
    tracked?: InFlight,
    lead?: Lead
  ) => {
    const register: Register<unknown, SqlError> = (resume) => {
      // A read a router may retry elsewhere, bounded by the node's deadline alone with nothing in front of it, may
      // share a lane. Writes keep a connection each: on MariaDB they are bound by the servers' work (the primary's
      // commit, the replicas' apply), not by round trips, and a lane would tie each one's outcome to its neighbours'.
      const lane = expired === undefined && lead === undefined && tracked !== undefined ? lanes?.pick() : undefined
      if (lane !== undefined) {
        lanes!.sent(lane)
        return send(lane.conn, sql, values, rowsAsArray, method, map, committed, resume, onLane, ms)
      }
      let cancelStatement: (() => void) | undefined
      const started = expired === undefined ? 0 : performance.now()
      // Past the caller's deadline still waiting for a connection: the borrow is cancelled (one that comes later goes
      // back to the pool).
      const checkout = expired === undefined ? undefined : setTimeout(() => {
        cancelBorrow()
        resume(expired)
      }, ms)
      const cancelBorrow = pool.borrow((conn) => {
        if (checkout !== undefined) clearTimeout(checkout)
        if (conn instanceof SqlError) return resume(Effect.fail(conn))
        const left = expired === undefined ? ms : Math.max(1, ms - (performance.now() - started))
        cancelStatement = send(
          conn,
          sql,
          values,
          rowsAsArray,
          method,
          map,
          committed,
          resume,
          giveBack,
          left,
          expired,
          lead
        )
      })
      return () => {
        if (checkout !== undefined) clearTimeout(checkout)
        cancelBorrow()
        cancelStatement?.()
      }
    }
    return cancellable(tracked === undefined ? register : tracked.track(register))
  }

  // Reads a router may run elsewhere: tracked while in flight, so that `cutReads` ends them at once.
  const reads = new InFlight(alias)
  const read: Statement = (sql, values, rowsAsArray, method, map, committed) =>
    borrowed(sql, values, rowsAsArray, method, map, committed, deadlineMs, undefined, reads)
  const led: Runner["led"] = (lead, sql, values, rowsAsArray, method, map, committed) =>
    borrowed(sql, values, rowsAsArray, method, map, committed, deadlineMs + lead.waitMs, undefined, reads, lead)

  // A caller's deadline (a session wait): no answer in time is `undefined`.
  const noAnswer = Effect.succeed(undefined)
  const within: Runner["within"] = (ms, sql, values, map, read) => {
    const tracked = read ? reads : undefined
    return borrowed(sql, values, false, "execute", map, undefined, Math.min(ms, deadlineMs), noAnswer, tracked)
  }

  return {
    pooled: borrowed,
    read,
    led,
    cutReads: () => {
      // The reads end first (each told of the cut), then the lanes they were dropped from close.
      const cut = reads.cutAll()
      lanes?.cutAll()
      return cut
    },
    on,
    within,
    stream: (conn, sql, params, transformRows, read = false) =>
      queryStream(conn, sql, params, transformRows, {
        alias,
        ms: deadlineMs,
        abandon: () => destroy(conn),
        tracked: read ? reads : undefined
      }),
    destroy,
    isBroken: (conn) => broken.has(conn)
  }
}
