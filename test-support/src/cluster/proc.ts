import { spawn } from "node:child_process"
import { closeSync, openSync } from "node:fs"
import { redact } from "./constants.js"

/** OS user that owns and runs a server family when we are root. */
export type ServiceUser = "postgres" | "mysql"

/** True when this process runs as root (servers then run as their service users). */
export const isRoot = (): boolean => process.getuid?.() === 0

/** Environment for server tools: without PG / MySQL client variables that would redirect them. */
const cleanEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PG|MYSQL|MARIADB)/.test(key)) env[key] = value
  }
  env.LC_ALL = "C"
  return env
}

/** Prefixes a command with `runuser -u USER --` when root, since initdb/pg_ctl refuse to run as root. */
const wrap = (user: ServiceUser | undefined, cmd: string, args: ReadonlyArray<string>) =>
  user !== undefined && isRoot() ? { cmd: "runuser", args: ["-u", user, "--", cmd, ...args] } : { cmd, args: [...args] }

/** Options of a bounded command run. */
export interface RunOptions {
  /** Human description for errors, e.g. "initdb for pg-primary". */
  readonly what: string
  readonly timeoutMs: number
  readonly user?: ServiceUser
  readonly cwd?: string
}

/** Runs a command to completion in its own session (Ctrl-C in a terminal must not reach the servers it starts). */
export const run = (cmd: string, args: ReadonlyArray<string>, options: RunOptions): Promise<string> =>
  new Promise((resolve, reject) => {
    const w = wrap(options.user, cmd, args)
    const child = spawn(w.cmd, w.args, {
      cwd: options.cwd ?? "/",
      env: cleanEnv(),
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const collect = (chunk: Buffer) => {
      // Keep only the tail: it is for error messages.
      output = (output + chunk.toString("utf8")).slice(-8000)
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        // Already gone.
      }
      reject(new Error(`${options.what} timed out after ${options.timeoutMs} ms:\n${redact(output.trim())}`))
    }, options.timeoutMs)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(new Error(`${options.what} could not run ${cmd}: ${e.message}`))
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(output)
      else reject(new Error(`${options.what} failed (${signal ?? `exit ${code}`}):\n${redact(output.trim())}`))
    })
  })

/**
 * Starts a long-running server detached (own session, output to a file) and returns its pid without waiting; with
 * `user`, as that service user when we are root (the pid is then runuser's, the server its child).
 */
export const spawnDetached = (
  cmd: string,
  args: ReadonlyArray<string>,
  options: { readonly outFile: string; readonly cwd: string; readonly user?: ServiceUser }
): number => {
  const fd = openSync(options.outFile, "a")
  try {
    const w = wrap(options.user, cmd, args)
    const child = spawn(w.cmd, w.args, {
      cwd: options.cwd,
      env: cleanEnv(),
      detached: true,
      stdio: ["ignore", fd, fd]
    })
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`)
    // Not our child to wait for: it outlives this process if needed and is tracked through its pid file.
    child.unref()
    return child.pid
  } finally {
    closeSync(fd)
  }
}
