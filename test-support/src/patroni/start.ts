import { accessSync, chmodSync, constants, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ensureBinaries } from "../cluster/binaries.js"
import { APP_PASSWORD, APP_USER, DATABASE } from "../cluster/constants.js"
import { makeOwnedDirs } from "../cluster/layout.js"
import { livePid, signal, waitGone } from "../cluster/pids.js"
import { freePorts } from "../cluster/ports.js"
import { isRoot } from "../cluster/proc.js"
import { pgAdminQuery } from "../cluster/sql.js"
import { destroyDir, installCleanupHandlers, ownedDirs } from "../cluster/teardown.js"
import { startWatchdog } from "../cluster/watchdog.js"
import { waitUntilAsync } from "../wait.js"
import { ensurePatroniBinaries } from "./binaries.js"
import { patroniConfig, patroniTimings } from "./config.js"
import { startEtcd } from "./etcd.js"
import { leaderMember, members, nodeNamed } from "./members.js"
import { nodeDir, patroniPidsIn, spawnPatroni } from "./processes.js"
import type { PatroniCluster, PatroniMember, PatroniNode } from "./types.js"
import { waitHealthy } from "./waits.js"

/** Options of `Patroni.start`. */
export interface StartPatroniOptions {
  /** The leader key's TTL in seconds (a dead leader is replaced after about this long); default 10. */
  readonly ttlSeconds?: number
  /** Patroni's `synchronous_mode`: each commit waits for one standby, so a failover loses no acknowledged write. */
  readonly synchronousMode?: boolean
  /** Bound of each start-up step (etcd, the first leader, the replicas); default 60 s. */
  readonly timeoutMs?: number
  /** Progress lines; default silent. */
  readonly log?: (line: string) => void
}

const NODES = 3

/**
 * Where the cluster dir goes: memory (/dev/shm) when there is one. etcd syncs every write and PostgreSQL's WAL and
 * data dirs are ~370 MB; on this project's shared test machine, start took 10-12 s and stop (the removal) 3-4 s on
 * disk against 5.5 s and 0.4 s in memory, and a slow sync would also delay the leader's key refresh. As root the
 * servers run as postgres, so the parent must be world-traversable (both are).
 */
const baseDir = (): string => {
  try {
    accessSync("/dev/shm", constants.W_OK | constants.X_OK)
    return "/dev/shm"
  } catch {
    return isRoot() ? "/tmp" : tmpdir()
  }
}
const SCOPE = "fastorm"

const describe = (dir: string, index: number, pgPort: number, restPort: number): PatroniNode => {
  const name = `patroni-${index + 1}`
  const home = join(dir, name)
  const app = `${APP_USER}:${encodeURIComponent(APP_PASSWORD)}`
  return {
    name,
    kind: "postgres",
    role: "replica",
    host: "127.0.0.1",
    port: pgPort,
    database: DATABASE,
    url: `postgres://${app}@127.0.0.1:${pgPort}/${DATABASE}`,
    adminUrl: `postgres://postgres@127.0.0.1:${pgPort}/${DATABASE}`,
    dataDir: join(home, "data"),
    socket: home,
    pid: 0,
    logFile: join(home, "postgres.log"),
    restPort,
    configFile: join(home, "patroni.yml"),
    patroniLog: join(home, "patroni.log")
  }
}

/** The app user and database of the other clusters, and the marker table of `waitReplicated`, on the first leader. */
const createAppObjects = async (leader: PatroniNode): Promise<void> => {
  await pgAdminQuery(leader, `CREATE ROLE ${APP_USER} LOGIN PASSWORD '${APP_PASSWORD}'`)
  await pgAdminQuery(leader, `CREATE DATABASE ${DATABASE} OWNER ${APP_USER}`)
  await pgAdminQuery(leader, `GRANT ALL ON SCHEMA public TO ${APP_USER}`, [], DATABASE)
  await pgAdminQuery(leader, "CREATE TABLE fastorm_cluster_marker (id text PRIMARY KEY, at timestamptz DEFAULT now())")
}

/**
 * Starts etcd and three PostgreSQL 15 nodes under Patroni, on free ports in a fresh temp dir; resolves once a leader
 * runs, the app user and database exist, and both replicas stream and have replayed a marker row. Started only by
 * the tests that call it; `Patroni.stop` (or process exit, or the watchdog if this process is killed) removes it all.
 */
export const start = async (options: StartPatroniOptions = {}): Promise<PatroniCluster> => {
  const timeoutMs = options.timeoutMs ?? 60_000
  const log = options.log ?? (() => undefined)
  const timings = patroniTimings(options.ttlSeconds ?? 10)
  await ensureBinaries(log)
  const bin = await ensurePatroniBinaries(log)
  const t0 = Date.now()
  const dir = mkdtempSync(join(baseDir(), "fastorm-patroni-"))
  ownedDirs.add(dir)
  installCleanupHandlers()
  startWatchdog(dir)
  try {
    chmodSync(dir, 0o711)
    const [etcdClient, etcdPeer, ...ports] = await freePorts(2 + 2 * NODES)
    const etcd = await startEtcd(bin.etcd, join(dir, "etcd"), { client: etcdClient!, peer: etcdPeer! }, timeoutMs)
    const described = Array.from({ length: NODES }, (_, i) => describe(dir, i, ports[2 * i]!, ports[2 * i + 1]!))
    const synchronousMode = options.synchronousMode ?? false
    const layout = { scope: SCOPE, etcdPort: etcdClient!, timings, synchronousMode }
    for (const node of described) {
      makeOwnedDirs("postgres", [nodeDir(node)])
      // The config holds the replication password: only the service user may enter the node dir.
      chmodSync(nodeDir(node), 0o700)
      const config = patroniConfig(layout, {
        name: node.name,
        pgPort: node.port,
        restPort: node.restPort,
        dataDir: node.dataDir,
        nodeDir: nodeDir(node)
      })
      writeFileSync(node.configFile, JSON.stringify(config, null, 2) + "\n", { mode: 0o644 })
    }
    const cluster: PatroniCluster = { dir, scope: SCOPE, nodes: described, etcdUrl: etcd.url, timings, synchronousMode }
    // All at once, as a real deployment starts: one wins the race to initialize, the others clone it.
    for (const node of described) spawnPatroni(bin.patroni, node)

    let first: PatroniMember | undefined
    await waitUntilAsync(() => members(cluster), (list) => (first = leaderMember(list)) !== undefined, {
      what: "a Patroni leader to run",
      timeoutMs,
      intervalMs: 100,
      detail: () => described.map((n) => n.patroniLog)
    })
    await createAppObjects(nodeNamed(cluster, first!.name))
    // Both replicas cloned and replaying what the leader writes now, the app objects included.
    const leader = await waitHealthy(cluster, { timeoutMs })
    log(`patroni cluster: leader ${leader.name} + 2 streaming replicas after ${Date.now() - t0} ms`)
    return {
      ...cluster,
      nodes: described.map((n) => ({
        ...n,
        role: n.name === leader.name ? "primary" : "replica",
        pid: livePid(n) ?? 0
      }))
    }
  } catch (e) {
    await stopDir(dir).catch(() => undefined)
    throw e
  }
}

/** Kills every Patroni first (alive, one would restart its PostgreSQL or retry etcd), then removes all the rest. */
const stopDir = async (dir: string): Promise<void> => {
  const patronis = patroniPidsIn(dir)
  for (const pid of patronis) signal(pid, "SIGKILL")
  await waitGone(patronis, 5_000)
  await destroyDir(dir)
}

/** Stops every process of the cluster (Patroni, PostgreSQL, etcd) and removes its temp dir. */
export const stop = (cluster: PatroniCluster): Promise<void> => stopDir(cluster.dir)
