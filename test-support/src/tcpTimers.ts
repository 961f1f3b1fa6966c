/**
 * The TCP keep-alive timers of this process's connections to one port, read from Linux's /proc/net/tcp: a test can
 * see that a driver's keep-alive setting reached the socket, which Node's sockets do not report.
 */
import * as Effect from "effect/Effect"
import { readdirSync, readFileSync, readlinkSync } from "node:fs"

/** The inodes of this process's sockets. */
const ownSockets = (): ReadonlySet<string> => {
  const inodes = new Set<string>()
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))
      if (match !== null) inodes.add(match[1]!)
    } catch {
      // A descriptor closed while listing.
    }
  }
  return inodes
}

/** USER_HZ: /proc reports timers in clock ticks of 1/100 s on Linux. */
const TICKS_PER_SECOND = 100

/** One established connection of this process: its socket's inode, and seconds until its next keep-alive probe. */
export interface KeepAliveTimer {
  readonly inode: string
  /** Undefined when no keep-alive timer runs on the connection. */
  readonly seconds: number | undefined
}

/** The keep-alive timer of each established connection this process has to `port`. */
export const keepAliveTimers = (port: number): ReadonlyArray<KeepAliveTimer> => {
  const mine = ownSockets()
  const remote = `:${port.toString(16).toUpperCase().padStart(4, "0")}`
  const out: Array<KeepAliveTimer> = []
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string
    try {
      text = readFileSync(file, "utf8")
    } catch {
      continue
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/)
      if (fields.length < 10 || !fields[2]!.endsWith(remote) || fields[3] !== "01" || !mine.has(fields[9]!)) continue
      const [timer, when] = fields[5]!.split(":")
      out.push({ inode: fields[9]!, seconds: timer === "02" ? parseInt(when!, 16) / TICKS_PER_SECOND : undefined })
    }
  }
  return out
}

/**
 * Seconds to the next keep-alive probe of each connection to `port` that `open` made and still holds (NaN: no timer
 * runs on it), the connections this process had before left out.
 */
export const newKeepAliveTimers = <E, R>(
  port: number,
  open: Effect.Effect<unknown, E, R>
): Effect.Effect<ReadonlyArray<number>, E, R> =>
  Effect.suspend(() => {
    const before = new Set(keepAliveTimers(port).map((t) => t.inode))
    return Effect.map(
      open,
      () => keepAliveTimers(port).filter((t) => !before.has(t.inode)).map((t) => t.seconds ?? Number.NaN)
    )
  })
