/**
 * The whole machine's busy CPU time (/proc/stat): the client's and the servers' together. Where the database servers
 * share the client's cores, what one query costs the machine, and how much of it is not the client's, tells what a
 * cheaper client can win (BENCHMARKS.md, "The machine's CPU per query").
 */
import { readFileSync } from "node:fs"
import * as os from "node:os"

// /proc/stat counts in USER_HZ ticks, 100 a second on Linux.
const US_PER_TICK = 10_000

/** Busy CPU time of every core since boot (all but idle and iowait), in µs; NaN where /proc/stat cannot be read. */
export const machineBusyUs = (): number => {
  let line: string
  try {
    line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!
  } catch {
    return Number.NaN
  }
  const fields = line.trim().split(/\s+/).slice(1).map(Number)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  const total = fields.reduce((a, b) => a + b, 0)
  return (total - idle) * US_PER_TICK
}

/** The machine's cores: a busy share of 1 is every core busy for the whole time. */
export const cores: number = os.availableParallelism()
