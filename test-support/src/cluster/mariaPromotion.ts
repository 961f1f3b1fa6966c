/**
 * MariaDB promotions by hand, as MaxScale's monitor does them, over the shared MariaDB cluster (a primary and two GTID
 * replicas, every node logging what it applies), and the rebuild that gives the next test files the usual cluster.
 */
import { readdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { startNode } from "./controls.js"
import { nodeDirOf } from "./layout.js"
import { startReplication, stopMariaServer, waitMariaReplicating } from "./mariadb.js"
import { run } from "./proc.js"
import { waitReplicated } from "./replication.js"
import { mariaAdminQuery } from "./sql.js"
import type { ClusterNodes, NodeInfo } from "./types.js"

/** Options of the promotion helpers. */
export interface PromotionOptions {
  /** Bound of each wait (relay log applied, replication running again); default 30 s. */
  readonly timeoutMs?: number
}

const slaveStatus = async (node: NodeInfo): Promise<Record<string, unknown> | undefined> =>
  (await mariaAdminQuery<Record<string, unknown>>(node, "SHOW SLAVE STATUS"))[0]

/** Stops replication on a node for good and makes it writable: what a promotion and a revived old primary share. */
const makeWritable = async (node: NodeInfo): Promise<void> => {
  await mariaAdminQuery(node, "STOP SLAVE")
  await mariaAdminQuery(node, "RESET SLAVE ALL")
  await mariaAdminQuery(node, "SET GLOBAL read_only = 0")
}

/**
 * What each replica fetched once the primary is gone (`Gtid_IO_Pos`), every replica stopped fetching first: MaxScale's
 * failover promotes the one that fetched the most. A replica that fetched a transaction the promoted one lacks could
 * not replicate from it (its position is not in the new primary's binlog), and under a write load the replicas' last
 * fetched events differ when the primary dies.
 */
export const stopFetching = (
  cluster: ClusterNodes
): Promise<ReadonlyArray<{ readonly replica: NodeInfo; readonly fetched: string }>> =>
  Promise.all(cluster.replicas.map(async (replica) => {
    await mariaAdminQuery(replica, "STOP SLAVE IO_THREAD")
    return { replica, fetched: String((await slaveStatus(replica))?.Gtid_IO_Pos ?? "") }
  }))

/**
 * Promotes `chosen` as MaxScale's failover does: it stops fetching, applies what it already received, then
 * `STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0`; every other replica is re-pointed at it with
 * `CHANGE MASTER TO ... MASTER_USE_GTID = slave_pos; START SLAVE`. The old primary is left as it is: kill or stop it
 * first for a failover (and under a write load choose among `stopFetching`'s replicas). Resolves once the others
 * replicate from the new primary; returns the new topology.
 */
export const promoteMariaReplica = async (
  cluster: ClusterNodes,
  chosen: NodeInfo,
  options: PromotionOptions = {}
): Promise<ClusterNodes> => {
  const timeoutMs = options.timeoutMs ?? 30_000
  if (chosen.kind !== "mariadb") throw new Error(`promoteMariaReplica: ${chosen.name} is not a MariaDB node`)
  const others = cluster.replicas.filter((r) => r.name !== chosen.name)
  if (others.length === cluster.replicas.length) {
    throw new Error(`promoteMariaReplica: ${chosen.name} is not a replica of ${cluster.primary.name}`)
  }
  // What the IO thread fetched is applied before the node takes writes, so no transaction it had is lost.
  await mariaAdminQuery(chosen, "STOP SLAVE IO_THREAD")
  const fetched = String((await slaveStatus(chosen))?.Gtid_IO_Pos ?? "")
  const waited = await mariaAdminQuery<{ r: unknown }>(chosen, "SELECT MASTER_GTID_WAIT(?, ?) AS r", [
    fetched,
    Math.ceil(timeoutMs / 1000)
  ])
  if (Number(waited[0]?.r) !== 0) {
    throw new Error(`promoteMariaReplica: ${chosen.name} did not apply its relay log up to ${fetched} in time`)
  }
  await makeWritable(chosen)
  for (const other of others) {
    await mariaAdminQuery(other, "STOP SLAVE")
    await startReplication(other, chosen)
  }
  await Promise.all(others.map((other) => waitMariaReplicating(other, timeoutMs)))
  return { primary: { ...chosen, role: "primary" }, replicas: others }
}

/**
 * The fencing scenario: an old primary that comes back writable after another node was promoted. Starts it if it is
 * down (its saved command line has no read_only), stops any replication on it and sets `read_only = 0`, while the
 * others keep replicating from the new primary. Returns its server pid.
 */
export const reviveMariaPrimary = async (node: NodeInfo, options: PromotionOptions = {}): Promise<number> => {
  const pid = await startNode(node, { timeoutMs: options.timeoutMs ?? 30_000, waitReplicating: false })
  await makeWritable(node)
  return pid
}

/** Files of a copied data dir that belong to the node it was copied from: its binlog, relay log, replication state. */
const nodeOwnFile = /^(mariadb-bin\.|relay-bin[.-]|master.*\.info$|relay-log.*\.info$|multi-master\.info$|.*\.pid$)/

/**
 * Puts the cluster back as it was started (the original primary writable, both replicas read-only and replicating
 * from it), whatever promotions, kills or revivals happened: every server is stopped, each replica's data dir is
 * replaced by a copy of the original primary's, and replication restarts from the primary's GTID position. Writes
 * made on a promoted replica are dropped. Resolves once a marker row written on the primary reached both replicas.
 */
export const restoreMariaCluster = async (cluster: ClusterNodes, options: PromotionOptions = {}): Promise<void> => {
  const timeoutMs = options.timeoutMs ?? 30_000
  const { primary, replicas } = cluster
  // Clean shutdowns: the copy must be a consistent data dir.
  await Promise.all([primary, ...replicas].map((node) => stopMariaServer(node, timeoutMs)))
  await Promise.all(replicas.map(async (replica) => {
    rmSync(replica.dataDir, { recursive: true, force: true })
    await run("cp", ["-a", primary.dataDir, replica.dataDir], {
      what: `copy of ${primary.name}'s data dir for ${replica.name}`,
      timeoutMs,
      cwd: nodeDirOf(replica)
    })
    for (const file of readdirSync(replica.dataDir)) {
      if (nodeOwnFile.test(file)) rmSync(join(replica.dataDir, file), { force: true })
    }
  }))
  await Promise.all([primary, ...replicas].map((node) => startNode(node, { timeoutMs, waitReplicating: false })))
  await makeWritable(primary)
  const [state] = await mariaAdminQuery<{ state: string; pos: string }>(
    primary,
    "SELECT @@gtid_binlog_state AS state, @@gtid_binlog_pos AS pos"
  )
  await Promise.all(replicas.map(async (replica) => {
    // The copy holds every transaction up to the primary's position: the replica's binlog and replication start there.
    await mariaAdminQuery(replica, "RESET MASTER")
    await mariaAdminQuery(replica, "SET GLOBAL gtid_binlog_state = ?", [state!.state])
    await mariaAdminQuery(replica, "SET GLOBAL gtid_slave_pos = ?", [state!.pos])
    await startReplication(replica, primary)
    await waitMariaReplicating(replica, timeoutMs)
  }))
  await waitReplicated(cluster, { timeoutMs })
}
