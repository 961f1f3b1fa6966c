/**
 * Creates and fills the benchmark table on the primary, then waits until both replicas have it.
 */
import type { ClusterNodes } from "@fastorm/test-support"
import { waitReplicated } from "@fastorm/test-support"
import * as Mysql from "mysql2/promise"
import Pg from "pg"
import type { Dialect } from "./targets.js"
import { TABLE } from "./targets.js"

const BATCH = 1000

const rowValues = (id: number) => [`user ${id}`, `user${id}@example.com`, id % 3 === 0 ? "idle" : "active", id]

/** Drops, creates and fills `bench_users` with `rows` rows (ids 1..rows). */
export const seed = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<void> => {
  if (db === "postgres") {
    const client = new Pg.Client({ connectionString: nodes.primary.url })
    await client.connect()
    try {
      await client.query(`DROP TABLE IF EXISTS ${TABLE}`)
      await client.query(
        `CREATE TABLE ${TABLE} (id SERIAL PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, status TEXT NOT NULL, score INTEGER NOT NULL)`
      )
      for (let start = 1; start <= rows; start += BATCH) {
        const ids = Array.from({ length: Math.min(BATCH, rows - start + 1) }, (_, i) => start + i)
        const params: Array<unknown> = []
        const tuples = ids.map((id) => {
          const base = params.length
          params.push(...rowValues(id))
          return `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4})`
        })
        await client.query(`INSERT INTO ${TABLE} (name, email, status, score) VALUES ${tuples.join(", ")}`, params)
      }
      await client.query(`ANALYZE ${TABLE}`)
    } finally {
      await client.end()
    }
  } else {
    const conn = await Mysql.createConnection({ uri: nodes.primary.url })
    try {
      await conn.query(`DROP TABLE IF EXISTS ${TABLE}`)
      await conn.query(
        `CREATE TABLE ${TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NOT NULL, status VARCHAR(20) NOT NULL, score INT NOT NULL) ENGINE=InnoDB`
      )
      for (let start = 1; start <= rows; start += BATCH) {
        const ids = Array.from({ length: Math.min(BATCH, rows - start + 1) }, (_, i) => start + i)
        await conn.query(`INSERT INTO ${TABLE} (name, email, status, score) VALUES ?`, [ids.map(rowValues)])
      }
    } finally {
      await conn.end()
    }
  }
  await waitReplicated(nodes, { timeoutMs: 60_000 })
}
