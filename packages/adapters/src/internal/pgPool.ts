/**
 * The pg pool of one node, reopened once without FastORM's startup parameters when a pooler in front of the node
 * refuses them (README, "Behind a connection pooler"). A refusal comes in answer to the startup packet, before any
 * statement was sent, so connecting again without them is safe; checkouts that were refused by the first pool are
 * served by the second.
 */
import type Pg from "pg"
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
 * with a pooler refusal in PgBouncer's words that names the setting (`refusal` is its text).
 */
export const make = (
  PgPool: typeof Pg.Pool,
  configFor: (behindPooler: boolean) => Pg.PoolConfig,
  refusal?: string | undefined
): NodePool => {
  // Every client from its connect until its end completed: pg-pool's `end` lets go of idle clients before their
  // goodbye is answered, and waits for busy ones.
  const clients = new Set<Pg.PoolClient>()
  const open = (behindPooler: boolean) => {
    const pool = new PgPool(configFor(behindPooler))
    // An idle pooled connection that the server drops emits "error" on the pool; unhandled, it kills the process.
    pool.on("error", () => {})
    pool.on("connect", (client) => clients.add(client))
    pool.on("remove", (client) => clients.delete(client))
    return pool
  }
  let behindPooler = false
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
      checkout(error ?? undefined, client, release)
    })
  }

  return {
    connect,
    behindPooler: () => behindPooler,
    current: () => pool,
    end: async () => {
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
