/**
 * SQL on one node of a test cluster, on a fresh driver connection of its own (never through the code under test):
 * one function per dialect, bounded (connect 3 s, statement 10 s), errors with the node's name, the driver's code and
 * no password.
 */
import mysql from "mysql2/promise"
import pg from "pg"
import { loadCluster } from "./clusterFile.js"
import { APP_PASSWORD, APP_USER, redact } from "./constants.js"
import type { ClusterKind, ClusterNodes, NodeInfo } from "./types.js"

/** Bounds for these connections: a frozen server must fail fast, not hang the caller. */
const CONNECT_TIMEOUT_MS = 3_000
const QUERY_TIMEOUT_MS = 10_000

/** Who connects, and to which database. */
export interface Login {
  /** Default the admin: PostgreSQL `postgres` (trust over 127.0.0.1) / MariaDB `root` (empty password). */
  readonly user?: string | undefined
  readonly password?: string | undefined
  /** Default the node's app database; `null` connects to none (MariaDB) / `postgres` (PostgreSQL). */
  readonly database?: string | null | undefined
}

/** One statement and its bound parameters. */
export type Statement = readonly [sql: string, params?: ReadonlyArray<unknown>]

/** The error of a node query: the driver's code kept, the message without any password or bound string. */
export class NodeQueryError extends Error {
  constructor(
    readonly node: string,
    readonly code: string | undefined,
    readonly errno: number | undefined,
    message: string
  ) {
    super(`${node}: ${code === undefined ? "" : `${code}: `}${message}`)
    this.name = "NodeQueryError"
  }
}

const toError = (node: NodeInfo, e: unknown, secrets: ReadonlyArray<string>): NodeQueryError => {
  const driver = e as { readonly code?: unknown; readonly errno?: unknown; readonly message?: unknown }
  let message = redact(String(driver.message ?? e))
  // A MariaDB syntax error quotes the statement (`near '...'`), bound values included.
  for (const secret of secrets) if (secret.length > 0) message = message.split(secret).join("***")
  return new NodeQueryError(
    node.name,
    typeof driver.code === "string" ? driver.code : undefined,
    typeof driver.errno === "number" ? driver.errno : undefined,
    message
  )
}

const secretsOf = (login: Login, statements: ReadonlyArray<Statement>): Array<string> => [
  ...(login.password === undefined ? [] : [login.password]),
  ...statements.flatMap(([, params]) => (params ?? []).filter((p): p is string => typeof p === "string"))
]

/** Runs statements in order on one fresh PostgreSQL connection; the rows of each. */
const pgQuery = async (
  node: NodeInfo,
  statements: ReadonlyArray<Statement>,
  login: Login = {}
): Promise<Array<Array<Record<string, unknown>>>> => {
  const client = new pg.Client({
    host: node.host,
    port: node.port,
    user: login.user ?? "postgres",
    ...(login.password === undefined ? {} : { password: login.password }),
    database: login.database === null ? "postgres" : login.database ?? node.database,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS
  })
  // Without a listener, a server dying mid-connection would crash the process.
  client.on("error", () => undefined)
  try {
    await client.connect()
    const out: Array<Array<Record<string, unknown>>> = []
    for (const [sql, params] of statements) out.push((await client.query(sql, [...(params ?? [])])).rows)
    return out
  } catch (e) {
    throw toError(node, e, secretsOf(login, statements))
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Runs statements in order on one fresh MariaDB connection (so `SET SESSION` applies to the next); the rows of each. */
const mariaQuery = async (
  node: NodeInfo,
  statements: ReadonlyArray<Statement>,
  login: Login = {}
): Promise<Array<Array<Record<string, unknown>>>> => {
  let conn: mysql.Connection | undefined
  try {
    conn = await mysql.createConnection({
      host: node.host,
      port: node.port,
      user: login.user ?? "root",
      ...(login.password === undefined ? {} : { password: login.password }),
      ...(login.database === null ? {} : { database: login.database ?? node.database }),
      connectTimeout: CONNECT_TIMEOUT_MS
    })
    conn.on("error", () => undefined)
    const out: Array<Array<Record<string, unknown>>> = []
    for (const [sql, params] of statements) {
      const [rows] = await conn.query({ sql, values: [...(params ?? [])], timeout: QUERY_TIMEOUT_MS })
      out.push((Array.isArray(rows) ? rows : []) as Array<Record<string, unknown>>)
    }
    return out
  } catch (e) {
    throw toError(node, e, secretsOf(login, statements))
  } finally {
    if (conn !== undefined) conn.destroy()
  }
}

/** Runs statements in order on one fresh connection to a node of either kind; the rows of each. */
export const nodeBatch = (
  node: NodeInfo,
  statements: ReadonlyArray<Statement>,
  login: Login = {}
): Promise<Array<Array<Record<string, unknown>>>> =>
  node.kind === "postgres" ? pgQuery(node, statements, login) : mariaQuery(node, statements, login)

/** Runs one statement on a node, as the admin by default (see `Login`); its rows. */
export const nodeQuery = async <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = [],
  login: Login = {}
): Promise<Array<R>> => (await nodeBatch(node, [[sql, params]], login))[0] as Array<R>

/** Runs one statement as the node's admin (PostgreSQL `postgres`, MariaDB `root`) in the app database; its rows. */
export const adminQuery = <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = []
): Promise<Array<R>> => nodeQuery<R>(node, sql, params)

/** Runs one statement as the app user (`app`), as the code under test would, but on a connection of its own. */
export const appQuery = <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = []
): Promise<Array<R>> => nodeQuery<R>(node, sql, params, { user: APP_USER, password: APP_PASSWORD })

/** Runs one statement as the PostgreSQL superuser (database `postgres` unless told): the cluster's own set-up. */
export const pgAdminQuery = <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = [],
  database: string | null = null
): Promise<Array<R>> => nodeQuery<R>(node, sql, params, { database })

/** Runs one statement as MariaDB root with no database selected: the cluster's own set-up. */
export const mariaAdminQuery = <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = []
): Promise<Array<R>> => nodeQuery<R>(node, sql, params, { database: null })

/** A statement that holds its connection for `seconds` on the server, and answers one row (`slept`). */
export const sleepSql = (kind: ClusterKind, seconds: number): string =>
  kind === "postgres" ? `SELECT pg_sleep(${seconds})::text AS slept` : `SELECT SLEEP(${seconds}) AS slept`

/** One node of one server kind in the test cluster, with the statement that sleeps on it. */
export interface SleepyNode {
  /** "PostgreSQL" or "MariaDB", for a test's title. */
  readonly name: string
  readonly node: NodeInfo
  readonly url: string
  readonly sleep: (seconds: number) => string
}

const sleepy = (name: string, node: NodeInfo): SleepyNode => ({
  name,
  node,
  url: node.url,
  sleep: (seconds) => sleepSql(node.kind, seconds)
})

/** The node `pick` chooses (the primary, a replica) in each of the test cluster's servers, PostgreSQL then MariaDB. */
export const sleepyNodes = (pick: (nodes: ClusterNodes) => NodeInfo): ReadonlyArray<SleepyNode> => {
  const cluster = loadCluster()
  return [
    sleepy("PostgreSQL", pick(cluster.postgres)),
    sleepy("MariaDB", pick(cluster.mariadb))
  ]
}
