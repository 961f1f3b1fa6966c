import { randomUUID } from "node:crypto"
import { beforeAll, describe, expect, it } from "vitest"
import {
  APP_USER,
  appQuery,
  freezeNode,
  killNode,
  loadCluster,
  type NodeInfo,
  nodeQuery,
  pauseReplay,
  resumeReplay,
  startNode,
  stopNode,
  unfreezeNode,
  waitReplicated,
  waitUntilAsync
} from "../src/index.js"

const info = loadCluster()
const pgPrimary = info.postgres.primary
const [pgReplica1, pgReplica2] = info.postgres.replicas as [NodeInfo, NodeInfo]
const mariaPrimary = info.mariadb.primary
const [mariaReplica1, mariaReplica2] = info.mariadb.replicas as [NodeInfo, NodeInfo]

const placeholder = (node: NodeInfo) => node.kind === "postgres" ? "$1" : "?"
const insertRow = (node: NodeInfo, id: string) =>
  appQuery(node, `INSERT INTO t_cluster (id) VALUES (${placeholder(node)})`, [id])
const hasRow = async (node: NodeInfo, id: string) =>
  (await appQuery(node, `SELECT id FROM t_cluster WHERE id = ${placeholder(node)}`, [id])).length === 1

/** Waits (bounded) until the replica has the row. */
const replicated = (replica: NodeInfo, id: string) =>
  waitUntilAsync(() => hasRow(replica, id), (has) => has, {
    what: `${replica.name} to have row ${id}`,
    timeoutMs: 15_000,
    intervalMs: 50
  })

/** The error a promise rejects with (fails the test if it resolves). */
const failure = async (p: Promise<unknown>): Promise<any> => {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error("expected a failure")
}

const withWrongPassword = (node: NodeInfo, sql: string) =>
  nodeQuery(node, sql, [], { user: APP_USER, password: "wrong-password" })

beforeAll(async () => {
  // The app user owns its table on each primary; the replicas get it through replication.
  await appQuery(pgPrimary, "CREATE TABLE IF NOT EXISTS t_cluster (id text PRIMARY KEY)")
  await appQuery(mariaPrimary, "CREATE TABLE IF NOT EXISTS t_cluster (id VARCHAR(64) PRIMARY KEY)")
  await waitReplicated(info.postgres)
  await waitReplicated(info.mariadb)
})

describe("test clusters", () => {
  it("PG replicas are in recovery, the primary is not", async () => {
    expect((await appQuery(pgPrimary, "SELECT pg_is_in_recovery() AS r"))[0]!.r).toBe(false)
    for (const replica of [pgReplica1, pgReplica2]) {
      expect((await appQuery(replica, "SELECT pg_is_in_recovery() AS r"))[0]!.r).toBe(true)
    }
  })

  it("MariaDB replicas are read-only, the primary is not", async () => {
    expect((await appQuery(mariaPrimary, "SELECT @@read_only AS r"))[0]!.r).toBe(0)
    for (const replica of [mariaReplica1, mariaReplica2]) {
      expect((await appQuery(replica, "SELECT @@read_only AS r"))[0]!.r).toBe(1)
    }
  })

  it.each([["postgres"], ["mariadb"]] as const)(
    "a row written on the %s primary reaches both replicas",
    async (kind) => {
      const cluster = info[kind]
      const id = randomUUID()
      await insertRow(cluster.primary, id)
      for (const replica of cluster.replicas) await replicated(replica, id)
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
    const pgError = await failure(withWrongPassword(pgPrimary, "SELECT 1"))
    expect(pgError.code).toBe("28P01")
    const pgReplicaError = await failure(withWrongPassword(pgReplica1, "SELECT 1"))
    expect(pgReplicaError.code).toBe("28P01")
    const mariaError = await failure(withWrongPassword(mariaPrimary, "SELECT 1"))
    expect(mariaError.code).toBe("ER_ACCESS_DENIED_ERROR")
    // The refusal names the node and never the password tried.
    expect(String(mariaError)).toContain(mariaPrimary.name)
    expect(String(mariaError)).not.toContain("wrong-password")
    // And the right one works, so the refusal is about the password.
    expect(await appQuery(pgPrimary, "SELECT 1 AS one")).toEqual([{ one: 1 }])
    expect(await appQuery(mariaPrimary, "SELECT 1 AS one")).toEqual([{ one: 1 }])
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
        await replicated(other, id)
        await new Promise((r) => setTimeout(r, 300))
        expect(await hasRow(paused, id)).toBe(false)
      } finally {
        await resumeReplay(paused)
      }
      await replicated(paused, id)
    }
  )

  it.each([["postgres"], ["mariadb"]] as const)("stop + start of a %s replica: it replicates again", async (kind) => {
    const cluster = info[kind]
    const replica = cluster.replicas[1]!
    await stopNode(replica)
    expect(await failure(appQuery(replica, "SELECT 1"))).toBeInstanceOf(Error)
    const id = randomUUID()
    await insertRow(cluster.primary, id)
    await startNode(replica)
    await replicated(replica, id)
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
      await replicated(replica, id)
    }
  )

  it.each([["postgres"], ["mariadb"]] as const)("freeze + unfreeze of a %s replica", async (kind) => {
    const cluster = info[kind]
    const replica = cluster.replicas[1]!
    await freezeNode(replica)
    try {
      // Frozen: the port still accepts TCP (kernel backlog) but nothing answers, so the connect times out.
      const started = Date.now()
      await failure(appQuery(replica, "SELECT 1"))
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_500)
    } finally {
      await unfreezeNode(replica)
    }
    expect(await appQuery(replica, "SELECT 1 AS one")).toEqual([{ one: 1 }])
    await waitReplicated(cluster)
  })
})
