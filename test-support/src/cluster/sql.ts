import mysql from "mysql2/promise"
import pg from "pg"
import { redact } from "./constants.js"
import type { NodeInfo } from "./types.js"

/** Bounds for admin connections: a frozen server must fail fast, not hang the caller. */
const CONNECT_TIMEOUT_MS = 3_000
const QUERY_TIMEOUT_MS = 10_000

/** Runs one SQL statement as the PostgreSQL superuser (trust over 127.0.0.1) on a node. */
export const pgAdminQuery = async <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = [],
  database = "postgres"
): Promise<Array<R>> => {
  const client = new pg.Client({
    host: node.host,
    port: node.port,
    user: "postgres",
    database,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS
  })
  // Without a listener, a server dying mid-connection would crash the process.
  client.on("error", () => undefined)
  try {
    await client.connect()
    const result = await client.query(sql, [...params])
    return result.rows as Array<R>
  } catch (e) {
    throw new Error(`${node.name}: ${redact((e as Error).message)}`)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Runs one SQL statement as MariaDB root (empty password over 127.0.0.1) on a node. */
export const mariaAdminQuery = async <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = []
): Promise<Array<R>> => {
  let conn: mysql.Connection | undefined
  try {
    conn = await mysql.createConnection({
      host: node.host,
      port: node.port,
      user: "root",
      connectTimeout: CONNECT_TIMEOUT_MS
    })
    // mysql2 errors carry the SQL text (which may hold a password): only the message is kept.
    conn.on("error", () => undefined)
    const [rows] = await conn.query({ sql, values: [...params], timeout: QUERY_TIMEOUT_MS })
    return (Array.isArray(rows) ? rows : []) as Array<R>
  } catch (e) {
    throw new Error(`${node.name}: ${redact((e as Error).message)}`)
  } finally {
    if (conn !== undefined) conn.destroy()
  }
}

/** Runs one admin statement on a node of either kind. */
export const adminQuery = <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = []
): Promise<Array<R>> =>
  node.kind === "postgres" ? pgAdminQuery<R>(node, sql, params) : mariaAdminQuery<R>(node, sql, params)
