import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { PG_BIN } from "../cluster/constants.js"
import { livePid, pidFileOf } from "../cluster/pids.js"
import { run } from "../cluster/proc.js"
import { pgAdminQuery } from "../cluster/sql.js"
import { tailLog } from "../cluster/wait.js"
import { clearOrphans, nodeDir, patroniPids } from "./processes.js"
import type { PatroniNode } from "./types.js"

/**
 * The server options of the node's last start, from `postmaster.opts` (`postgres "-D" "..." "--port=..." ...`):
 * Patroni passes port, listen address and the settings every node must share on the command line, not in the config.
 */
export const postmasterOptions = (text: string): Array<string> =>
  [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, "$1"))

/** Quotes one argument for the shell that `pg_ctl -o` hands its options to. */
const shellQuote = (arg: string): string => `'${arg.split("'").join("'\\''")}'`

/**
 * The fencing scenario: starts a former leader's PostgreSQL on its own, outside Patroni, as a writable primary on its
 * old timeline, as a node that was cut off and came back would be. Its Patroni must be dead (`kill` / `killLeader`);
 * `restart` later stops it and hands it back to Patroni, which rewinds it. Returns the postmaster pid.
 */
export const startStandalone = async (
  node: PatroniNode,
  options: { readonly timeoutMs?: number } = {}
): Promise<number> => {
  const timeoutMs = options.timeoutMs ?? 30_000
  if (patroniPids(node).length > 0) throw new Error(`startStandalone ${node.name}: kill its Patroni first`)
  const running = livePid(node)
  if (running !== undefined) return running
  if (existsSync(join(node.dataDir, "standby.signal"))) {
    throw new Error(`startStandalone ${node.name}: it was a replica; only a former leader comes back as a primary`)
  }
  await clearOrphans(node)
  rmSync(pidFileOf(node), { force: true })
  const options_ = postmasterOptions(readFileSync(join(node.dataDir, "postmaster.opts"), "utf8"))
  // The first two are -D and the data dir, which pg_ctl passes itself.
  const serverOptions = options_.filter((o, i) => !(o === "-D" || options_[i - 1] === "-D"))
  const logFile = join(nodeDir(node), "standalone.log")
  try {
    await run(
      join(PG_BIN, "pg_ctl"),
      [
        "-D",
        node.dataDir,
        "-l",
        logFile,
        "-w",
        "-t",
        String(Math.ceil(timeoutMs / 1000)),
        "-o",
        serverOptions.map(shellQuote).join(" "),
        "start"
      ],
      {
        what: `pg_ctl start of ${node.name} outside Patroni`,
        timeoutMs: timeoutMs + 5_000,
        user: "postgres",
        cwd: nodeDir(node)
      }
    )
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- last lines of ${logFile} ---\n${tailLog(logFile)}`)
  }
  const recovery = await pgAdminQuery<{ r: boolean }>(node, "SELECT pg_is_in_recovery() AS r")
  if (recovery[0]?.r !== false) {
    throw new Error(`startStandalone ${node.name}: it came up in recovery, not as a primary`)
  }
  const pid = livePid(node)
  if (pid === undefined) throw new Error(`startStandalone ${node.name}: started but no live postmaster`)
  return pid
}
