import { spawn } from "node:child_process"

// Runs in a separate node process, so it must be self-contained: it cannot import this package.
const script = `
const fs = require("node:fs")
const [owner, dir] = [Number(process.argv[1]), process.argv[2]]
const alive = (pid) => {
  try {
    const stat = fs.readFileSync("/proc/" + pid + "/stat", "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state !== "Z" && state !== "X"
  } catch { return false }
}
const inDir = () => fs.readdirSync("/proc").filter((e) => /^\\d+$/.test(e)).map(Number).filter((p) => {
  try {
    const cwd = fs.readlinkSync("/proc/" + p + "/cwd")
    return cwd === dir || cwd.startsWith(dir + "/")
  } catch { return false }
})
const timer = setInterval(() => {
  if (!fs.existsSync(dir)) return process.exit(0)
  if (alive(owner)) return
  clearInterval(timer)
  for (const p of inDir()) { try { process.kill(p, "SIGCONT"); process.kill(p, "SIGKILL") } catch {} }
  setTimeout(() => { fs.rmSync(dir, { recursive: true, force: true }); process.exit(0) }, 300)
}, 500)
`

/**
 * Starts a detached watchdog that removes the cluster (SIGKILL of its processes, then the dir) if this process dies
 * without cleaning up, e.g. killed by SIGKILL, where no exit or signal handler can run. It exits once the dir is gone.
 */
export const startWatchdog = (dir: string): void => {
  const child = spawn(process.execPath, ["-e", script, String(process.pid), dir], {
    cwd: "/",
    detached: true,
    stdio: "ignore"
  })
  child.unref()
}
