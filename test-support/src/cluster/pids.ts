import { readdirSync, readFileSync, readlinkSync } from "node:fs"
import { join } from "node:path"
import type { NodeInfo } from "./types.js"
import { sleep } from "./wait.js"

/** Parsed fields of /proc/PID/stat that we need. */
interface ProcStat {
  readonly state: string
  readonly ppid: number
  readonly comm: string
}

const readStat = (pid: number): ProcStat | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8")
    // comm may contain spaces and parentheses: split at the last ")".
    const close = text.lastIndexOf(")")
    const comm = text.slice(text.indexOf("(") + 1, close)
    const rest = text.slice(close + 2).split(" ")
    return { comm, state: rest[0]!, ppid: Number(rest[1]) }
  } catch {
    return undefined
  }
}

/** True if the process exists and is not a zombie (pid 1 here may never reap our killed servers). */
export const isAlive = (pid: number): boolean => {
  const stat = readStat(pid)
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X"
}

/** Server executable name per kind, to reject pid files whose pid was reused by another program. */
const serverComm = (node: NodeInfo): string => node.kind === "postgres" ? "postgres" : "mariadbd"

/** Path of the pid file the server writes: PG's postmaster.pid, MariaDB's --pid-file. */
export const pidFileOf = (node: NodeInfo): string =>
  node.kind === "postgres" ? join(node.dataDir, "postmaster.pid") : join(node.dataDir, "mariadbd.pid")

/** The live server pid of a node (read from its pid file each time), or undefined when it is not running. */
export const livePid = (node: NodeInfo): number | undefined => {
  const candidates: Array<number> = []
  try {
    candidates.push(Number(readFileSync(pidFileOf(node), "utf8").split("\n")[0]!.trim()))
  } catch {
    // No pid file: stopped cleanly, or not written yet.
  }
  candidates.push(node.pid)
  for (const pid of candidates) {
    if (!Number.isInteger(pid) || pid <= 0) continue
    const stat = readStat(pid)
    if (stat !== undefined && stat.state !== "Z" && stat.comm === serverComm(node)) return pid
  }
  return undefined
}

const allPids = (): Array<number> => readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number)

/** Direct children of a process (a PG postmaster's backends and auxiliary processes). */
export const childrenOf = (pid: number): Array<number> => allPids().filter((p) => readStat(p)?.ppid === pid)

/** Live processes whose working directory is inside `dir`: servers chdir to their data dir, orphans included. */
export const processesIn = (dir: string): Array<number> => {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`
  return allPids().filter((p) => {
    if (p === process.pid) return false
    try {
      const cwd = readlinkSync(`/proc/${p}/cwd`)
      return (cwd === dir || cwd.startsWith(prefix)) && isAlive(p)
    } catch {
      // Vanished, or another user's process we may not inspect.
      return false
    }
  })
}

/** Sends a signal, ignoring processes that are already gone. */
export const signal = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig)
  } catch {
    // ESRCH: already gone.
  }
}

/** Waits until none of the pids is alive; returns the ones still alive at the deadline. */
export const waitGone = async (pids: ReadonlyArray<number>, timeoutMs: number): Promise<Array<number>> => {
  const deadline = Date.now() + timeoutMs
  let alive = pids.filter(isAlive)
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(25)
    alive = alive.filter(isAlive)
  }
  return alive
}

/** Executable name of a live process (`postgres`, `mariadbd`, ...), or undefined. */
export const commOf = (pid: number): string | undefined => readStat(pid)?.comm
