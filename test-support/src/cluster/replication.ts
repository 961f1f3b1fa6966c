import { randomUUID } from "node:crypto"
import { waitUntilAsync } from "../wait.js"
import { startNode, unfreezeNode } from "./controls.js"
import { mariaAdminQuery, pgAdminQuery } from "./sql.js"
import type { ClusterNodes, NodeInfo } from "./types.js"

/** Options of `waitReplicated`. */
export interface WaitReplicatedOptions {
  /** Bound for every replica together; default 20 s. */
  readonly timeoutMs?: number
  /** Replicas to wait for; default all of the cluster (e.g. leave out one you stopped). */
  readonly replicas?: ReadonlyArray<NodeInfo>
}

/** Writes a fresh marker row on the primary (admin user, outside the app database) and returns its id. */
export const writeMarker = async (primary: NodeInfo): Promise<string> => {
  const id = randomUUID()
  if (primary.kind === "postgres") {
    await pgAdminQuery(primary, "INSERT INTO fastorm_cluster_marker (id) VALUES ($1)", [id])
  } else {
    await mariaAdminQuery(primary, "INSERT INTO fastorm_cluster.marker (id) VALUES (?)", [id])
  }
  return id
}

/** True when the node has replayed the marker row. */
export const hasMarker = async (node: NodeInfo, id: string): Promise<boolean> => {
  const rows = node.kind === "postgres"
    ? await pgAdminQuery(node, "SELECT 1 FROM fastorm_cluster_marker WHERE id = $1", [id])
    : await mariaAdminQuery(node, "SELECT 1 FROM fastorm_cluster.marker WHERE id = ?", [id])
  return rows.length > 0
}

/** Writes a marker on the primary and waits (bounded) until every replica has replayed it. */
export const waitReplicated = async (cluster: ClusterNodes, options: WaitReplicatedOptions = {}): Promise<void> => {
  const timeoutMs = options.timeoutMs ?? 20_000
  const id = await writeMarker(cluster.primary)
  await Promise.all(
    (options.replicas ?? cluster.replicas).map((replica) =>
      waitUntilAsync(() => hasMarker(replica, id), (has) => has, {
        what: `${replica.name} to replay a marker row written on ${cluster.primary.name}`,
        timeoutMs,
        intervalMs: 50,
        logFile: replica.logFile
      })
    )
  )
}

/**
 * Brings the primary back whatever a fault test did to it (frozen, stopped, killed; a running one is left alone) and
 * waits until every replica replays from it again.
 */
export const restorePrimary = async (cluster: ClusterNodes): Promise<void> => {
  await unfreezeNode(cluster.primary).catch(() => undefined)
  await startNode(cluster.primary, { timeoutMs: 60_000 })
  await waitReplicated(cluster, { timeoutMs: 60_000 })
}
