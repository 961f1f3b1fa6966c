/**
 * The pg pool of one node, reopened once without FastORM's startup parameters when a pooler in front of the node
 * refuses them (README, "Behind a connection pooler"). A refusal comes in answer to the startup packet, before any
 * statement was sent, so connecting again without them is safe; checkouts that were refused by the first pool are
 * served by the second.
 */
import type Pg from "pg"
import { closedBeforeSetUp, noAnswer } from "./deadline.js"
import * as PgSocket from "./pgSocket.js"
import { refusedStartupParameter } from "./pooler.js"

type Release = (cause?: Error | boolean) => void

/** What a checkout gets: pg-pool's own callback arguments. */
export type Checkout = (error: Error | undefined, client: Pg.PoolClient | undefined, release: Release) => void

/** One node's pool. */
export interface NodePool {
  /** Checks a client out (pg-pool's `connect`), through the pool without startup parameters once one was refused. */
  readonly connect: (checkout: Checkout) => void
  /** True once a pooler refused the startup parameters: connections carry only `application_name`. */
  readonly behindPooler: () => boolean
  /** True once a checkout got a client: `behindPooler` is settled (a refusal comes before any client). */
  readonly connected: () => boolean
  /**
   * Whether a client reaches PostgreSQL itself, no pooler between: its server process is the one its startup named
   * (`checksDirect`; unknown, as before the check answered, is false).
   */
  readonly direct: (client: Pg.PoolClient) => boolean
  /** The current pool, for its counts. */
  readonly current: () => Pg.Pool
  /** Ends every pool this node opened. */
  readonly end: () => Promise<void>
  /** Closes the socket of every client still open (an `end` that did not finish in time); how many. */
  readonly destroyAll: () => number
}

/**
 * Opens the node's pool; `configFor(behindPooler)` is the pool configuration of each mode. With `refusal`, a setting
 * that only a startup parameter carries, a refused startup packet is not retried without them: each checkout fails
 * with a pooler refusal in PgBouncer's words that names the setting (`refusal` is its text). With `checksDirect`, each
 * new client of the pool with startup parameters asks once for its server process (`direct`).
 */
export const make = (
  PgPool: typeof Pg.Pool,
  configFor: (behindPooler: boolean) => Pg.PoolConfig,
  refusal?: string | undefined,
  checksDirect = false
): NodePool => {
  // Every client from its connect until its end completed: pg-pool's `end` lets go of idle clients before their
  // goodbye is answered, and waits for busy ones.
  const clients = new Set<Pg.PoolClient>()
  const direct = new WeakSet<Pg.PoolClient>()
  // New clients whose check has not answered yet, with the checkouts waiting for it (pg warns about a statement sent
  // while another runs, so the first one waits); each is told why the client cannot serve, if it cannot.
  const checking = new WeakMap<Pg.PoolClient, Array<(failure: Error | undefined) => void>>()
  // The wait for the check: the connect's own bound.
  let checkMs = 10_000
  const open = (behindPooler: boolean) => {
    const config = configFor(behindPooler)
    checkMs = config.connectionTimeoutMillis ?? checkMs
    const pool = new PgPool(config)
    // An idle pooled connection that the server drops emits "error" on the pool; unhandled, it kills the process.
    pool.on("error", () => {})
    pool.on("connect", (client) => {
      clients.add(client)
      if (!checksDirect || behindPooler) return
      checking.set(client, [])
      // pg-pool counts the client as checked out already and listens no more: until a checkout holds it, a socket
      // lost now would be an unhandled "error" event, which ends the process. The check's answer reports it instead.
      client.on("error", ignore)
      checkDirect(client, (isDirect, failure) => {
        client.off("error", ignore)
        if (isDirect) direct.add(client)
        const waiting = checking.get(client) ?? []
        checking.delete(client)
        const unusable = failure !== undefined && broken(client) ? failure : undefined
        for (const go of waiting) go(unusable)
      })
    })
    pool.on("remove", (client) => clients.delete(client))
    return pool
  }
  let behindPooler = false
  let connected = false
  let pool = open(false)
  const ending: Array<Promise<void>> = []

  const connect = (checkout: Checkout): void => {
    const from = pool
    from.connect((error, client, release) => {
      if (error !== undefined && error !== null && refusedStartupParameter(error)) {
        if (refusal !== undefined) {
          return checkout(Object.assign(new Error(refusal), { code: "08P01", severity: "FATAL" }), client, release)
        }
        if (!behindPooler) {
          behindPooler = true
          pool = open(true)
          // Every connection of the first pool was refused: it holds none worth keeping.
          ending.push(from.end().catch(() => undefined))
        }
        // Once, from the first pool only: a pool without them that is refused too reports the refusal.
        if (from !== pool) return pool.connect(checkout as Parameters<Pg.Pool["connect"]>[0])
      }
      if (!error && client !== undefined) connected = true
      const waiting = client === undefined ? undefined : checking.get(client)
      if (waiting === undefined) return checkout(error ?? undefined, client, release)
      // Bounded as the connect itself: a server that opened the connection and answers nothing is not usable, and the
      // node is at fault (`noAnswer`: a read runs elsewhere).
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(go), 1)
        go(noAnswer(`no answer within ${checkMs} ms after the connection opened`))
      }, checkMs)
      const go = (failure: Error | undefined) => {
        clearTimeout(timer)
        if (failure === undefined) return checkout(undefined, client, release)
        // Closed, not ended: a goodbye on a link that answers nothing would keep its socket open.
        release(failure)
        PgSocket.cut(client!)
        checkout(failure, undefined, () => {})
      }
      waiting.push(go)
    })
  }

  return {
    connect,
    behindPooler: () => behindPooler,
    connected: () => connected,
    direct: (client) => direct.has(client),
    current: () => pool,
    end: async () => {
      // A client still connecting has served no one either: the pool's end would wait for its connect's bound.
      const connecting = (pool as unknown as { readonly _clients?: ReadonlyArray<Pg.PoolClient> })._clients ?? []
      for (const client of connecting) if (!clients.has(client)) PgSocket.cut(client)
      // A client still waiting for its check has served no one: the pool's end would wait for its checkout.
      for (const client of [...clients]) {
        const waiting = checking.get(client)
        if (waiting === undefined) continue
        checking.delete(client)
        const closed = closedBeforeSetUp()
        for (const go of waiting) go(closed)
        PgSocket.cut(client)
      }
      await Promise.all([pool.end().catch(() => undefined), ...ending])
    },
    destroyAll: () => {
      const left = [...clients]
      clients.clear()
      for (const client of left) PgSocket.cut(client)
      return left.length
    }
  }
}

/**
 * A pooler answers the startup with a process id and key of its own (PgBouncer makes them up; it forwards a cancel
 * itself), so a server process other than the startup's means something stands between client and server.
 */
export const checkDirect = (
  client: Pg.PoolClient | Pg.Client,
  answer: (direct: boolean, failure: Error | undefined) => void
): void => {
  client.query("SELECT pg_backend_pid() AS pid", (error: Error | undefined, result: Pg.QueryResult | undefined) => {
    const started = (client as { readonly processID?: unknown }).processID
    answer(!error && started !== undefined && result?.rows[0]?.pid === started, error ?? undefined)
  })
}

/** True once pg took the client's connection to be lost or ending: it can run nothing more. */
const broken = (client: Pg.PoolClient): boolean => {
  const state = client as unknown as { readonly _queryable?: boolean; readonly _ending?: boolean }
  return state._queryable === false || state._ending === true
}

const ignore = () => {}
