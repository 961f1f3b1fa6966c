/**
 * The mysql2 pool of one MySQL / MariaDB node: session settings on every new connection (`mysqlSession.ts`),
 * `maxLifetime` (mysql2 has no such option), bounded waits where mysql2 has none (for a connection, for the pool's
 * close), and its counts.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Mysql from "mysql2"
import type { PoolStatus } from "../DatabaseAdapter.js"
import type { MysqlOptimalConfig } from "../OptimalConfig.js"
import { outlived, poolBounds } from "../OptimalConfig.js"
import { closedBeforeSetUp, noAnswer } from "./deadline.js"
import type { MysqlModules } from "./drivers.js"
import * as MysqlSession from "./mysqlSession.js"
import type { MysqlTlsOptions } from "./mysqlTls.js"
import { endWithin } from "./scopedRelease.js"

/** mysql2's private connection queues (double-ended queues). */
interface Denque {
  readonly length: number
  readonly get: (i: number) => Mysql.PoolConnection
}

/** A mysql2 connection's socket. */
interface Stream {
  readonly destroy: (error?: Error) => void
}

/** Every connection of a pool, open or being set up (a copy: closing one takes it out of mysql2's queue). */
const connectionsOf = (pool: Mysql.Pool): Array<Mysql.PoolConnection> => {
  const all = (pool as unknown as { readonly _allConnections?: Denque })._allConnections
  const connections: Array<Mysql.PoolConnection> = []
  for (let i = 0; i < (all?.length ?? 0); i++) connections.push(all!.get(i))
  return connections
}

/**
 * Closes every connection a pool's `end` left (it queues each goodbye behind the command the connection runs, so
 * those still running never got to it); how many. A plain `destroy` never calls a running command back: its socket
 * fails instead, as on a network error, so that the statement's caller hears now rather than at its deadline.
 */
const closeLeft = (pool: Mysql.Pool, alias: string): number => {
  const left = connectionsOf(pool)
  for (const conn of left) {
    const running = conn as unknown as { readonly _command?: unknown; readonly stream?: Stream }
    if (running._command && running.stream !== undefined) {
      running.stream.destroy(new Error(`the pool of ${alias} was closed while this ran`))
    } else conn.destroy()
  }
  return left.length
}

/** Where one MySQL / MariaDB node is and how to log in. */
export interface MysqlEndpoint {
  readonly host: string
  readonly port: number
  readonly database?: string | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  /** The node's TLS, as the health probe applies it too (`mysqlTls.ts`). */
  readonly tls: MysqlTlsOptions
  /** "mariadb" when the URL already says so; otherwise the server's handshake decides. */
  readonly productHint?: "mariadb" | "mysql" | undefined
}

/** One node's pool. */
export interface MysqlPool {
  /**
   * Borrows a connection within `connectTimeout`: `done` gets it, or the error, exactly once unless the returned
   * cancel runs first.
   */
  readonly borrow: (done: (conn: Mysql.PoolConnection | SqlError) => void) => () => void
  /** Gives a healthy connection back, or closes it when it has outlived `maxLifetime`. */
  readonly giveBack: (conn: Mysql.PoolConnection) => void
  /** True for a connection that has outlived `maxLifetime`. */
  readonly expired: (conn: Mysql.PoolConnection) => boolean
  readonly status: () => PoolStatus
}

/** Opens the pool (no connection until the first statement) and closes it with the scope. */
export const make = (
  Mysql: MysqlModules["Mysql"],
  endpoint: MysqlEndpoint,
  config: MysqlOptimalConfig,
  options: { readonly alias: string; readonly readOnly: boolean }
): Effect.Effect<MysqlPool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const bounds = poolBounds(config)
    const connectMs = Duration.toMillis(config.connectTimeout)
    // When each connection opened, so that an expired one is destroyed instead of released, and a sweep closes
    // expired idle ones, as pg-pool's maxLifetimeSeconds does.
    const openedAt = new WeakMap<Mysql.PoolConnection, number>()
    const expired = (conn: Mysql.PoolConnection) =>
      outlived(openedAt.get(conn) ?? Date.now(), Date.now(), config.maxLifetime)
    const giveBack = (conn: Mysql.PoolConnection) => {
      if (expired(conn)) conn.destroy()
      else conn.release()
    }

    const sessions = MysqlSession.make(config, { productHint: endpoint.productHint, readOnly: options.readOnly })

    // Connections that have served no one are closed at once when the pool closes: its end would wait for their
    // goodbyes, queued behind a login (bounded by `connectTimeout`) or session settings that may never be answered.
    const closeUnready = (pool: Mysql.Pool) => {
      const all = connectionsOf(pool)
      for (const conn of all) {
        // No `connection` event yet: still logging in. Its socket fails, and so does the login's callback.
        if (openedAt.has(conn)) continue
        const stream = (conn as unknown as { readonly stream?: Stream }).stream
        stream?.destroy(closedBeforeSetUp())
      }
      sessions.closeUnready(all)
    }

    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = Mysql.createPool({
          host: endpoint.host,
          port: endpoint.port,
          ...(endpoint.database !== undefined ? { database: endpoint.database } : {}),
          ...(endpoint.username !== undefined ? { user: endpoint.username } : {}),
          ...(endpoint.password !== undefined ? { password: Redacted.value(endpoint.password) } : {}),
          ...(endpoint.tls.ssl === undefined ? {} : { ssl: endpoint.tls.ssl }),
          ...(endpoint.tls.stream === undefined ? {} : { stream: endpoint.tls.stream }),
          // Stacked statements are an injection amplifier; nothing in FastORM needs them.
          multipleStatements: false,
          supportBigNumbers: true,
          connectionLimit: bounds.max,
          maxIdle: bounds.min,
          idleTimeout: Duration.toMillis(config.idleTimeout),
          connectTimeout: connectMs,
          charset: config.collation.toUpperCase(),
          // Checked to be one of the forms mysql2 takes ("local", "Z", "+HH:MM"); the session's zone follows it above.
          timezone: config.timezone,
          enableKeepAlive: config.keepAlive,
          keepAliveInitialDelay: Math.round(Duration.toMillis(config.keepAliveInitialDelay)),
          waitForConnections: true,
          queueLimit: 0
        })
        pool.on("connection", (conn) => {
          openedAt.set(conn, Date.now())
          sessions.open(conn)
        })
        return pool
      }),
      (pool) =>
        endWithin(
          options.alias,
          Effect.async<void>((resume) => {
            closeUnready(pool)
            pool.end(() => resume(Effect.void))
          }),
          () => closeLeft(pool, options.alias)
        )
    )
    // mysql2 keeps its counts in private queues; read them defensively.
    const queues = pool as unknown as { readonly _allConnections?: Denque; readonly _freeConnections?: Denque }
    const lifetimeMs = Duration.toMillis(config.maxLifetime)
    if (lifetimeMs > 0) {
      // Idle connections are in the free queue only (one being handed out has left it already); a tenth of the
      // lifetime, between 100 ms and 30 s, keeps an idle connection at most that much past its lifetime.
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const timer = setInterval(() => {
            const free = queues._freeConnections
            if (free === undefined) return
            const idle: Array<Mysql.PoolConnection> = []
            for (let i = 0; i < free.length; i++) idle.push(free.get(i))
            for (const conn of idle) if (expired(conn)) conn.destroy()
          }, Math.min(30_000, Math.max(100, lifetimeMs / 10)))
          timer.unref()
          return timer
        }),
        (timer) => Effect.sync(() => clearInterval(timer))
      )
    }

    let waiting = 0
    // The router tells an exhausted pool from a dead server by this message (and the pool's counts).
    const acquireTimeout = () =>
      new SqlError({
        message: `Timed out acquiring a connection to ${options.alias}`,
        cause: noAnswer("acquire timeout")
      })

    const borrow: MysqlPool["borrow"] = (done) => {
      let settled = false
      waiting++
      const finish = () => {
        settled = true
        waiting--
      }
      // mysql2 hands a free connection over on the next tick: only a caller that may wait needs the bound (a timer).
      const timer = (queues._freeConnections?.length ?? 0) > 0 ? undefined : setTimeout(() => {
        if (settled) return
        finish()
        done(acquireTimeout())
      }, connectMs)
      pool.getConnection((cause, conn) => {
        if (settled) {
          if (!cause) giveBack(conn)
          return
        }
        if (cause) {
          finish()
          clearTimeout(timer)
          return done(new SqlError({ cause, message: `Failed to acquire a connection to ${options.alias}` }))
        }
        const session = sessions.get(conn)
        if (session === undefined) {
          finish()
          clearTimeout(timer)
          return done(conn)
        }
        // Only a new connection gets here: hand it over once its session is set, or report why it could not be.
        const handOver = () => {
          if (settled) {
            if (session.failure === undefined) giveBack(conn)
            return
          }
          finish()
          clearTimeout(timer)
          done(
            session.failure === undefined ? conn : new SqlError({
              cause: session.failure,
              message: `Failed to set up a session on ${options.alias}: ${session.failure.message}`
            })
          )
        }
        if (session.pending === 0 || session.failure !== undefined) handOver()
        else session.waiters.push(handOver)
      })
      return () => {
        if (settled) return
        finish()
        clearTimeout(timer)
      }
    }

    return {
      borrow,
      giveBack,
      expired,
      status: (): PoolStatus => ({
        open: queues._allConnections?.length ?? 0,
        idle: queues._freeConnections?.length ?? 0,
        waiting,
        max: bounds.max
      })
    }
  })
