import { rmSync } from "node:fs"
import { commOf, processesIn, signal, waitGone } from "./pids.js"

/** Temp dirs this process created and has not removed yet: what the exit / signal handlers must clean. */
export const ownedDirs = new Set<string>()

/**
 * Stops every process running inside a cluster dir and removes the dir. Processes are found by their working
 * directory (every server chdirs to its data dir), so orphans, frozen nodes and half-started nodes are all caught.
 */
export const destroyDir = async (dir: string, graceMs = 3_000): Promise<void> => {
  const pids = processesIn(dir)
  // Frozen processes cannot act on signals until resumed.
  for (const pid of pids) signal(pid, "SIGCONT")
  // SIGQUIT is PG's immediate shutdown; everything else (mariadbd, a pg_ctl mid-start) gets SIGTERM.
  for (const pid of pids) signal(pid, commOf(pid) === "postgres" ? "SIGQUIT" : "SIGTERM")
  const left = await waitGone(pids, graceMs)
  for (const pid of [...left, ...processesIn(dir)]) signal(pid, "SIGKILL")
  const stuck = await waitGone(processesIn(dir), 5_000)
  rmSync(dir, { recursive: true, force: true })
  ownedDirs.delete(dir)
  if (stuck.length > 0) throw new Error(`test cluster: processes ${stuck.join(", ")} in ${dir} survived SIGKILL`)
}

/** Synchronous last-resort cleanup for process "exit": SIGKILL everything in the dir, then remove it. */
export const destroyDirSync = (dir: string): void => {
  for (const pid of processesIn(dir)) {
    signal(pid, "SIGCONT")
    signal(pid, "SIGKILL")
  }
  rmSync(dir, { recursive: true, force: true })
  ownedDirs.delete(dir)
}

let handlersInstalled = false

/**
 * Installs SIGINT / SIGTERM / SIGHUP / exit handlers (once) that tear down every cluster dir this process owns. They are
 * prepended: a host such as Vitest calls process.exit() from its own listeners, after which later listeners never run.
 */
export const installCleanupHandlers = (): void => {
  if (handlersInstalled) return
  handlersInstalled = true
  process.prependListener("exit", () => {
    for (const dir of [...ownedDirs]) destroyDirSync(dir)
  })
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.prependListener(sig, () => {
      const code = sig === "SIGINT" ? 130 : sig === "SIGTERM" ? 143 : 129
      if (process.listenerCount(sig) > 1) {
        // Another listener (Vitest) exits synchronously right after us: only a synchronous cleanup can finish.
        for (const dir of [...ownedDirs]) destroyDirSync(dir)
        return
      }
      // We own the signal (npm run cluster): a short graceful stop, then exit as the signal would have.
      Promise.allSettled([...ownedDirs].map((dir) => destroyDir(dir, 1_000))).finally(() => process.exit(code))
    })
  }
}
