import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { CLUSTER_FILE_ENV } from "./constants.js"
import type { ClusterInfo, NodeInfo } from "./types.js"

/** Writes the cluster info atomically (rename), readable by this user only since the URLs hold passwords. */
export const writeClusterFile = (info: ClusterInfo): void => {
  const tmp = `${info.file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(info, null, 2) + "\n", { mode: 0o600 })
  renameSync(tmp, info.file)
}

/** Reads a cluster JSON file. */
export const readClusterFile = (file: string): ClusterInfo => JSON.parse(readFileSync(file, "utf8")) as ClusterInfo

/**
 * The running test clusters, from the file named by FASTORM_CLUSTER_FILE. Throws when it is missing: an integration
 * test must fail, never silently skip, when its servers are not there.
 */
export const loadCluster = (): ClusterInfo => {
  const file = process.env[CLUSTER_FILE_ENV]
  if (file === undefined || file === "") {
    throw new Error(
      `${CLUSTER_FILE_ENV} is not set: the test clusters were not started. Run the tests through the root vitest ` +
        "config (its global setup starts them), without FASTORM_TEST_CLUSTER=off, or start `npm run cluster` and " +
        `export ${CLUSTER_FILE_ENV}=<the JSON path it prints>.`
    )
  }
  if (!existsSync(file)) {
    throw new Error(`${CLUSTER_FILE_ENV}=${file} does not exist: the test clusters are not running (any more).`)
  }
  return readClusterFile(file)
}

/** Records a node's new server pid in the cluster file named by FASTORM_CLUSTER_FILE, if that file lists the node. */
export const recordPid = (node: NodeInfo, pid: number): void => {
  const file = process.env[CLUSTER_FILE_ENV]
  if (file === undefined || !existsSync(file)) return
  const info = readClusterFile(file)
  const patch = (n: NodeInfo): NodeInfo => n.dataDir === node.dataDir ? { ...n, pid } : n
  const updated: ClusterInfo = {
    ...info,
    postgres: { primary: patch(info.postgres.primary), replicas: info.postgres.replicas.map(patch) },
    mariadb: { primary: patch(info.mariadb.primary), replicas: info.mariadb.replicas.map(patch) }
  }
  writeClusterFile(updated)
}
