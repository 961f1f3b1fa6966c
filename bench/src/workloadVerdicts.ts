/**
 * Issue 14's targets as PASS/FAIL lines, per workload and database: FastORM at least 1.2x the best peer's throughput
 * on every workload, and on lists client CPU per returned row at most 1.5x the raw driver's. Also the points the
 * charts draw.
 */
import type { Sample } from "./harness.js"
import type { Summary } from "./report.js"
import { DB_LABEL, PEERS, rawBeside, summaries } from "./report.js"
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

/** One workload of one database: every target's medians, and the best peer's name and medians when one ran. */
interface Comparison {
  readonly db: WorkerResult["db"]
  readonly workload: Workload
  readonly s: Partial<Record<TargetName, Summary>>
  readonly best: readonly [TargetName, Summary] | undefined
  /** Every target's rounds, in the order they ran. */
  readonly rounds: Partial<Record<TargetName, ReadonlyArray<Sample>>>
}

/** Every workload FastORM ran on, per database: the one loop the ratios and the verdicts read. */
const comparisons = (results: ReadonlyArray<WorkerResult>): Array<Comparison> =>
  results.flatMap((r) =>
    WORKLOADS.flatMap((workload) => {
      const s = summaries(r, workload)
      return s.fastorm === undefined
        ? []
        : [{ db: r.db, workload, s, best: bestPeer(s), rounds: r.samples[workload] ?? {} }]
    })
  )

/** One point of the throughput chart. */
export interface RatioPoint {
  readonly db: string
  readonly workload: Workload
  readonly ratio: number
  readonly peer: TargetName
}

/** FastORM's throughput (rows/s on the stream) over the best peer's, per workload and database. */
export const ratios = (results: ReadonlyArray<WorkerResult>): Array<RatioPoint> =>
  comparisons(results).flatMap(({ best, db, s, workload }) =>
    best === undefined ? [] : [{ db, workload, ratio: s.fastorm!.throughput / best[1].throughput, peer: best[0] }]
  )

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
        if (name === "fastorm-sql" || name === "fastorm-one" || name === "effect-sql-stock") continue
        out.push({ db: r.db, target: TARGET_LABELS[name], rows, cpuUsPerRow: x.cpuUsPerQuery / rows })
      }
    }
  }
  return out
}

/**
 * The lowest and highest of FastORM's throughput over the best peer's round by round (the k-th round of each: the
 * same interleaved round), so a verdict shows how far this run's noise moves its ratio; undefined under two rounds.
 */
export const roundRatios = (
  fastorm: ReadonlyArray<Sample>,
  peer: ReadonlyArray<Sample>
): readonly [min: number, max: number] | undefined => {
  const rounds = Math.min(fastorm.length, peer.length)
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  let paired = 0
  for (let k = 0; k < rounds; k++) {
    if (!(peer[k]!.throughput > 0)) continue
    const x = fastorm[k]!.throughput / peer[k]!.throughput
    min = Math.min(min, x)
    max = Math.max(max, x)
    paired++
  }
  return paired < 2 ? undefined : [min, max]
}

const roundsBeside = (fastorm: ReadonlyArray<Sample> | undefined, peer: ReadonlyArray<Sample> | undefined): string => {
  const range = fastorm === undefined || peer === undefined ? undefined : roundRatios(fastorm, peer)
  return range === undefined ? "" : `; rounds ${range[0].toFixed(2)}-${range[1].toFixed(2)}×`
}

/** The PASS/FAIL lines of every workload but the point read (whose line `verdicts` prints). */
export const workloadVerdicts = (results: ReadonlyArray<WorkerResult>): Array<string> => {
  const out: Array<string> = []
  for (const { best, db, rounds, s, workload } of comparisons(results)) {
    const label = DB_LABEL[db]
    const fastorm = s.fastorm!
    const unit = workload === "stream" ? "rows/s" : "q/s"
    if (workload !== "point-read" && best !== undefined) {
      const x = fastorm.throughput / best[1].throughput
      out.push(
        `${x >= THROUGHPUT_TARGET ? "PASS" : "FAIL"} ${label}: ${workload} FastORM ${
          fastorm.throughput.toFixed(0)
        } ${unit} = ${x.toFixed(2)}× the best peer (${best[0]} ${best[1].throughput.toFixed(0)} ${unit}; target ≥ ${
          THROUGHPUT_TARGET.toFixed(2)
        }×${roundsBeside(rounds.fastorm, rounds[best[0]])}${rawBeside(s, best[1].throughput)})${
          workload === "stream" ? `; heap +${fastorm.heapGrowthMB.toFixed(1)} MB` : ""
        }${fastorm.failed > 0 ? `; ${fastorm.failed} failed` : ""}`
      )
    } else if (workload === "stream") {
      const raw = s["raw-driver"]
      out.push(
        `---- ${label}: stream FastORM ${fastorm.throughput.toFixed(0)} rows/s, heap +${
          fastorm.heapGrowthMB.toFixed(1)
        } MB; no peer streams here${raw === undefined ? "" : ` (raw driver ${raw.throughput.toFixed(0)} rows/s)`}`
      )
    }
    const rows = ROWS_RETURNED[workload]
    const raw = s["raw-driver"]
    if (rows !== undefined && rows > 1 && raw !== undefined) {
      // The same statement on the same replica as the raw driver, (a1), when it ran (BENCHMARKS.md, "Reproduce");
      // FastORM over both replicas, (a), beside it.
      const one = s["fastorm-one"]
      const own = one ?? fastorm
      const x = own.cpuUsPerQuery / raw.cpuUsPerQuery
      out.push(
        `${x <= CPU_PER_ROW_TARGET ? "PASS" : "FAIL"} ${label}: ${workload} client CPU per row FastORM ${
          (own.cpuUsPerQuery / rows).toFixed(2)
        } µs${one === undefined ? "" : " on replica-1 alone"} = ${x.toFixed(2)}× the raw driver's ${
          (raw.cpuUsPerQuery / rows).toFixed(2)
        } µs on replica-1 (target ≤ ${CPU_PER_ROW_TARGET.toFixed(2)}×)${
          one === undefined
            ? ""
            : `; over both replicas (a) ${(fastorm.cpuUsPerQuery / rows).toFixed(2)} µs, ${
              (fastorm.cpuUsPerQuery / raw.cpuUsPerQuery).toFixed(2)
            }×`
        }`
      )
    }
  }
  return out
}
