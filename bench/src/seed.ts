/**
 * Creates and fills the benchmark table on the primary (and the stream workload's table when asked), then waits
 * until both replicas have them. One multi-row insert per batch of 1000 rows.
 */
import type { ClusterNodes } from "@fastorm/test-support"
import { waitReplicated } from "@fastorm/test-support"
import * as Mysql from "mysql2/promise"
import Pg from "pg"
import type { Dialect } from "./targets.js"
import { STREAM_TABLE, TABLE } from "./targets.js"
import { STREAM_ROWS } from "./workloads.js"

const BATCH = 1000

const rowValues = (id: number) => [`user ${id}`, `user${id}@example.com`, id % 3 === 0 ? "idle" : "active", id]

/** The batches of ids 1..rows. */
const batches = (rows: number): Array<Array<number>> => {
  const out: Array<Array<number>> = []
  for (let start = 1; start <= rows; start += BATCH) {
    out.push(Array.from({ length: Math.min(BATCH, rows - start + 1) }, (_, i) => start + i))
  }
  return out
}

/** Drops, creates and fills `bench_users` with `rows` rows (ids 1..rows), and `bench_stream` when `stream`. */
export const seed = async (db: Dialect, nodes: ClusterNodes, rows: number, stream: boolean): Promise<void> => {
  const tables: Array<readonly [string, number]> = [
    [TABLE, rows],
    ...(stream ? [[STREAM_TABLE, STREAM_ROWS] as const] : [])
  ]
  if (db === "postgres") {
    const client = new Pg.Client({ connectionString: nodes.primary.url })
    await client.connect()
    try {
      for (const [table, n] of tables) {
        await client.query(`DROP TABLE IF EXISTS ${table}`)
        await client.query(
          `CREATE TABLE ${table} (id SERIAL PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, status TEXT NOT NULL, score INTEGER NOT NULL)`
        )
        for (const ids of batches(n)) {
          const params: Array<unknown> = []
          const tuples = ids.map((id) => {
            const base = params.length
            params.push(...rowValues(id))
            return `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4})`
          })
          await client.query(`INSERT INTO ${table} (name, email, status, score) VALUES ${tuples.join(", ")}`, params)
        }
        await client.query(`ANALYZE ${table}`)
      }
    } finally {
      await client.end()
    }
  } else {
    const conn = await Mysql.createConnection({ uri: nodes.primary.url })
    try {
      for (const [table, n] of tables) {
        await conn.query(`DROP TABLE IF EXISTS ${table}`)
        await conn.query(
          `CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NOT NULL, status VARCHAR(20) NOT NULL, score INT NOT NULL) ENGINE=InnoDB`
        )
        for (const ids of batches(n)) {
          await conn.query(`INSERT INTO ${table} (name, email, status, score) VALUES ?`, [ids.map(rowValues)])
        }
      }
    } finally {
      await conn.end()
    }
  }
  await waitReplicated(nodes, { timeoutMs: 60_000 })
}
