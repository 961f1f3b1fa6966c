import { join } from "node:path"
import { commOf, livePid, processesIn, signal, waitGone } from "../cluster/pids.js"
import { spawnDetached } from "../cluster/proc.js"
import type { PatroniNode } from "./types.js"

/** Executable names of a node's Patroni: the daemon itself and, when we are root, the runuser that started it. */
const PATRONI_COMMS = new Set(["patroni", "runuser"])

/** The node's dir: Patroni runs there and its PostgreSQL in the data dir below, so both are found by working dir. */
export const nodeDir = (node: PatroniNode): string => join(node.dataDir, "..")

/** Live pids of the Patroni daemons (not their PostgreSQL) running in a dir: a node's, or a whole cluster's. */
export const patroniPidsIn = (dir: string): Array<number> =>
  processesIn(dir).filter((pid) => PATRONI_COMMS.has(commOf(pid) ?? ""))

/** Live pids of the node's Patroni daemon. */
export const patroniPids = (node: PatroniNode): Array<number> => patroniPidsIn(nodeDir(node))

/** Starts the node's Patroni (as postgres when we are root); it starts or joins PostgreSQL on its own. */
export const spawnPatroni = (patroni: string, node: PatroniNode): void => {
  spawnDetached(patroni, [node.configFile], { outFile: node.patroniLog, cwd: nodeDir(node), user: "postgres" })
}

/** `kill -9` of the node's Patroni and of its postmaster, as a machine crash would stop them; waits until both are gone. */
export const killPatroniAndPostgres = async (node: PatroniNode): Promise<void> => {
  // Patroni first: alive, it would start PostgreSQL again.
  const patroni = patroniPids(node)
  for (const pid of patroni) signal(pid, "SIGKILL")
  const postmaster = livePid(node)
  if (postmaster !== undefined) signal(postmaster, "SIGKILL")
  const left = await waitGone(postmaster === undefined ? patroni : [...patroni, postmaster], 5_000)
  if (left.length > 0) throw new Error(`kill of ${node.name}: pids ${left.join(", ")} survived SIGKILL`)
}

/** Waits for the backends a killed postmaster left (they exit on their own), SIGKILL after 5 s. */
export const clearOrphans = async (node: PatroniNode): Promise<void> => {
  const orphans = processesIn(nodeDir(node)).filter((pid) => commOf(pid) === "postgres")
  for (const pid of await waitGone(orphans, 5_000)) signal(pid, "SIGKILL")
  const stuck = await waitGone(orphans, 5_000)
  if (stuck.length > 0) throw new Error(`${node.name}: postgres processes ${stuck.join(", ")} survived SIGKILL`)
}
