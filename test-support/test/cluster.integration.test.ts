import mysql from "mysql2/promise"
import { randomUUID } from "node:crypto"
import pg from "pg"
import { beforeAll, describe, expect, it } from "vitest"
import {
  freezeNode,
  killNode,
  loadCluster,
  type NodeInfo,
  pauseReplay,
  resumeReplay,
  startNode,
  stopNode,
  unfreezeNode,
  waitReplicated
} from "../src/index.js"

const info = loadCluster()
const pgPrimary = info.postgres.primary
const [pgReplica1, pgReplica2] = info.postgres.replicas as [NodeInfo, NodeInfo]
const mariaPrimary = info.mariadb.primary
const [mariaReplica1, mariaReplica2] = info.mariadb.replicas as [NodeInfo, NodeInfo]

/** One query on a fresh connection; `url` defaults to the node's app-user URL. */
const query = async (node: NodeInfo, sql: string, params: Array<unknown> = [], url = node.url) => {
  if (node.kind === "postgres") {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 })
    client.on("error", () => undefined)
    try {
      await client.connect()
      return (await client.query(sql, params)).rows as Array<Record<string, unknown>>
    } finally {
      await client.end().catch(() => undefined)
    }
  }
  const conn = await mysql.createConnection({ uri: url, connectTimeout: 2_000 })
  conn.on("error", () => undefined)
  try {
    const [rows] = await conn.query(sql, params)
    return rows as Array<Record<string, unknown>>
  } finally {
    conn.destroy()
  }
}

const placeholder = (node: NodeInfo) => node.kind === "postgres" ? "$1" : "?"
const insertRow = (node: NodeInfo, id: string) =>
  query(node, `INSERT INTO t_cluster (id) VALUES (${placeholder(node)})`, [id])
const hasRow = async (node: NodeInfo, id: string) =>
  (await query(node, `SELECT id FROM t_cluster WHERE id = ${placeholder(node)}`, [id])).length === 1

/** Polls until `check` holds; fails after `timeoutMs`. */
const eventually = async (check: () => Promise<boolean>, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error("condition not reached in time")
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** The error a promise rejects with (fails the test if it resolves). */
const failure = async (p: Promise<unknown>): Promise<any> => {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error("expected a failure")
}

const withWrongPassword = (node: NodeInfo) => node.url.replace(/:[^:@/]+@/, ":wrong-password@")

beforeAll(async () => {
  // The app user owns its table on each primary; the replicas get it through replication.
  await query(pgPrimary, "CREATE TABLE IF NOT EXISTS t_cluster (id text PRIMARY KEY)")
  await query(mariaPrimary, "CREATE TABLE IF NOT EXISTS t_cluster (id VARCHAR(64) PRIMARY KEY)")
  await waitReplicated(info.postgres)
  await waitReplicated(info.mariadb)
})

describe("test clusters", () => {
  it("PG replicas are in recovery, the primary is not", async () => {
    expect((await query(pgPrimary, "SELECT pg_is_in_recovery() AS r"))[0]!.r).toBe(false)
    for (const replica of [pgReplica1, pgReplica2]) {
      expect((await query(replica, "SELECT pg_is_in_recovery() AS r"))[0]!.r).toBe(true)
    }
  })

  it("MariaDB replicas are read-only, the primary is not", async () => {
    expect((await query(mariaPrimary, "SELECT @@read_only AS r"))[0]!.r).toBe(0)
    for (const replica of [mariaReplica1, mariaReplica2]) {
      expect((await query(replica, "SELECT @@read_only AS r"))[0]!.r).toBe(1)
    }
  })

  it.each([["postgres"], ["mariadb"]] as const)(
    "a row written on the %s primary reaches both replicas",
    async (kind) => {
      const cluster = info[kind]
      const id = randomUUID()
      await insertRow(cluster.primary, id)
      for (const replica of cluster.replicas) await eventually(() => hasRow(replica, id))
    }
  )

  it("an app write on a PG replica fails with SQLSTATE 25006", async () => {
    const error = await failure(insertRow(pgReplica1, randomUUID()))
    expect(error.code).toBe("25006")
  })

  it("an app write on a MariaDB replica fails with ER_OPTION_PREVENTS_STATEMENT", async () => {
    const error = await failure(insertRow(mariaReplica1, randomUUID()))
    expect(error.errno).toBe(1290)
    expect(error.code).toBe("ER_OPTION_PREVENTS_STATEMENT")
  })

  it("the app user with a wrong password is refused", async () => {
    const pgError = await failure(query(pgPrimary, "SELECT 1", [], withWrongPassword(pgPrimary)))
    expect(pgError.code).toBe("28P01")
    const pgReplicaError = await failure(query(pgReplica1, "SELECT 1", [], withWrongPassword(pgReplica1)))
    expect(pgReplicaError.code).toBe("28P01")
    const mariaError = await failure(query(mariaPrimary, "SELECT 1", [], withWrongPassword(mariaPrimary)))
    expect(mariaError.code).toBe("ER_ACCESS_DENIED_ERROR")
    // And the right one works, so the refusal is about the password.
    expect(await query(pgPrimary, "SELECT 1 AS one")).toEqual([{ one: 1 }])
    expect(await query(mariaPrimary, "SELECT 1 AS one")).toEqual([{ one: 1 }])
  })

  it.each([["postgres"], ["mariadb"]] as const)(
    "pauseReplay hides new rows on a %s replica until resumeReplay",
    async (kind) => {
      const [paused, other] = info[kind].replicas as [NodeInfo, NodeInfo]
      await pauseReplay(paused)
      const id = randomUUID()
      try {
        await insertRow(info[kind].primary, id)
        // Once the other replica has it, the paused one would have had time to apply it too.
        await eventually(() => hasRow(other, id))
        await new Promise((r) => setTimeout(r, 300))
        expect(await hasRow(paused, id)).toBe(false)
      } finally {
        await resumeReplay(paused)
      }
      await eventually(() => hasRow(paused, id))
    }
  )

  it.each([["postgres"], ["mariadb"]] as const)("stop + start of a %s replica: it replicates again", async (kind) => {
    const cluster = info[kind]
    const replica = cluster.replicas[1]!
    await stopNode(replica)
    expect(await failure(query(replica, "SELECT 1"))).toBeInstanceOf(Error)
    const id = randomUUID()
    await insertRow(cluster.primary, id)
    await startNode(replica)
    await eventually(() => hasRow(replica, id))
    await waitReplicated(cluster)
  })

  it.each([["postgres"], ["mariadb"]] as const)(
    "kill -9 + start of a %s replica: it replicates again",
    async (kind) => {
      const cluster = info[kind]
      const replica = cluster.replicas[0]!
      await killNode(replica)
      const id = randomUUID()
      await insertRow(cluster.primary, id)
      await startNode(replica)
      await eventually(() => hasRow(replica, id))
    }
  )

  it.each([["postgres"], ["mariadb"]] as const)("freeze + unfreeze of a %s replica", async (kind) => {
    const cluster = info[kind]
    const replica = cluster.replicas[1]!
    await freezeNode(replica)
    try {
      // Frozen: the port still accepts TCP (kernel backlog) but nothing answers, so the connect times out.
      const started = Date.now()
      await failure(query(replica, "SELECT 1"))
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_500)
    } finally {
      await unfreezeNode(replica)
    }
    expect(await query(replica, "SELECT 1 AS one")).toEqual([{ one: 1 }])
    await waitReplicated(cluster)
  })
})
