/**
 * One pipelined connection of a PostgreSQL node (a lane; ARCHITECTURE.md, "Pipelined connections"): the statements on
 * its wire, in the order they were written and will be answered, and how it goes out of service. The lanes of a node,
 * their opening and the choice between them are `pgLanes.ts`.
 */
import type Pg from "pg"
import type { LaneLoad } from "./laneChoice.js"
import * as PgSocket from "./pgSocket.js"
import type { Reply, Target } from "./pgSubmit.js"
import type { Corkable } from "./turnWrites.js"
import { TurnWrites } from "./turnWrites.js"

/** A lane as a statement sees it: where `submit` sends it (`query`), and how it goes out of service. */
export interface Lane extends Target {
  /** False once pg found the lane's connection lost or ending. */
  readonly queryable: () => boolean
  /**
   * Takes the lane out of service at once, closing its socket: a statement on it passed its deadline (the server does
   * not answer) or its connection broke. Its other statements fail as on a lost connection, which they would anyway.
   */
  readonly retire: (cause: Error) => void
}

/** A pipelined connection: its statements on the wire, its own losses, its retirement. */
export class OpenLane implements Lane, LaneLoad {
  // Statements written on this connection so far: which one was written last (see `sharedLoss`).
  private written = 0
  /** When each statement on the wire was written, oldest first; its length, how many are on it. */
  readonly sent: Array<number> = []
  idleSince: number
  retired = false
  // The error of each named statement that failed while others were on the wire behind it (see `fallout`).
  private readonly failed = new Map<string, Error>()
  // This turn's statements, written together at its end.
  private readonly writes = new TurnWrites()
  constructor(
    readonly client: Pg.Client,
    readonly openedAt: number,
    private readonly gone: (lane: OpenLane, closed: boolean) => void
  ) {
    this.idleSince = openedAt
  }

  query(query: Pg.QueryConfig | Pg.Query, reply: Reply): void {
    this.writes.hold(
      (this.client as unknown as { readonly connection?: { readonly stream?: Corkable } }).connection?.stream
    )
    this.sent.push(performance.now())
    const seq = ++this.written
    const name = (query as { readonly name?: string | undefined }).name
    let answered = false
    const done: Reply = (error, result) => {
      // pg answers a query whose values it could not bind twice: the error, then its Sync's ReadyForQuery.
      if (answered) return
      answered = true
      this.sent.shift()
      const lost = error ? sharedLoss(error, seq !== this.written) : error
      const outcome = lost && name !== undefined ? this.fallout(name, lost) : lost
      if (this.sent.length === 0) {
        this.idleSince = performance.now()
        this.failed.clear()
      }
      reply(outcome, result)
    }
    if (typeof (query as { readonly submit?: unknown }).submit === "function") {
      // A query pg built already holds its callback, which pg reads when it answers.
      ;(query as { callback?: Reply }).callback = done
      this.client.query(query as Pg.Query)
    } else {
      this.client.query(query as Pg.QueryConfig, done)
    }
  }

  /**
   * A named statement whose Parse failed fails the statements of the same name sent behind it before the failure came
   * back: they were sent without Parse (pg parses a name once per connection) and the server answers them "prepared
   * statement does not exist" (26000), which read alone is the sign of a pooler sharing server connections
   * (`pgPrepared.ts`). They fail with the Parse's own error instead: they are the same statement.
   */
  private fallout(name: string, error: Error): Error {
    if ((error as { readonly code?: unknown }).code === "26000") return this.failed.get(name) ?? error
    this.failed.set(name, error)
    return error
  }

  /** False once pg found the connection lost or ending. */
  queryable(): boolean {
    const state = this.client as unknown as { readonly _queryable?: boolean; readonly _ending?: boolean }
    return state._queryable !== false && state._ending !== true
  }

  retire(cause?: Error): void {
    if (this.retired) return
    this.retired = true
    // A cut socket has nothing left to answer: nothing to wait for at close.
    this.gone(this, cause !== undefined)
    if (cause !== undefined) PgSocket.cut(this.client)
    else this.client.end().catch(ignore)
  }
}

/**
 * pg hands every statement in flight on a connection the socket's one error. A write's EPIPE, or a reset met by a
 * write, is the last written statement's own (it never reached a server); for a statement written before it
 * (`writtenAfter`) it says the connection was lost, not that the statement never left: that one may have run and
 * committed, and read as never sent, a write that failed would be "nothing applied" when its outcome is unknown. pg's
 * own refusal of a statement on a connection already broken (not queryable) stays as it is: that one was never sent.
 */
export const sharedLoss = (error: Error, writtenAfter: boolean): Error => {
  const e = error as { readonly code?: unknown; readonly syscall?: unknown }
  if (!writtenAfter || (e.code !== "EPIPE" && e.syscall !== "write")) return error
  return Object.assign(
    new Error(`pipelined connection lost (${String(e.code ?? "write")}); the statement may have run`),
    // Connection-class, as the loss is; the socket's own error kept beside, not as the cause it is not.
    { code: "ECONNRESET", socketError: error }
  )
}

const ignore = () => {}
