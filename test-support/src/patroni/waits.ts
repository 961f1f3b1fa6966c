import { waitReplicated, writeMarker } from "../cluster/replication.js"
import { waitUntilAsync } from "../wait.js"
import { isHealthyReplica, leader, leaderMember, members, nodeNamed } from "./members.js"
import type { PatroniCluster, PatroniMember, PatroniNode } from "./types.js"

/** Options of `waitHealthy`. */
export interface WaitHealthyOptions {
  /** The replicas that must be healthy; default every node but the leader. */
  readonly replicas?: ReadonlyArray<PatroniNode>
  /** Bound; default 60 s. */
  readonly timeoutMs?: number
}

/**
 * Waits until Patroni shows a running leader and the replicas running on its timeline (in synchronous mode, one of
 * them named sync_standby), and they have replayed a marker row written on the leader after that; returns the leader.
 */
export const waitHealthy = async (cluster: PatroniCluster, options: WaitHealthyOptions = {}): Promise<PatroniNode> => {
  const timeoutMs = options.timeoutMs ?? 60_000
  const deadline = Date.now() + timeoutMs
  const wanted = (leaderName: string) =>
    (options.replicas ?? cluster.nodes).filter((n) => n.name !== leaderName).map((n) => n.name)
  let head: PatroniMember | undefined
  await waitUntilAsync(() => members(cluster), (list) => {
    head = leaderMember(list)
    const leaderOf = head
    return leaderOf !== undefined &&
      wanted(leaderOf.name).every((name) => list.some((m) => m.name === name && isHealthyReplica(m, leaderOf))) &&
      // Until Patroni names one, commits wait for no standby: synchronous mode is not in force yet.
      (!cluster.synchronousMode || list.some((m) => m.role === "sync_standby" && isHealthyReplica(m, leaderOf)))
  }, {
    what: `Patroni to show a running leader, ${options.replicas === undefined ? "every" : "the"} replica running on ` +
      `its timeline${cluster.synchronousMode ? " and a sync_standby" : ""}`,
    timeoutMs,
    intervalMs: 100
  })
  const leaderNode = nodeNamed(cluster, head!.name)
  const replicas = wanted(leaderNode.name).map((name) => nodeNamed(cluster, name))
  await waitReplicated({ primary: leaderNode, replicas }, { timeoutMs: Math.max(1_000, deadline - Date.now()) })
  return leaderNode
}

/** Options of `waitWritableLeader`. */
export interface WaitWritableOptions {
  /** Nodes that do not count (the leader just killed or switched away from). */
  readonly excluding?: ReadonlyArray<PatroniNode>
  /** Bound; default 60 s. */
  readonly timeoutMs?: number
}

/**
 * Waits until Patroni names a running leader (not one of `excluding`) that accepts a write (a marker row, as the
 * superuser, outside the app database); returns it and the time waited.
 */
export const waitWritableLeader = async (
  cluster: PatroniCluster,
  options: WaitWritableOptions = {}
): Promise<{ readonly leader: PatroniNode; readonly elapsedMs: number }> => {
  const excluded = new Set((options.excluding ?? []).map((n) => n.name))
  let found: PatroniNode | undefined
  const elapsedMs = await waitUntilAsync(
    async () => {
      const current = await leader(cluster)
      if (current === undefined || excluded.has(current.name)) return undefined
      await writeMarker(current)
      return current
    },
    (node) => {
      found = node
      return node !== undefined
    },
    {
      what: `a Patroni leader${excluded.size === 0 ? "" : ` other than ${[...excluded].join(", ")}`} to accept writes`,
      timeoutMs: options.timeoutMs ?? 60_000,
      intervalMs: 50
    }
  )
  return { leader: found!, elapsedMs }
}
