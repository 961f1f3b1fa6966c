/**
 * Issue 14's targets as PASS/FAIL lines, per workload and database: FastORM at least 1.2x the best peer's throughput
 * on every workload, and on lists client CPU per returned row at most 1.5x the raw driver's. Also the points the
 * charts draw.
 */
import type { Summary } from "./report.js"
import { DB_LABEL, PEERS, summaries } from "./report.js"
import type { TargetName } from "./targets.js"
import { TARGET_LABELS } from "./targets.js"
import type { WorkerResult } from "./worker.js"
import type { Workload } from "./workloads.js"
import { ROWS_RETURNED, WORKLOADS } from "./workloads.js"

/** FastORM's throughput over the best peer's, per workload. */
export const THROUGHPUT_TARGET = 1.2
/** FastORM's client CPU per returned row over the raw driver's, on lists. */
export const CPU_PER_ROW_TARGET = 1.5

const bestPeer = (s: Partial<Record<TargetName, Summary>>) => {
  const peers = PEERS.flatMap((p) => s[p] === undefined || !(s[p]!.throughput > 0) ? [] : [[p, s[p]!] as const])
  return peers.length === 0 ? undefined : peers.reduce((a, b) => b[1].throughput > a[1].throughput ? b : a)
}

/** One point of the throughput chart. */
export interface RatioPoint {
  readonly db: string
  readonly workload: Workload
  readonly ratio: number
  readonly peer: TargetName
}

/** FastORM's throughput over the best peer's, per workload and database. */
export const ratios = (results: ReadonlyArray<WorkerResult>): Array<RatioPoint> => {
  const out: Array<RatioPoint> = []
  for (const r of results) {
    for (const workload of WORKLOADS) {
      const s = summaries(r, workload)
      const best = bestPeer(s)
      if (s.fastorm === undefined || best === undefined) continue
      out.push({ db: r.db, workload, ratio: s.fastorm.throughput / best[1].throughput, peer: best[0] })
    }
  }
  return out
}

/** One point of the CPU-per-row chart. */
export interface CpuPoint {
  readonly db: string
  readonly target: string
  readonly rows: number
  readonly cpuUsPerRow: number
}

/** Client CPU per returned row against rows returned (1, 50, 500), per stack and database. */
export const cpuPerRow = (results: ReadonlyArray<WorkerResult>): Array<CpuPoint> => {
  const out: Array<CpuPoint> = []
  for (const r of results) {
    for (const workload of WORKLOADS) {
      const rows = ROWS_RETURNED[workload]
      if (rows === undefined) continue
      const s = summaries(r, workload)
      for (const [name, x] of Object.entries(s) as Array<[TargetName, Summary]>) {
        if (name === "fastorm-sql" || name === "effect-sql-stock") continue
        out.push({ db: r.db, target: TARGET_LABELS[name], rows, cpuUsPerRow: x.cpuUsPerQuery / rows })
      }
    }
  }
  return out
}

/** The PASS/FAIL lines of every workload but the point read (whose line `verdicts` prints). */
export const workloadVerdicts = (results: ReadonlyArray<WorkerResult>): Array<string> => {
  const out: Array<string> = []
  for (const r of results) {
    const label = DB_LABEL[r.db]
    for (const workload of WORKLOADS) {
      const s = summaries(r, workload)
      const best = bestPeer(s)
      if (s.fastorm === undefined) continue
      if (workload !== "point-read" && best !== undefined) {
        const x = s.fastorm.throughput / best[1].throughput
        out.push(
          `${x >= THROUGHPUT_TARGET ? "PASS" : "FAIL"} ${label}: ${workload} FastORM ${
            s.fastorm.throughput.toFixed(0)
          } q/s = ${x.toFixed(2)}× the best peer (${best[0]} ${best[1].throughput.toFixed(0)} q/s; target ≥ ${
            THROUGHPUT_TARGET.toFixed(2)
          }×)${s.fastorm.failed > 0 ? `; ${s.fastorm.failed} failed` : ""}`
        )
      }
      const rows = ROWS_RETURNED[workload]
      const raw = s["raw-driver"]
      if (rows !== undefined && rows > 1 && raw !== undefined) {
        const x = s.fastorm.cpuUsPerQuery / raw.cpuUsPerQuery
        out.push(
          `${x <= CPU_PER_ROW_TARGET ? "PASS" : "FAIL"} ${label}: ${workload} client CPU per row FastORM ${
            (s.fastorm.cpuUsPerQuery / rows).toFixed(2)
          } µs = ${x.toFixed(2)}× the raw driver's ${(raw.cpuUsPerQuery / rows).toFixed(2)} µs (target ≤ ${
            CPU_PER_ROW_TARGET.toFixed(2)
          }×)`
        )
      }
    }
  }
  return out
}
