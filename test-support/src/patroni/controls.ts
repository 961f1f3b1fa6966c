import { rmSync } from "node:fs"
import { livePid, pidFileOf, signal, waitGone } from "../cluster/pids.js"
import { run } from "../cluster/proc.js"
import { pgAdminQuery } from "../cluster/sql.js"
import type { NodeInfo } from "../cluster/types.js"
import { ensurePatroniBinaries } from "./binaries.js"
import { leader } from "./members.js"
import { clearOrphans, killPatroniAndPostgres, patroniPids, spawnPatroni } from "./processes.js"
import type { PatroniCluster, PatroniNode } from "./types.js"
import { waitHealthy, waitWritableLeader } from "./waits.js"

/** `kill -9` of a node's Patroni and of its PostgreSQL (postmaster; the backends then exit on their own). */
export const kill = (node: PatroniNode): Promise<void> => killPatroniAndPostgres(node)

/** `kill -9` of the current leader's Patroni and PostgreSQL; returns the node that was killed. */
export const killLeader = async (cluster: PatroniCluster): Promise<PatroniNode> => {
  const node = await leader(cluster)
  if (node === undefined) throw new Error("killLeader: the Patroni cluster has no running leader")
  await killPatroniAndPostgres(node)
  return node
}

/** Options of `restart`. */
export interface RestartOptions {
  /** Bound for the whole restart; default 60 s (a diverged node is rewound first). */
  readonly timeoutMs?: number
}

/**
 * Starts a node's Patroni again after `kill` (or after `startStandalone`: that PostgreSQL is stopped first). Patroni
 * rejoins it as a replica of the current leader (pg_rewind when its timeline diverged) or, with no leader, lets it
 * race for the key. Resolves, with the role it got, once Patroni shows it running on the leader's timeline and it
 * has replayed a marker row written on the leader.
 */
export const restart = async (
  cluster: PatroniCluster,
  node: PatroniNode,
  options: RestartOptions = {}
): Promise<"leader" | "replica"> => {
  const timeoutMs = options.timeoutMs ?? 60_000
  const deadline = Date.now() + timeoutMs
  if (patroniPids(node).length > 0) throw new Error(`restart ${node.name}: its Patroni is still running`)
  await stopStandalonePostgres(node)
  await clearOrphans(node)
  // A pid file naming a dead postmaster would be taken for a running one.
  if (livePid(node) === undefined) rmSync(pidFileOf(node), { force: true })
  spawnPatroni((await ensurePatroniBinaries(() => undefined)).patroni, node)
  // Patroni may start the old data dir, find its timeline diverged, stop it and rewind it: only a marker row replayed
  // from the current leader proves the node is back.
  const head = await waitHealthy(cluster, { replicas: [node], timeoutMs: Math.max(1_000, deadline - Date.now()) })
  return head.name === node.name ? "leader" : "replica"
}

/** A fast shutdown (clean, so pg_rewind needs no crash recovery) of a PostgreSQL running outside Patroni, bounded. */
const stopStandalonePostgres = async (node: PatroniNode): Promise<void> => {
  const pid = livePid(node)
  if (pid === undefined) return
  signal(pid, "SIGINT")
  const left = await waitGone([pid], 15_000)
  for (const p of left) signal(p, "SIGKILL")
  if ((await waitGone(left, 5_000)).length > 0) throw new Error(`${node.name}: postmaster ${pid} survived SIGKILL`)
}

/** Options of `switchover`. */
export interface SwitchoverOptions {
  /** The replica to promote; default any healthy one (Patroni picks). In synchronous mode only the sync_standby. */
  readonly candidate?: PatroniNode
  /** Bound of the `patronictl switchover` run and of the wait for the new leader's first write; default 60 s. */
  readonly timeoutMs?: number
}

/** What a switchover ended with. */
export interface LeaderChange {
  readonly from: PatroniNode
  readonly to: PatroniNode
  /** From the `patronictl` command until the new leader accepted a write. */
  readonly elapsedMs: number
}

/**
 * A planned `patronictl switchover` from the current leader (to `candidate`, or to the replica Patroni picks), once
 * the cluster is healthy; resolves once the new leader accepts a write.
 */
export const switchover = async (cluster: PatroniCluster, options: SwitchoverOptions = {}): Promise<LeaderChange> => {
  const timeoutMs = options.timeoutMs ?? 60_000
  const started = Date.now()
  const left = () => Math.max(1_000, started + timeoutMs - Date.now())
  // Planned: from a healthy cluster. Patroni refuses a candidate that is still starting or being rewound.
  const from = await waitHealthy(cluster, {
    ...(options.candidate === undefined ? {} : { replicas: [options.candidate] }),
    timeoutMs: left()
  })
  if (options.candidate?.name === from.name) throw new Error(`switchover: ${from.name} is already the leader`)
  const t0 = Date.now()
  const { patronictl } = await ensurePatroniBinaries(() => undefined)
  const output = await run(
    patronictl,
    [
      "-c",
      from.configFile,
      "switchover",
      "--leader",
      from.name,
      ...(options.candidate === undefined ? [] : ["--candidate", options.candidate.name]),
      "--force",
      cluster.scope
    ],
    { what: `patronictl switchover from ${from.name}`, timeoutMs: left() }
  )
  // patronictl exits 0 when Patroni refuses too; only this line says it happened.
  if (!output.includes("Successfully switched over")) {
    throw new Error(`patronictl switchover from ${from.name} did not switch over:\n${output.trim()}`)
  }
  const { leader: to } = await waitWritableLeader(cluster, { excluding: [from], timeoutMs: left() })
  if (options.candidate !== undefined && to.name !== options.candidate.name) {
    throw new Error(`switchover: ${to.name} became the leader, not the candidate ${options.candidate.name}`)
  }
  return { from, to, elapsedMs: Date.now() - t0 }
}

/**
 * A PostgreSQL node's timeline as its control file has it (`pg_control_checkpoint()`): a promoted node's moves at the
 * checkpoint Patroni asks for after the promotion (~2 s here), a replica's at its next restartpoint.
 */
export const timeline = async (node: NodeInfo): Promise<number> => {
  const rows = await pgAdminQuery<{ timeline_id: number }>(node, "SELECT timeline_id FROM pg_control_checkpoint()")
  return Number(rows[0]!.timeline_id)
}
