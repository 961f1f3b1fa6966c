import { randomUUID } from "node:crypto"
import { existsSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { processesIn } from "../src/cluster/pids.js"
import { adminQuery, appQuery, LOADED_MACHINE_SLACK_MS, Patroni, waitUntilAsync } from "../src/index.js"

// The cluster is started here, not by the global setup: only the tests that follow a promotion pay for it.
let cluster: Patroni.PatroniCluster
let stopped = false
const figures: Record<string, number> = {}

beforeAll(async () => {
  const started = Date.now()
  cluster = await Patroni.start()
  figures.startMs = Date.now() - started
  const leader = await Patroni.leader(cluster)
  await appQuery(leader!, "CREATE TABLE t_patroni (id text PRIMARY KEY)")
}, 120_000)

afterAll(async () => {
  if (!stopped) await Patroni.stop(cluster)
  console.log(`Patroni cluster figures (ms): ${JSON.stringify(figures)}`)
})

const insertRow = (node: Patroni.PatroniNode, id: string) =>
  appQuery(node, "INSERT INTO t_patroni (id) VALUES ($1)", [id])
const hasRow = async (node: Patroni.PatroniNode, id: string) =>
  (await appQuery(node, "SELECT id FROM t_patroni WHERE id = $1", [id])).length === 1
const inRecovery = async (node: Patroni.PatroniNode) =>
  (await adminQuery<{ r: boolean }>(node, "SELECT pg_is_in_recovery() AS r"))[0]!.r

/** Waits (bounded) until the replica has the row. */
const replicated = (replica: Patroni.PatroniNode, id: string) =>
  waitUntilAsync(() => hasRow(replica, id), (has) => has, {
    what: `${replica.name} to have row ${id}`,
    timeoutMs: 15_000,
    intervalMs: 50
  })

/** Failover takes up to one TTL for the dead leader's key to expire, then an HA loop and a promotion. */
const failoverBoundMs = () =>
  (cluster.timings.ttl + cluster.timings.loopWait + cluster.timings.retryTimeout) * 1000 + LOADED_MACHINE_SLACK_MS

describe("Patroni cluster", () => {
  it("starts with one leader and two streaming replicas that replay a row, in well under a minute", async () => {
    expect(figures.startMs).toBeLessThan(45_000)
    const members = await Patroni.members(cluster)
    expect(members.filter((m) => m.role === "leader")).toHaveLength(1)
    const leader = (await Patroni.leader(cluster))!
    const replicas = cluster.nodes.filter((n) => n.name !== leader.name)
    expect(replicas).toHaveLength(2)
    expect(await inRecovery(leader)).toBe(false)
    for (const replica of replicas) {
      expect(await inRecovery(replica)).toBe(true)
      const [receiver] = await adminQuery<{ status: string }>(replica, "SELECT status FROM pg_stat_wal_receiver")
      expect(receiver?.status).toBe("streaming")
    }
    // The app user is an ordinary login, as in the other clusters.
    const [role] = await adminQuery<{ rolsuper: boolean }>(
      leader,
      "SELECT rolsuper FROM pg_roles WHERE rolname = 'app'"
    )
    expect(role?.rolsuper).toBe(false)
    const id = randomUUID()
    await insertRow(leader, id)
    for (const replica of replicas) await replicated(replica, id)
    expect(Patroni.urls(cluster)).toEqual(cluster.nodes.map((n) => n.url))
  })

  it(
    "kill -9 of the leader: another node becomes leader on a new timeline and takes writes; the old one rejoins",
    async () => {
      const timelineBefore = await Patroni.timeline((await Patroni.leader(cluster))!)
      const started = Date.now()
      const killed = await Patroni.killLeader(cluster)
      const { leader } = await Patroni.waitWritableLeader(cluster, { excluding: [killed], timeoutMs: 60_000 })
      figures.failoverMs = Date.now() - started
      expect(figures.failoverMs).toBeLessThan(failoverBoundMs())
      expect(leader.name).not.toBe(killed.name)
      const id = randomUUID()
      await insertRow(leader, id)
      // Patroni checkpoints after the promotion, which moves the control file to the new timeline.
      figures.timelineAfterPromotionMs = await waitUntilAsync(
        () => Patroni.timeline(leader),
        (timeline) => timeline > timelineBefore,
        {
          what: `${leader.name}'s control file to reach the new timeline`,
          timeoutMs: 20_000,
          intervalMs: 50
        }
      )
      const restarted = Date.now()
      expect(await Patroni.restart(cluster, killed)).toBe("replica")
      figures.rejoinMs = Date.now() - restarted
      await replicated(killed, id)
      expect(await inRecovery(killed)).toBe(true)
    },
    120_000
  )

  it(
    "the old leader started outside Patroni is writable on its old timeline; restart rewinds it into a replica",
    async () => {
      const killed = await Patroni.killLeader(cluster)
      const { leader } = await Patroni.waitWritableLeader(cluster, { excluding: [killed], timeoutMs: 60_000 })
      await Patroni.startStandalone(killed)
      expect(await inRecovery(killed)).toBe(false)
      const split = randomUUID()
      await insertRow(killed, split)
      await waitUntilAsync(
        async () => [await Patroni.timeline(killed), await Patroni.timeline(leader)] as const,
        ([old, current]) => old < current,
        { what: `${leader.name} on a later timeline than the old leader ${killed.name}`, timeoutMs: 20_000 }
      )
      // The write on the old leader went nowhere.
      expect(await hasRow(leader, split)).toBe(false)
      expect(await Patroni.restart(cluster, killed)).toBe("replica")
      expect(await inRecovery(killed)).toBe(true)
      // pg_rewind took the split write back out.
      expect(await hasRow(killed, split)).toBe(false)
    },
    120_000
  )

  it("a switchover moves the leader to the candidate; every write on the new leader then succeeds", async () => {
    await Patroni.waitHealthy(cluster)
    const before = (await Patroni.leader(cluster))!
    const candidate = cluster.nodes.find((n) => n.name !== before.name)!
    const change = await Patroni.switchover(cluster, { candidate })
    figures.switchoverMs = change.elapsedMs
    expect(change.from.name).toBe(before.name)
    expect(change.to.name).toBe(candidate.name)
    expect((await Patroni.leader(cluster))?.name).toBe(candidate.name)
    const ids = Array.from({ length: 100 }, () => randomUUID())
    for (const id of ids) await insertRow(change.to, id)
    const [count] = await appQuery<{ n: string }>(
      change.to,
      "SELECT count(*)::text AS n FROM t_patroni WHERE id = ANY($1)",
      [ids]
    )
    expect(count?.n).toBe("100")
    // The old leader comes back as a replica on its own.
    const healthy = Date.now()
    await Patroni.waitHealthy(cluster)
    figures.oldLeaderRejoinedMs = Date.now() - healthy
    expect(await inRecovery(change.from)).toBe(true)
  }, 120_000)

  it("stops cleanly: no process and no directory left", async () => {
    const started = Date.now()
    await Patroni.stop(cluster)
    stopped = true
    figures.stopMs = Date.now() - started
    expect(figures.stopMs).toBeLessThan(15_000)
    expect(processesIn(cluster.dir)).toEqual([])
    expect(existsSync(cluster.dir)).toBe(false)
    await expect(Patroni.members(cluster)).rejects.toThrow(/no Patroni REST API answered/)
  })
})
