/**
 * Pipelined connections (lanes) of one MySQL / MariaDB node (`pipelinedConnections`; ARCHITECTURE.md, "Pipelined
 * connections"): connections of the node's own pool, held while the load asks for them, on which statements from many
 * callers go out without waiting for each other's answers (`mysqlPipeline.ts`). The server answers each command on
 * its own: one that fails fails alone. A pool of one connection per statement in flight pays a round trip, a socket
 * write and a wake-up of the server's thread and of the client per statement; a lane shares them.
 *
 * A statement never waits for a lane: when none may take it (`laneFor`) it borrows a connection of the pool as before,
 * and another lane is borrowed for the ones after it (`opensAnother`). A lane idle for a while goes back to the pool,
 * as does one past the pool's `maxLifetime` once its statements are answered. A lane whose connection broke (a
 * statement past its deadline, an interruption, a lost socket) leaves at once, and its socket is closed so that the
 * statements behind on it fail now, as on a lost connection, rather than at their own deadlines.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Mysql from "mysql2"
import type { LaneLoad } from "./laneChoice.js"
import { laneFor, opensAnother } from "./laneChoice.js"
import type { MysqlPool } from "./mysqlPool.js"
import type { Corkable } from "./turnWrites.js"
import { TurnWrites } from "./turnWrites.js"

/**
 * How many lanes a node holds: `pipelinedConnections`, at most a third of its pool (`poolSize + maxOverflow`), so that
 * lanes held by a steady flow of reads never starve the writes and transactions that need a connection of their own.
 */
export const laneCount = (pipelinedConnections: number, poolMax: number): number =>
  Math.max(0, Math.min(pipelinedConnections, Math.floor(poolMax / 3)))

/** A lane held this long with nothing on its wire goes back to the pool. */
const IDLE_MS = 1_000

/** One lane: a pool connection and the statements on its wire. */
export class Lane implements LaneLoad {
  /** When each statement on the wire was written, oldest first: answers come in that order; its length, how many. */
  readonly sent: Array<number> = []
  idleSince = performance.now()
  /** Taken out of the choice (its connection broke, or it outlived `maxLifetime`): it serves no new statement. */
  leaving = false
  /** This turn's statements, written together at its end. */
  readonly writes = new TurnWrites()
  constructor(readonly conn: Mysql.PoolConnection) {}
}

/** The lanes of one node. */
export interface MysqlLanes {
  /** The lane for the next statement, or undefined (the pool takes it); borrows another lane when the load asks. */
  readonly pick: () => Lane | undefined
  /** The lane `conn` serves as, if any. */
  readonly of: (conn: Mysql.PoolConnection) => Lane | undefined
  /** A statement was written on `lane`. */
  readonly sent: (lane: Lane) => void
  /** A statement on `lane` was answered (or given up); `survives` false: the connection must never serve again. */
  readonly answered: (lane: Lane, survives: boolean) => void
  /** Lanes held now. */
  readonly open: () => number
  /** Retires every lane now (its node was found down, its reads cut): the statements on their wire fail at once. */
  readonly cutAll: () => void
}

/**
 * Whether mysql2 has found a lane's connection closed (the server ended it while the lane was idle, a fatal error): it
 * would refuse the next command. An idle pooled connection leaves mysql2's pool on its own; a lane is held, so the
 * choice looks.
 */
const closed = (conn: Mysql.PoolConnection): boolean => {
  const c = conn as unknown as {
    readonly _closing?: boolean
    readonly _fatalError?: unknown
    readonly stream?: { readonly destroyed?: boolean }
  }
  return c._closing === true || (c._fatalError !== undefined && c._fatalError !== null) || c.stream?.destroyed === true
}

/** The error the statements behind a broken lane's statement fail with: a lost connection, after they were sent. */
const brokenLane = (alias: string): Error =>
  Object.assign(
    new Error(`a statement ahead on a pipelined connection to ${alias} broke it (its deadline, or an interruption)`),
    { code: "PROTOCOL_CONNECTION_LOST", fatal: true }
  )

/**
 * Holds up to `max` lanes of `pool` for statements of `deadlineMs` each; they go back to the pool when the scope
 * closes (a lane with statements on its wire, once they are answered).
 */
export const make = (
  pool: MysqlPool,
  alias: string,
  max: number,
  deadlineMs: number
): Effect.Effect<MysqlLanes, never, Scope.Scope> =>
  Effect.gen(function*() {
    // The lanes a statement may be given, and every lane held (those leaving too, until their wire is empty).
    let lanes: Array<Lane> = []
    const held = new Map<Mysql.PoolConnection, Lane>()
    let opening = 0
    let ended = false
    const cancels = new Set<() => void>()

    const leave = (lane: Lane) => {
      if (lane.leaving) return
      lane.leaving = true
      lanes = lanes.filter((l) => l !== lane)
    }
    const giveBackIfDone = (lane: Lane) => {
      if (!lane.leaving || lane.sent.length > 0 || !held.delete(lane.conn)) return
      pool.giveBack(lane.conn)
    }
    /**
     * Takes a lane out of service for good: its connection is closed and never goes back to the pool, and the
     * statements still on its wire fail now, as on a lost connection (mysql2 tells every command).
     */
    const retire = (lane: Lane) => {
      leave(lane)
      if (!held.delete(lane.conn)) return
      lane.conn.destroy()
      if (lane.sent.length > 0) {
        ;(lane.conn as unknown as { readonly stream?: { destroy(error: Error): void } }).stream?.destroy(
          brokenLane(alias)
        )
      }
    }

    const borrow = () => {
      opening++
      let settled = false
      let cancel: (() => void) | undefined = undefined
      cancel = pool.borrow((conn) => {
        settled = true
        opening--
        if (cancel !== undefined) cancels.delete(cancel)
        // A lane that could not be borrowed fails no statement: the pool serves, and reports the failure itself.
        if (conn instanceof SqlError) return
        if (ended) return pool.giveBack(conn)
        const lane = new Lane(conn)
        held.set(conn, lane)
        lanes.push(lane)
      })
      if (!settled) cancels.add(cancel)
    }

    const pick = (): Lane | undefined => {
      for (const lane of lanes) if (closed(lane.conn)) retire(lane)
      const chosen = laneFor(lanes, performance.now())
      if (opensAnother(lanes, chosen, opening, max, !ended)) borrow()
      return chosen === -1 ? undefined : lanes[chosen]
    }

    const sent = (lane: Lane) => {
      // Called just before the statement is written: it goes out with the turn's others on the lane.
      lane.writes.hold((lane.conn as unknown as { readonly stream?: Corkable }).stream)
      lane.sent.push(performance.now())
    }

    const answered = (lane: Lane, survives: boolean) => {
      lane.sent.shift()
      if (lane.sent.length === 0) lane.idleSince = performance.now()
      if (survives) giveBackIfDone(lane)
      else retire(lane)
    }

    // Idle lanes, and lanes past the pool's lifetime, go back to the pool (which closes an expired connection). A lane
    // whose oldest statement is past the deadline with no one waiting for it (its callers were interrupted, so no
    // timer of theirs retires it) is retired here.
    const sweep = () => {
      const now = performance.now()
      for (const lane of [...held.values()]) {
        if (lane.sent.length > 0 && now - lane.sent[0]! > deadlineMs) retire(lane)
        else if ((lane.sent.length === 0 && now - lane.idleSince >= IDLE_MS) || pool.expired(lane.conn)) {
          leave(lane)
          giveBackIfDone(lane)
        }
      }
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const timer = setInterval(sweep, IDLE_MS / 2)
        timer.unref()
        return timer
      }),
      (timer) =>
        Effect.sync(() => {
          clearInterval(timer)
          ended = true
          for (const cancel of cancels) cancel()
          cancels.clear()
          for (const lane of [...held.values()]) {
            leave(lane)
            giveBackIfDone(lane)
          }
        })
    )

    return {
      pick,
      of: (conn) => held.get(conn),
      sent,
      answered,
      open: () => lanes.length,
      cutAll: () => {
        for (const lane of [...held.values()]) retire(lane)
      }
    }
  })
