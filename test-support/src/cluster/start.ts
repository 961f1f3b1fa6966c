import { chmodSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ensureBinaries } from "./binaries.js"
import { writeClusterFile } from "./clusterFile.js"
import { CLUSTER_FILE_NAME } from "./constants.js"
import { describeNode } from "./layout.js"
import { createMariaCluster } from "./mariadb.js"
import { freePorts } from "./ports.js"
import { createPostgresCluster } from "./postgres.js"
import { isRoot } from "./proc.js"
import { waitReplicated } from "./replication.js"
import { destroyDir, installCleanupHandlers, ownedDirs } from "./teardown.js"
import { makeCertificates } from "./tls.js"
import type { ClusterInfo, ClusterKind, ClusterNodes, NodeInfo } from "./types.js"
import { startWatchdog } from "./watchdog.js"

/** Options of `startClusters`. */
export interface StartClustersOptions {
  /** Bound for each start-up step (initdb, a server start, the replication check...); default 60 s. */
  readonly timeoutMs?: number
  /** Progress lines; default silent. */
  readonly log?: (line: string) => void
}

const REPLICAS = 2

const describeCluster = (dir: string, kind: ClusterKind, ports: ReadonlyArray<number>): Array<NodeInfo> =>
  ports.map((port, i) => describeNode(dir, kind, i, port))

/** Starts one cluster, then proves replication works end to end with a marker written after the replicas started. */
const startOne = async (
  kind: ClusterKind,
  create: () => Promise<ClusterNodes>,
  timeoutMs: number,
  log: (line: string) => void
): Promise<ClusterNodes> => {
  const t0 = Date.now()
  const cluster = await create()
  await waitReplicated(cluster, { timeoutMs })
  log(`test cluster: ${kind} primary + ${cluster.replicas.length} replicas replicating after ${Date.now() - t0} ms`)
  return cluster
}

/**
 * Starts a PostgreSQL 15 primary with 2 streaming replicas and a MariaDB primary with 2 GTID replicas, concurrently,
 * on free ports in one fresh temp dir; resolves once every replica has replayed a marker row, with the info also
 * written to `info.file`. A failed start removes whatever had started. Ctrl-C / SIGTERM / exit tear everything down.
 */
export const startClusters = async (options: StartClustersOptions = {}): Promise<ClusterInfo> => {
  const timeoutMs = options.timeoutMs ?? 60_000
  const log = options.log ?? (() => undefined)
  await ensureBinaries(log)
  // As root the servers run as postgres / mysql, so the dir must sit under a world-traversable parent.
  const dir = mkdtempSync(join(isRoot() ? "/tmp" : tmpdir(), "fastorm-cluster-"))
  ownedDirs.add(dir)
  installCleanupHandlers()
  startWatchdog(dir)
  try {
    // Traversable by the service users, not listable by others.
    chmodSync(dir, 0o711)
    const ports = await freePorts(2 * (REPLICAS + 1))
    const pgNodes = describeCluster(dir, "postgres", ports.slice(0, REPLICAS + 1))
    const mariaNodes = describeCluster(dir, "mariadb", ports.slice(REPLICAS + 1))
    const tls = await makeCertificates(dir, timeoutMs)
    // allSettled, not all: a failure of one must not start the cleanup while the other is still starting servers.
    const [pg, maria] = await Promise.allSettled([
      startOne("postgres", () => createPostgresCluster(pgNodes, timeoutMs, tls), timeoutMs, log),
      startOne("mariadb", () => createMariaCluster(mariaNodes, timeoutMs, tls), timeoutMs, log)
    ])
    const errors = [pg, maria].flatMap((r) => r.status === "rejected" ? [(r.reason as Error).message] : [])
    if (pg.status === "rejected" || maria.status === "rejected") {
      throw new Error(`Test cluster start-up failed:\n${errors.join("\n\n")}`)
    }
    const info: ClusterInfo = {
      dir,
      file: join(dir, CLUSTER_FILE_NAME),
      postgres: pg.value,
      mariadb: maria.value,
      tls
    }
    writeClusterFile(info)
    return info
  } catch (e) {
    await destroyDir(dir).catch(() => undefined)
    throw e
  }
}

/** Stops every server of the given clusters (default: all this process started) and removes their temp dirs. */
export const stopClusters = async (info?: ClusterInfo): Promise<void> => {
  const dirs = info === undefined ? [...ownedDirs] : [info.dir]
  await Promise.all(dirs.map((dir) => destroyDir(dir)))
}
