import { rmSync } from "node:fs"
import { recordPid } from "./clusterFile.js"
import { nodeDirOf } from "./layout.js"
import { startMariaServer, stopMariaServer, waitMariaReplicating } from "./mariadb.js"
import { childrenOf, isAlive, livePid, pidFileOf, processesIn, signal, waitGone } from "./pids.js"
import { startPgServer, stopPgServer, waitPgStreaming } from "./postgres.js"
import { adminQuery } from "./sql.js"
import type { NodeInfo } from "./types.js"
import { sleep } from "./wait.js"

// Every control works from any process: it needs only the NodeInfo (from the cluster JSON) and finds the live pid
// through the node's pid file each time, so restarts done by another process are seen.

const requirePid = (node: NodeInfo, action: string): number => {
  const pid = livePid(node)
  if (pid === undefined) throw new Error(`${action} ${node.name}: the server is not running`)
  return pid
}

/** Stops a node quickly: PG immediate shutdown (like `pg_ctl -m immediate stop`), MariaDB SIGTERM (SIGKILL after 10 s). */
export const stopNode = async (node: NodeInfo): Promise<void> => {
  if (node.kind === "postgres") await stopPgServer(node, 10_000)
  else await stopMariaServer(node, 10_000)
}

/** Crashes a node: `kill -9` of the server process (PG backends then exit on their own, as after a real crash). */
export const killNode = async (node: NodeInfo): Promise<void> => {
  const pid = requirePid(node, "killNode")
  signal(pid, "SIGKILL")
  const left = await waitGone([pid], 5_000)
  if (left.length > 0) throw new Error(`killNode ${node.name}: pid ${pid} survived SIGKILL`)
}

/** Freezes a node with SIGSTOP: it keeps its sockets open but answers nothing (PG: postmaster and all children). */
export const freezeNode = async (node: NodeInfo): Promise<void> => {
  const pid = requirePid(node, "freezeNode")
  // The postmaster first, so it cannot fork a new backend between the two steps.
  signal(pid, "SIGSTOP")
  if (node.kind === "postgres") { for (const child of childrenOf(pid)) signal(child, "SIGSTOP") }
}

/** Resumes a node frozen by `freezeNode` (SIGCONT to every process of the node). */
export const unfreezeNode = async (node: NodeInfo): Promise<void> => {
  const pid = requirePid(node, "unfreezeNode")
  const children = node.kind === "postgres" ? childrenOf(pid) : []
  for (const p of [...children, ...processesIn(nodeDirOf(node)), pid]) signal(p, "SIGCONT")
}

/** Options of `startNode`. */
export interface StartNodeOptions {
  /** Bound for the whole start; default 30 s. */
  readonly timeoutMs?: number
  /** For a replica, also wait until it replicates from its primary again; default true. */
  readonly waitReplicating?: boolean
}

/**
 * Starts a stopped or killed node again with the same config and port; waits until it accepts connections and, for a
 * replica, until it replicates again. Returns the new server pid (also recorded in FASTORM_CLUSTER_FILE).
 */
export const startNode = async (node: NodeInfo, options: StartNodeOptions = {}): Promise<number> => {
  const timeoutMs = options.timeoutMs ?? 30_000
  const deadline = Date.now() + timeoutMs
  const running = livePid(node)
  if (running !== undefined) return running
  // Orphans of a kill -9 (PG backends) still hold the old shared memory and would make the new postmaster refuse.
  const orphans = processesIn(nodeDirOf(node))
  for (const p of await waitGone(orphans, 5_000)) signal(p, "SIGKILL")
  await waitGone(orphans, 5_000)
  // The pid file of a killed server may name a zombie (pid 1 here does not always reap), which the server would take
  // for a running instance.
  if (livePid(node) === undefined) rmSync(pidFileOf(node), { force: true })

  let pid: number
  if (node.kind === "postgres") {
    // Retried: right after a crash the old shared memory can take a moment to be released.
    for (;;) {
      try {
        pid = await startPgServer(node, Math.max(1_000, deadline - Date.now()))
        break
      } catch (e) {
        if (Date.now() >= deadline) throw e
        await sleep(200)
      }
    }
  } else {
    pid = await startMariaServer(node, Math.max(1_000, deadline - Date.now()))
  }
  if (node.role === "replica" && options.waitReplicating !== false) {
    const left = Math.max(1_000, deadline - Date.now())
    if (node.kind === "postgres") await waitPgStreaming(node, left)
    else await waitMariaReplicating(node, left)
  }
  recordPid(node, pid)
  return pid
}

/** True if the node's server process is alive (frozen counts as alive). */
export const isNodeRunning = (node: NodeInfo): boolean => {
  const pid = livePid(node)
  return pid !== undefined && isAlive(pid)
}

const requireReplica = (node: NodeInfo, action: string): void => {
  if (node.role !== "replica") throw new Error(`${action}: ${node.name} is not a replica`)
}

/** Stops applying replicated changes on a replica (it keeps receiving them): PG replay pause, MariaDB SQL thread. */
export const pauseReplay = async (node: NodeInfo): Promise<void> => {
  requireReplica(node, "pauseReplay")
  // pg_wal_replay_pause only requests the pause; the startup process checks it before applying each record.
  await adminQuery(node, node.kind === "postgres" ? "SELECT pg_wal_replay_pause()" : "STOP SLAVE SQL_THREAD")
}

/** Resumes replay paused by `pauseReplay`. */
export const resumeReplay = async (node: NodeInfo): Promise<void> => {
  requireReplica(node, "resumeReplay")
  await adminQuery(node, node.kind === "postgres" ? "SELECT pg_wal_replay_resume()" : "START SLAVE SQL_THREAD")
}
