/**
 * Turns the workers' results into Markdown tables and the targets' pass/fail lines.
 */
import type { Sample } from "./harness.js"
import { median } from "./harness.js"
import type { Db, TargetName } from "./targets.js"
import { TARGET_LABELS, TARGET_NAMES } from "./targets.js"
import type { WorkerResult } from "./worker.js"
import type { Workload } from "./workloads.js"
import { WORKLOAD_LABELS } from "./workloads.js"

/** The medians over rounds of one target. */
export interface Summary {
  readonly rounds: number
  readonly throughput: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly cpuUsPerQuery: number
  /** The whole machine's busy CPU per query, servers included; NaN where it was not measured. */
  readonly machineUsPerQuery: number
  /** The share of the machine's cores busy over a round, 0 to 1; NaN where it was not measured. */
  readonly machineBusy: number
  readonly failed: number
  /** The stream workload's memory (see streamSample.ts); NaN elsewhere. */
  readonly rssGrowthMB: number
  readonly heapGrowthMB: number
}

export const summarise = (samples: ReadonlyArray<Sample>): Summary => ({
  rounds: samples.length,
  throughput: median(samples.map((s) => s.throughput)),
  p50Ms: median(samples.map((s) => s.p50Ms)),
  p99Ms: median(samples.map((s) => s.p99Ms)),
  cpuUsPerQuery: median(samples.map((s) => s.cpuUsPerQuery)),
  machineUsPerQuery: median(samples.map((s) => s.machineUsPerQuery ?? Number.NaN)),
  machineBusy: median(samples.map((s) => s.machineBusy ?? Number.NaN)),
  failed: samples.reduce((n, s) => n + s.failed, 0),
  rssGrowthMB: median(samples.map((s) => s.rssGrowthMB ?? Number.NaN)),
  heapGrowthMB: median(samples.map((s) => s.heapGrowthMB ?? Number.NaN))
})

/** How each database is titled. */
export const DB_LABEL: Record<Db, string> = {
  postgres: "PostgreSQL 15",
  pgbouncer: "PostgreSQL 15 through PgBouncer 1.18 (transaction pooling)",
  mariadb: "MariaDB 10.11",
  sqlite: "SQLite (better-sqlite3, one WAL file)"
}
/** The ORMs FastORM is measured against. */
export const PEERS: ReadonlyArray<TargetName> = ["drizzle", "typeorm", "sequelize"]

/** Each target's medians on one workload. */
export const summaries = (r: WorkerResult, workload: Workload): Partial<Record<TargetName, Summary>> => {
  const out: Partial<Record<TargetName, Summary>> = {}
  for (const name of TARGET_NAMES) {
    const s = r.samples[workload]?.[name]
    if (s !== undefined && s.length > 0) out[name] = summarise(s)
  }
  return out
}

/** A figure that may not have been measured (NaN): "–" then. */
const measured = (x: number, digits: number, unit = "") => Number.isFinite(x) ? `${x.toFixed(digits)}${unit}` : "–"

const ratio = (a: number, b: number | undefined) => b === undefined || !(b > 0) ? "–" : `${(a / b).toFixed(2)}×`

/** The stream workload's table: rows per second and memory instead of queries per second. */
const streamTable = (r: WorkerResult, s: Partial<Record<TargetName, Summary>>): string => {
  const base = s.fastorm
  const lines = [
    `#### ${DB_LABEL[r.db]}: ${WORKLOAD_LABELS.stream}`,
    "",
    "| target | rows/s | s per stream | client CPU µs/row | peak RSS growth MB | peak heap growth MB | rows/s ÷ FastORM | failed |",
    "|---|--:|--:|--:|--:|--:|--:|--:|"
  ]
  for (const name of TARGET_NAMES) {
    const x = s[name]
    if (x !== undefined) {
      lines.push(
        `| ${TARGET_LABELS[name]} | ${x.throughput.toFixed(0)} | ${(x.p50Ms / 1000).toFixed(2)} | ${
          x.cpuUsPerQuery.toFixed(2)
        } | ${x.rssGrowthMB.toFixed(0)} | ${x.heapGrowthMB.toFixed(1)} | ${
          ratio(x.throughput, base?.throughput)
        } | ${x.failed} |`
      )
    } else if (r.unsupported?.stream?.includes(name) && (PEERS.includes(name) || name === "raw-driver")) {
      lines.push(`| ${TARGET_LABELS[name]} | no stream | | | | | | |`)
    }
  }
  return lines.join("\n")
}

/** One workload's table. */
export const table = (r: WorkerResult, workload: Workload): string => {
  const s = summaries(r, workload)
  if (Object.keys(s).length === 0) return ""
  if (workload === "stream") return streamTable(r, s)
  const base = s.fastorm
  const lines = [
    `#### ${DB_LABEL[r.db]}: ${WORKLOAD_LABELS[workload]}`,
    "",
    "| target | q/s | p50 ms | p99 ms | client CPU µs/q | machine CPU µs/q | cores busy | q/s ÷ FastORM | CPU ÷ FastORM | failed |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  ]
  for (const name of TARGET_NAMES) {
    const x = s[name]
    if (x === undefined) continue
    lines.push(
      `| ${TARGET_LABELS[name]} | ${x.throughput.toFixed(0)} | ${x.p50Ms.toFixed(2)} | ${x.p99Ms.toFixed(2)} | ${
        x.cpuUsPerQuery.toFixed(0)
      } | ${measured(x.machineUsPerQuery, 0)} | ${measured(x.machineBusy * 100, 0, "%")} | ${
        ratio(x.throughput, base?.throughput)
      } | ${ratio(x.cpuUsPerQuery, base?.cpuUsPerQuery)} | ${x.failed} |`
    )
  }
  return lines.join("\n")
}

/** The failover table of one database. */
export const failoverTable = (r: WorkerResult): string => {
  if (r.failover.length === 0) return ""
  const lines = [
    `#### ${DB_LABEL[r.db]}: ${r.failover[0]!.killed} killed (SIGKILL) during the point-read load`,
    "",
    "| target | requests after kill | failed | time to 100% success | max latency after kill ms | errors |",
    "|---|--:|--:|--:|--:|---|"
  ]
  for (const f of r.failover) {
    const errors = Object.entries(f.errors).map(([k, n]) => `${n}× ${k.replace(/\|/g, "/")}`).join("; ")
    lines.push(
      `| ${TARGET_LABELS[f.target]} | ${f.requestsAfterKill} | ${f.failedAfterKill} | ${
        f.failedAfterKill === 0
          ? "0 ms (no failure)"
          : f.recovered
          ? `${f.recoveryMs.toFixed(0)} ms`
          : `not within ${(f.windowMs / 1000).toFixed(1)} s`
      } | ${f.maxLatencyAfterKillMs.toFixed(0)} | ${errors === "" ? "–" : errors.slice(0, 160)} |`
    )
  }
  return lines.join("\n")
}

const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`

/**
 * The raw driver's throughput over the best peer's, as a verdict's tail: what the host leaves to win. Where the
 * servers share the client's cores, a workload the servers spend their time on keeps every stack near the raw
 * driver, so a ratio the raw driver itself does not reach says more about the host than about FastORM.
 */
export const rawBeside = (s: Partial<Record<TargetName, Summary>>, bestThroughput: number): string => {
  const raw = s["raw-driver"]
  return raw === undefined || !(bestThroughput > 0)
    ? ""
    : `; raw driver ${(raw.throughput / bestThroughput).toFixed(2)}×`
}

/** The targets of issue 7 as PASS/FAIL lines. */
export const verdicts = (results: ReadonlyArray<WorkerResult>): Array<string> => {
  const out: Array<string> = []
  for (const r of results) {
    const s = summaries(r, "point-read")
    const label = DB_LABEL[r.db]
    const bare = s["effect-sql"]
    // The target's own terms: the same statement on the same replica, (a1); (a), over both replicas, when (a1) did
    // not run.
    const routed = s["fastorm-one"] ?? s.fastorm
    if (routed !== undefined && bare !== undefined) {
      const overhead = routed.cpuUsPerQuery / bare.cpuUsPerQuery - 1
      const spread = s["fastorm-one"] !== undefined && s.fastorm !== undefined
        ? `; over both replicas (a) ${s.fastorm.cpuUsPerQuery.toFixed(0)} µs, ${
          pct(s.fastorm.cpuUsPerQuery / bare.cpuUsPerQuery - 1)
        }`
        : ""
      out.push(
        `${overhead <= 0.05 ? "PASS" : "FAIL"} ${label}: router overhead ${pct(overhead)} client CPU/q ` +
          `(FastORM find ${routed.cpuUsPerQuery.toFixed(0)} µs ${
            s["fastorm-one"] !== undefined ? "on replica-1 alone" : "over both replicas"
          } vs raw @effect/sql on replica-1 ${bare.cpuUsPerQuery.toFixed(0)} µs; target ≤ +5%)${spread}` +
          (s["fastorm-sql"] !== undefined
            ? `; router alone, same SQL: ${pct(s["fastorm-sql"].cpuUsPerQuery / bare.cpuUsPerQuery - 1)}`
            : "")
      )
    }
    const peers = PEERS.flatMap((p) => s[p] === undefined ? [] : [[p, s[p]!] as const])
    if (s.fastorm !== undefined && peers.length > 0) {
      const [bestName, best] = peers.reduce((a, b) => b[1].throughput > a[1].throughput ? b : a)
      const x = s.fastorm.throughput / best.throughput
      out.push(
        `${x >= 1.2 ? "PASS" : "FAIL"} ${label}: FastORM point reads ${s.fastorm.throughput.toFixed(0)} q/s = ${
          x.toFixed(2)
        }× the best peer (${bestName} ${best.throughput.toFixed(0)} q/s; target ≥ 1.20×${
          rawBeside(s, best.throughput)
        })`
      )
    }
    if (r.failover.length > 0) {
      const f = r.failover.find((x) => x.target === "fastorm")
      const peersF = r.failover.filter((x) => x.target !== "fastorm")
      if (f !== undefined) {
        const ok = f.failedAfterKill === 0 && f.recovered && f.recoveryMs <= 1000
        out.push(
          `${ok ? "PASS" : "FAIL"} ${label}: failover, FastORM ${f.failedAfterKill} failed requests, back to 100% ${
            f.failedAfterKill === 0
              ? "at once"
              : f.recovered
              ? `after ${f.recoveryMs.toFixed(0)} ms`
              : "never in window"
          } (target 0 and ≤ 1 s); peers failed: ${peersF.map((p) => `${p.target} ${p.failedAfterKill}`).join(", ")}`
        )
      }
    }
  }
  return out
}
