/**
 * Pipelined connections (lanes) of one PostgreSQL node, beside its pool (`pipelinedConnections`; ARCHITECTURE.md,
 * "Pipelined connections"). A lane is a pg client in pipeline mode: statements from many callers go out on it without
 * waiting for each other's answers, each closed by its own Sync, so one failing fails only itself. A pool of one
 * connection per statement in flight pays a round trip and a scheduling of its own per statement; a lane shares both.
 *
 * Lanes open lazily, once the pool has connected, as the load asks for them, and only where a connection reaches
 * PostgreSQL itself (`checkDirect`: a pooler in transaction mode may split a pipelined client's messages between
 * server connections); a statement never waits for a lane to open (the pool takes it meanwhile), so a
 * lane that cannot open fails no statement: opening backs off and the pool serves. The choice of lane is
 * `laneChoice.ts`.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type Pg from "pg"
import { laneFor, opensAnother } from "./laneChoice.js"
import type { Carried } from "./pgBatchedSubmit.js"
import type { Lane } from "./pgLane.js"
import { OpenLane } from "./pgLane.js"
import { CommittedOnLane, LedLane } from "./pgLaneCarried.js"
import { checkDirect } from "./pgPool.js"
import * as PgSocket from "./pgSocket.js"
import type { Within } from "./pgSubmit.js"
import { submitWithin } from "./pgSubmit.js"
import { endWithin } from "./scopedRelease.js"

/** The lanes of one node. */
export interface Lanes {
  /** The lane for the next statement, or undefined (the pool takes it); opens another lane when the load asks. */
  readonly pick: () => Lane | undefined
  /** Lanes open now. */
  readonly open: () => number
  /** True once a lane found a pooler between it and PostgreSQL: no lane serves this node. */
  readonly pooler: () => boolean
  /** Closes every lane's socket now (the node was found down); its statements fail as on a lost connection. */
  readonly cutAll: () => void
  /** Ends every lane: the statements on their wire are answered first. */
  readonly end: () => Promise<void>
  /** Closes the socket of every lane still open (an `end` that did not finish in time); how many. */
  readonly destroyAll: () => number
}

/** What the lanes of a node are made with. */
export interface LanesOptions {
  readonly Client: typeof Pg.Client
  /** The most lanes open at once. */
  readonly max: number
  /** The client configuration of a new lane: the pool's, in its current mode (`poolConfig`). */
  readonly config: () => Pg.ClientConfig
  /**
   * Whether the pool's mode is settled (a client of it connected): until then a lane could open with startup
   * parameters a pooler refuses.
   */
  readonly settled: () => boolean
  /** Bound on opening a lane and on its first answer (the pool's `connectTimeout`). */
  readonly connectMs: number
  /** A lane idle this long is closed (the pool's `idleTimeout`); 0: never. */
  readonly idleMs: number
  /** A lane this old is ended once its statements are answered (the pool's `maxLifetime`); 0: never. */
  readonly lifetimeMs: number
}

/** First wait before opening a lane again after one failed to open; doubles per failure. */
const BACKOFF_MS = 500
const BACKOFF_CAP_MS = 30_000
const SWEEP_MS = 1_000

/** The lanes of a node for the scope's life (none when `max` is 0), ended within the pool's close bound. */
export const scoped = (alias: string, options: LanesOptions): Effect.Effect<Lanes | undefined, never, Scope.Scope> =>
  options.max === 0 ? Effect.succeed(undefined) : Effect.acquireRelease(
    Effect.sync(() => make(options)),
    (lanes) => endWithin(alias, Effect.promise(() => lanes.end()), lanes.destroyAll)
  )

/** The lanes of one node; none is opened before the first statement asks. */
export const make = (options: LanesOptions): Lanes => {
  const lanes: Array<OpenLane> = []
  // Every lane until its connection ended (a retired lane may still be answering), and the clients still connecting.
  const all = new Set<OpenLane>()
  const connecting = new Set<Pg.Client>()
  let failures = 0
  let openAfter = 0
  let closed = false
  // True once a lane found a pooler between it and PostgreSQL.
  let pooler = false
  let sweeper: ReturnType<typeof setInterval> | undefined

  const gone = (lane: OpenLane, closed: boolean) => {
    const i = lanes.indexOf(lane)
    if (i !== -1) lanes.splice(i, 1)
    if (closed) all.delete(lane)
  }
  const sweep = () => {
    const now = performance.now()
    for (const lane of [...lanes]) {
      const idle = options.idleMs > 0 && lane.sent.length === 0 && now - lane.idleSince >= options.idleMs
      const old = options.lifetimeMs > 0 && now - lane.openedAt >= options.lifetimeMs
      if (idle || old) lane.retire()
    }
    if (lanes.length === 0 && connecting.size === 0 && sweeper !== undefined) {
      clearInterval(sweeper)
      sweeper = undefined
    }
  }
  const failed = (client: Pg.Client) => {
    connecting.delete(client)
    failures++
    openAfter = performance.now() + Math.min(BACKOFF_CAP_MS, BACKOFF_MS * 2 ** (failures - 1))
    PgSocket.cut(client)
  }
  const ready = (client: Pg.Client) => {
    failures = 0
    const lane = new OpenLane(client, performance.now(), gone)
    client.once("end", () => {
      lane.retired = true
      gone(lane, true)
    })
    all.add(lane)
    lanes.push(lane)
    if (sweeper === undefined && (options.idleMs > 0 || options.lifetimeMs > 0)) {
      sweeper = setInterval(sweep, SWEEP_MS)
      sweeper.unref()
    }
  }
  const openOne = () => {
    const client = new options.Client({ ...options.config(), pipeline: true } as Pg.ClientConfig)
    connecting.add(client)
    // A socket lost while connected fails the lane's statements through their callbacks; unhandled, this event would
    // end the process.
    client.on("error", ignore)
    client.connect((error: Error | undefined) => {
      if (error) return failed(client)
      if (closed) return PgSocket.cut(client)
      // Bounded as the connect: a server that let the connection in and answers nothing is not a lane.
      const timer = setTimeout(() => failed(client), options.connectMs)
      checkDirect(client, (direct, checkError) => {
        clearTimeout(timer)
        if (!connecting.has(client)) return
        if (checkError !== undefined) return failed(client)
        connecting.delete(client)
        if (closed) return PgSocket.cut(client)
        if (direct) return ready(client)
        // A pooler between: no lane for this node, ever. A pooler in transaction mode hands each transaction to
        // whichever server connection is free, and PgBouncer 1.18 under the bench's load sent parts of one pipelined
        // client's messages to two of them ("bind message has 400 parameter formats but 11300 parameters").
        pooler = true
        client.end().catch(ignore)
      })
    })
  }
  const cutCause = () => new Error("the node was found down")

  return {
    pick: () => {
      if (closed || pooler) return undefined
      const now = performance.now()
      const chosen = laneFor(lanes, now)
      if (opensAnother(lanes, chosen, connecting.size, options.max, now >= openAfter && options.settled())) openOne()
      return chosen === -1 ? undefined : lanes[chosen]
    },
    open: () => lanes.length,
    pooler: () => pooler,
    cutAll: () => {
      for (const lane of [...lanes]) lane.retire(cutCause())
    },
    end: async () => {
      closed = true
      if (sweeper !== undefined) clearInterval(sweeper)
      sweeper = undefined
      for (const client of connecting) PgSocket.cut(client)
      connecting.clear()
      lanes.length = 0
      await Promise.all([...all].map((lane) => lane.client.end().catch(ignore)))
    },
    destroyAll: () => {
      const left = [...all]
      all.clear()
      lanes.length = 0
      for (const lane of left) PgSocket.cut(lane.client)
      return left.length
    }
  }
}

/**
 * Sends one statement on `lane` under its deadline (`submitWithin`) and returns its canceller. Interrupted, the
 * statement's answer is dropped and the lane serves on: closing the connection would fail the statements of other
 * callers on it. Past its deadline the server is taken not to answer and the lane is retired; a failure that left
 * pg's connection unusable retires it too. A failure of the statement's own (a server error, values pg could not
 * send) leaves it serving. `carried`: a read's replay poll sent just before it, or a write's cell for the position
 * read just after it (`pgLaneCarried.ts`).
 */
export const submitOnLane = <A>(
  lane: Lane,
  query: Pg.QueryConfig,
  map: (result: any) => A,
  within: Within<A>,
  resume: (outcome: Effect.Effect<A, SqlError>) => void,
  carried?: Carried
): () => void => {
  const target = carried === undefined
    ? lane
    : "lead" in carried
    ? new LedLane(lane, carried.lead, within.Query)
    : carried.cell === undefined
    ? lane
    : new CommittedOnLane(lane, carried.cell, within.Query)
  const timer = submitWithin(target, query, map, within, resume, (broken, timedOut) => {
    if (broken !== undefined && (timedOut || !lane.queryable())) lane.retire(broken)
  })
  return () => {
    if (!within.guard.claim()) return
    clearTimeout(timer)
  }
}

const ignore = () => {}
