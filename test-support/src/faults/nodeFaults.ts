/**
 * Node controls beyond stop/kill/freeze: terminate the app user's server-side sessions, change a user's password and
 * restore it, create and drop a throw-away user, count sessions, and read a replica's own count of write attempts.
 * Every control connects with the node's admin credentials (PostgreSQL `postgres` by trust, MariaDB `root`, empty
 * password: see `NodeInfo.adminUrl`) and is bounded (connect 3 s, statement 10 s).
 */
import * as Effect from "effect/Effect"
import { readFileSync, statSync } from "node:fs"
import { APP_PASSWORD, APP_USER } from "../cluster/constants.js"
import { adminQuery, nodeBatch, sleepSql } from "../cluster/sql.js"
import type { NodeInfo } from "../cluster/types.js"
import { waitUntil, waitUntilAsync } from "../wait.js"

const identifier = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/
const checkIdentifier = (user: string) => {
  if (!identifier.test(user)) throw new Error(`not a plain user name: ${JSON.stringify(user)}`)
}
/** A PostgreSQL string literal (standard_conforming_strings is on by default). */
const pgLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`

/** Server-side sessions of `user` (default the app user) open on the node now. */
export const sessionCount = async (node: NodeInfo, user: string = APP_USER): Promise<number> => {
  if (node.kind === "postgres") {
    const rows = await adminQuery<{ n: string }>(
      node,
      "SELECT count(*)::text AS n FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
      [user]
    )
    return Number(rows[0]!.n)
  }
  const rows = await adminQuery<{ n: unknown }>(
    node,
    "SELECT count(*) AS n FROM information_schema.processlist WHERE user = ?",
    [user]
  )
  return Number(rows[0]!.n)
}

/** True while the node runs a statement of the app user whose text contains `fragment`. */
const statementRunning = async (node: NodeInfo, fragment: string): Promise<boolean> => {
  const rows = node.kind === "postgres"
    ? await adminQuery(
      node,
      "SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND state = 'active' AND position($2 in query) > 0",
      [APP_USER, fragment]
    )
    : await adminQuery(
      node,
      "SELECT 1 FROM information_schema.processlist WHERE user = ? AND command IN ('Query', 'Execute') " +
        "AND LOCATE(?, info) > 0",
      [APP_USER, fragment]
    )
  return rows.length > 0
}

/**
 * Waits (at most 10 s) until the node runs a statement of the app user whose text contains `fragment` (for a sleep of
 * the test's own, `markedSleep`): a statement a test sent is on the server, not on its way, whatever the machine's load.
 * Succeeds with the milliseconds waited.
 */
export const untilRunning = (node: NodeInfo, fragment: string): Effect.Effect<number> =>
  waitUntil(Effect.promise(() => statementRunning(node, fragment)), (running) => running, {
    what: `a statement with ${fragment} to run on ${node.name}`,
    timeoutMs: 10_000,
    intervalMs: 10
  })

// A run's markers differ between processes and test workers (which may share a pid) by a random part.
const run = Math.random().toString(36).slice(2, 10)
let sleeps = 0

/** A sleep statement for a node, and the wait until the node runs it (`untilRunning` on the statement's own marker). */
export interface MarkedSleep {
  readonly sql: string
  readonly running: Effect.Effect<number>
}

/**
 * `sleepSql` with a marker of its own in a comment: a test finds its statement among those the server runs, even
 * while an earlier test's cut statement still sleeps there (a closed connection's statement runs on).
 */
export const markedSleep = (node: NodeInfo, seconds: number): MarkedSleep => {
  const marker = `fastorm-sleep-${run}-${++sleeps}`
  return { sql: `${sleepSql(node.kind, seconds)} /* ${marker} */`, running: untilRunning(node, marker) }
}

/** Options of `terminateSessions`. */
export interface TerminateOptions {
  /** Whose sessions; default the app user. */
  readonly user?: string
  /** Only sessions that are idle (PG `state = 'idle'`, MariaDB `Command = 'Sleep'`): a pool's parked connections. */
  readonly idleOnly?: boolean
}

/**
 * Terminates the server-side sessions of a user (never the caller's own): PostgreSQL `pg_terminate_backend`,
 * MariaDB `KILL CONNECTION`. Returns how many were terminated.
 */
export const terminateSessions = async (node: NodeInfo, options: TerminateOptions = {}): Promise<number> => {
  const user = options.user ?? APP_USER
  if (node.kind === "postgres") {
    const rows = await adminQuery<{ ok: boolean }>(
      node,
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()${
        options.idleOnly === true ? " AND state = 'idle'" : ""
      }`,
      [user]
    )
    return rows.filter((r) => r.ok).length
  }
  const [rows] = await nodeBatch(node, [[
    `SELECT id FROM information_schema.processlist WHERE user = ? AND id <> CONNECTION_ID()${
      options.idleOnly === true ? " AND command = 'Sleep'" : ""
    }`,
    [user]
  ]])
  let killed = 0
  for (const row of rows!) {
    try {
      await nodeBatch(node, [[`KILL CONNECTION ${Number(row.id)}`]])
      killed++
    } catch {
      // The session ended on its own in between (ER_NO_SUCH_THREAD).
    }
  }
  return killed
}

/**
 * Changes a user's password.
 * - PostgreSQL: roles are cluster-wide and replicate, so this must run on the primary and applies to every node.
 * - MariaDB: runs with `sql_log_bin = 0`, so it changes this node only (a replica's app login can be broken alone).
 */
export const setPassword = async (node: NodeInfo, user: string, password: string): Promise<void> => {
  checkIdentifier(user)
  if (node.kind === "postgres") {
    if (node.role !== "primary") {
      throw new Error(`setPassword: ${node.name} is a replica; PG roles change on the primary`)
    }
    await adminQuery(node, `ALTER ROLE "${user}" PASSWORD ${pgLiteral(password)}`)
    return
  }
  await nodeBatch(node, [
    ["SET SESSION sql_log_bin = 0"],
    [`ALTER USER IF EXISTS '${user}'@'127.0.0.1' IDENTIFIED BY ?`, [password]],
    [`ALTER USER IF EXISTS '${user}'@'%' IDENTIFIED BY ?`, [password]]
  ])
}

/** Puts the app user's password back (`app-pw`). */
export const restoreAppPassword = (node: NodeInfo): Promise<void> => setPassword(node, APP_USER, APP_PASSWORD)

/**
 * Creates a login user with a password on the primary (it replicates to the replicas). PostgreSQL: a role with LOGIN
 * and no grants beyond PUBLIC's (it can connect and run statements, reading app tables is refused); MariaDB: a user
 * at 127.0.0.1 and % with `SELECT` on the app database.
 */
export const createUser = async (primary: NodeInfo, user: string, password: string): Promise<void> => {
  checkIdentifier(user)
  if (primary.role !== "primary") throw new Error(`createUser: ${primary.name} is not the primary`)
  if (primary.kind === "postgres") {
    await adminQuery(primary, `DROP ROLE IF EXISTS "${user}"`)
    await adminQuery(primary, `CREATE ROLE "${user}" LOGIN PASSWORD ${pgLiteral(password)}`)
    return
  }
  await nodeBatch(primary, [
    [`DROP USER IF EXISTS '${user}'@'127.0.0.1', '${user}'@'%'`],
    [`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY ?`, [password]],
    [`CREATE USER '${user}'@'%' IDENTIFIED BY ?`, [password]],
    [`GRANT SELECT ON \`${primary.database}\`.* TO '${user}'@'127.0.0.1'`],
    [`GRANT SELECT ON \`${primary.database}\`.* TO '${user}'@'%'`]
  ])
}

/** Terminates the user's sessions on the primary, then drops the user (replicated). */
export const dropUser = async (primary: NodeInfo, user: string): Promise<void> => {
  checkIdentifier(user)
  await terminateSessions(primary, { user })
  if (primary.kind === "postgres") {
    // A session that is still exiting would make DROP ROLE fail: retried, bounded.
    await waitUntilAsync(() => adminQuery(primary, `DROP ROLE IF EXISTS "${user}"`), () => true, {
      what: `role ${user} dropped on ${primary.name}`,
      timeoutMs: 2_000,
      intervalMs: 100
    })
    return
  }
  await nodeBatch(primary, [[`DROP USER IF EXISTS '${user}'@'127.0.0.1', '${user}'@'%'`]])
}

/**
 * A replica's own count of app-user writes, to compare before and after a run:
 * - PostgreSQL: lines of the replica's log reporting a write refused in a read-only transaction (SQLSTATE 25006 is
 *   logged at ERROR): every write that reached the replica, refused.
 * - MariaDB: the app user's `UPDATE_COMMANDS + ROWS_INSERTED + ROWS_UPDATED + ROWS_DELETED` in
 *   `information_schema.USER_STATISTICS` (switched on here with `SET GLOBAL userstat = 1`): writes the replica
 *   applied for the app user. Writes refused by `read_only` are counted nowhere in MariaDB without the
 *   performance schema, and `Com_insert` & co. also count replicated events, so neither is usable.
 */
export const replicaWriteAttempts = async (node: NodeInfo, user: string = APP_USER): Promise<number> => {
  if (node.kind === "postgres") {
    try {
      if (statSync(node.logFile).size === 0) return 0
      const log = readFileSync(node.logFile, "utf8")
      return log.split("\n").filter((line) => /cannot execute \w+ in a read-only transaction/.test(line)).length
    } catch {
      return 0
    }
  }
  const [, rows] = await nodeBatch(node, [
    ["SET GLOBAL userstat = 1"],
    [
      "SELECT UPDATE_COMMANDS + ROWS_INSERTED + ROWS_UPDATED + ROWS_DELETED AS n FROM information_schema.USER_STATISTICS WHERE USER = ?",
      [user]
    ]
  ])
  return Number(rows![0]?.n ?? 0)
}

/** Options of `waitSessions`. */
export interface WaitSessionsOptions {
  readonly user?: string
  readonly timeoutMs?: number
  readonly intervalMs?: number
}

/**
 * Polls the node's session count of a user until `ok(count)` holds; returns how long it took. Throws with the last
 * count when the bound is hit.
 */
export const waitSessions = (
  node: NodeInfo,
  ok: (count: number) => boolean,
  options: WaitSessionsOptions = {}
): Promise<number> =>
  waitUntilAsync(() => sessionCount(node, options.user), ok, {
    what: `the session count of ${options.user ?? APP_USER} on ${node.name}`,
    timeoutMs: options.timeoutMs ?? 10_000,
    intervalMs: options.intervalMs ?? 100
  })
