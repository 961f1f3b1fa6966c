import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  adminQuery,
  appQuery,
  killNode,
  loadCluster,
  type NodeInfo,
  promoteMariaReplica,
  restoreMariaCluster,
  reviveMariaPrimary,
  waitReplicated,
  waitUntilAsync
} from "../src/index.js"

const cluster = loadCluster().mariadb
const primary = cluster.primary
const [replica1, replica2] = cluster.replicas as [NodeInfo, NodeInfo]
const figures: Record<string, number> = {}

const insertRow = (node: NodeInfo, id: string) => appQuery(node, "INSERT INTO t_promotion (id) VALUES (?)", [id])
const hasRow = async (node: NodeInfo, id: string) =>
  (await appQuery(node, "SELECT id FROM t_promotion WHERE id = ?", [id])).length === 1
const readOnly = async (node: NodeInfo) =>
  Number((await adminQuery<{ r: unknown }>(node, "SELECT @@read_only AS r"))[0]!.r)
/** The port a node replicates from and whether both threads run, or undefined when it replicates from nobody. */
const source = async (node: NodeInfo) => {
  const row = (await adminQuery<Record<string, unknown>>(node, "SHOW SLAVE STATUS"))[0]
  return row === undefined
    ? undefined
    : { port: Number(row.Master_Port), running: row.Slave_IO_Running === "Yes" && row.Slave_SQL_Running === "Yes" }
}

/** Waits (bounded) until the node has the row. */
const replicated = (node: NodeInfo, id: string) =>
  waitUntilAsync(() => hasRow(node, id), (has) => has, { what: `${node.name} to have row ${id}`, timeoutMs: 15_000 })

beforeAll(async () => {
  await appQuery(primary, "CREATE TABLE IF NOT EXISTS t_promotion (id VARCHAR(64) PRIMARY KEY)")
  await waitReplicated(cluster)
})

// Other test files share this cluster: whatever happened here, it leaves as it was started.
afterAll(async () => {
  await restoreMariaCluster(cluster)
  console.log(`MariaDB promotion figures (ms): ${JSON.stringify(figures)}`)
}, 120_000)

describe("MariaDB promotion as MaxScale does it", () => {
  it("after the primary's kill, the chosen replica becomes writable and the other replicates from it", async () => {
    const before = randomUUID()
    await insertRow(primary, before)
    await replicated(replica1, before)
    await replicated(replica2, before)
    await killNode(primary)
    const started = Date.now()
    const promoted = await promoteMariaReplica(cluster, replica1)
    figures.promotionMs = Date.now() - started
    expect(promoted.primary.name).toBe(replica1.name)
    expect(promoted.replicas.map((r) => r.name)).toEqual([replica2.name])
    expect(await readOnly(replica1)).toBe(0)
    expect(await source(replica1)).toBeUndefined()
    expect(await source(replica2)).toEqual({ port: replica1.port, running: true })
    const after = randomUUID()
    await insertRow(replica1, after)
    await replicated(replica2, after)
    expect(await readOnly(replica2)).toBe(1)
  })

  it("the old primary revived writable is written to alone: the others keep following the new primary", async () => {
    const started = Date.now()
    await reviveMariaPrimary(primary)
    figures.reviveMs = Date.now() - started
    expect(await readOnly(primary)).toBe(0)
    expect(await source(primary)).toBeUndefined()
    const split = randomUUID()
    await insertRow(primary, split)
    const onNew = randomUUID()
    await insertRow(replica1, onNew)
    await replicated(replica2, onNew)
    expect(await hasRow(replica2, split)).toBe(false)
    expect(await hasRow(replica1, split)).toBe(false)
    expect(await source(replica2)).toEqual({ port: replica1.port, running: true })
  })

  it("restore puts the original primary back with both replicas replicating from it", async () => {
    const onPromoted = randomUUID()
    await insertRow(replica1, onPromoted)
    const started = Date.now()
    await restoreMariaCluster(cluster)
    figures.restoreMs = Date.now() - started
    expect(await readOnly(primary)).toBe(0)
    expect(await source(primary)).toBeUndefined()
    for (const replica of [replica1, replica2]) {
      expect(await readOnly(replica)).toBe(1)
      expect(await source(replica)).toEqual({ port: primary.port, running: true })
    }
    const marker = randomUUID()
    await insertRow(primary, marker)
    await replicated(replica1, marker)
    await replicated(replica2, marker)
    // Rebuilt from the original primary: what only the promoted replica had is gone.
    expect(await hasRow(replica1, onPromoted)).toBe(false)
    // Promotable again: a second promotion and restore work on the rebuilt cluster.
    const again = await promoteMariaReplica(cluster, replica2)
    const afterAgain = randomUUID()
    await insertRow(again.primary, afterAgain)
    await replicated(replica1, afterAgain)
  })
})
