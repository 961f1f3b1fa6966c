/**
 * What every server target shares: the tables, the pool size, the databases a run speaks, the drivers' pools, and
 * how a target is torn down.
 */
import type { NodeInfo } from "@fastorm/test-support"
import * as Mysql from "mysql2"
import Pg from "pg"

/** The benchmark's table, with the same name and columns on both databases. */
export const TABLE = "bench_users"
/** The stream workload's table: the same columns, `STREAM_ROWS` rows. */
export const STREAM_TABLE = "bench_stream"

/** Connections per node for every target. */
export const POOL_SIZE = 16

/** What a worker runs against: a cluster, the PostgreSQL cluster through PgBouncer, or an embedded SQLite file. */
export type Db = "postgres" | "mariadb" | "pgbouncer" | "sqlite"

/** The SQL a run speaks: PgBouncer passes PostgreSQL's protocol through. */
export type Dialect = "postgres" | "mariadb"

/** The dialect of a run. */
export const dialectOf = (db: Db): Dialect => db === "mariadb" ? "mariadb" : "postgres"

const withTimeout = <A>(p: Promise<A>, ms: number): Promise<A | undefined> =>
  Promise.race([p, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())])

/** Tears down within 5 s, whatever the stack does. */
export const closeSoon = (f: () => Promise<unknown>) => async () => {
  await withTimeout(f().catch(() => undefined), 5_000)
}

/** A pg pool of `POOL_SIZE` connections to one node. */
export const pgPool = (node: NodeInfo): Pg.Pool => {
  const pool = new Pg.Pool({ connectionString: node.url, max: POOL_SIZE })
  pool.on("error", () => undefined)
  return pool
}

/** A mysql2 pool of `POOL_SIZE` connections to one node. */
export const mysqlPool = (node: NodeInfo): Mysql.Pool =>
  Mysql.createPool({ uri: node.url, connectionLimit: POOL_SIZE, maxIdle: POOL_SIZE, supportBigNumbers: true })

/** A node's URL as the peers' connection options. */
export const credentials = (node: NodeInfo) => {
  const url = new URL(node.url)
  return {
    host: url.hostname,
    port: Number(url.port),
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1)
  }
}
