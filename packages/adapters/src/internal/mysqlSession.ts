/**
 * A new MySQL / MariaDB connection's session: the statements it runs before it serves anything, bounded by
 * `connectTimeout` where mysql2 sets no bound, and what a borrower waits for until they are answered.
 */
import * as Duration from "effect/Duration"
import type * as Mysql from "mysql2"
import type { MysqlOptimalConfig } from "../OptimalConfig.js"
import { sessionTimeZone } from "../OptimalConfig.js"
import { closedBeforeSetUp, noAnswer } from "./deadline.js"
import { TRACK_LAST_GTID } from "./mysqlPositions.js"
import * as ServerSettings from "./serverSettings.js"

/** The statements run once on every new connection, before it serves anything; each one must succeed. */
export const sessionStatements = (config: MysqlOptimalConfig, isMariaDb: boolean, readOnly: boolean) => {
  const seconds = (d: Duration.Duration) => Math.max(1, Math.ceil(Duration.toSeconds(d)))
  const statementLimit = isMariaDb
    ? `max_statement_time = ${Duration.toSeconds(config.statementTimeout)}`
    : `max_execution_time = ${Math.round(Duration.toMillis(config.statementTimeout))}`
  const statements = [
    `SET NAMES ${config.charset} COLLATE ${config.collation}`,
    `SET SESSION net_read_timeout = ${seconds(config.readTimeout)}, net_write_timeout = ${
      seconds(config.writeTimeout)
    }, ${statementLimit}`
  ]
  // "local" leaves the server session's zone as it is: the process's offset changes with daylight saving time.
  const zone = sessionTimeZone(config)
  if (zone !== undefined) statements.push(`SET time_zone = '${zone}'`)
  if (readOnly) statements.push("SET SESSION TRANSACTION READ ONLY")
  const others = ServerSettings.sessionStatement(config.serverSettings)
  if (others !== undefined) statements.push(others)
  return statements
}

/** True when the server's handshake greeting names MariaDB (or, before the handshake, the URL does). */
export const isMariaDbHandshake = (conn: Mysql.PoolConnection, hint: "mariadb" | "mysql" | undefined): boolean => {
  // mysql2 keeps the server's handshake greeting (e.g. "5.5.5-10.11.6-MariaDB") on the connection.
  const version = (conn as unknown as { _handshakePacket?: { serverVersion?: string } })._handshakePacket
    ?.serverVersion
  return typeof version === "string" ? /mariadb/i.test(version) : hint === "mariadb"
}

/** The session of one new connection, until its statements are answered (or, failed, for as long as it is asked). */
export interface Session {
  pending: number
  failure: Error | undefined
  waiters: Array<() => void>
  timer: ReturnType<typeof setTimeout> | undefined
}

/** The sessions of one pool's new connections. */
export interface Sessions {
  /** Sets up a connection mysql2 just opened (its pool's `connection` event). */
  readonly open: (conn: Mysql.PoolConnection) => void
  /** The connection's session while it is being set up, or after it failed; undefined once it is ready. */
  readonly get: (conn: Mysql.PoolConnection) => Session | undefined
  /** Closes those of `connections` still being set up, telling their borrowers the pool closed. */
  readonly closeUnready: (connections: ReadonlyArray<Mysql.PoolConnection>) => void
}

/** Tracks the sessions of one pool's new connections. */
export const make = (
  config: MysqlOptimalConfig,
  options: { readonly productHint: "mariadb" | "mysql" | undefined; readonly readOnly: boolean }
): Sessions => {
  const connectMs = Duration.toMillis(config.connectTimeout)
  const sessions = new WeakMap<Mysql.PoolConnection, Session>()
  const settle = (conn: Mysql.PoolConnection, session: Session) => {
    clearTimeout(session.timer)
    if (session.failure === undefined) sessions.delete(conn)
    const waiters = session.waiters.splice(0)
    for (const wake of waiters) wake()
  }

  const open = (conn: Mysql.PoolConnection) => {
    const isMariaDb = isMariaDbHandshake(conn, options.productHint)
    const statements = sessionStatements(config, isMariaDb, options.readOnly)
    const session: Session = { pending: statements.length, failure: undefined, waiters: [], timer: undefined }
    if (statements.length > 0) {
      sessions.set(conn, session)
      // A link lost between the handshake and these answers leaves mysql2 waiting for them for ever, and the
      // connection in its pool slot: past `connectTimeout` it is closed and its borrower told why; the node is at
      // fault (`noAnswer`: a read runs elsewhere).
      session.timer = setTimeout(() => {
        if (session.failure !== undefined) return
        session.failure = noAnswer(`its session settings got no answer within ${connectMs} ms`)
        conn.destroy()
        settle(conn, session)
      }, connectMs)
    }
    for (const statement of statements) {
      conn.query(statement, (error) => {
        // A connection whose session settings failed must not serve: it is destroyed, and the borrower that
        // waits for it gets the server's own words rather than the closed socket's.
        if (error && session.failure === undefined) {
          session.failure = error
          conn.destroy()
        }
        if (--session.pending === 0 || session.failure !== undefined) settle(conn, session)
      })
    }
    // Optional: without it a write's position is read with a statement instead (ARCHITECTURE.md,
    // "Read-your-writes"). MySQL proper has no last_gtid: it never asks.
    if (isMariaDb) conn.query(TRACK_LAST_GTID, () => undefined)
  }

  // A connection still waiting for its session settings' answers has served no one: a pool's close need not wait for
  // its goodbye (queued behind those answers, it would come at `connectTimeout` or, on a dark link, never).
  const closeUnready = (connections: ReadonlyArray<Mysql.PoolConnection>) => {
    for (const conn of connections) {
      const session = sessions.get(conn)
      if (session === undefined || session.failure !== undefined) continue
      session.failure = closedBeforeSetUp()
      conn.destroy()
      settle(conn, session)
    }
  }

  return { open, get: (conn) => sessions.get(conn), closeUnready }
}
