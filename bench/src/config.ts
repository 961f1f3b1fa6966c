/**
 * The benchmark's settings, from the environment.
 */
import type { Db, TargetName } from "./targets.js"
import { ABLATION_TARGETS, MAIN_TARGETS, TARGET_NAMES } from "./targets.js"
import type { Workload } from "./workloads.js"
import { WORKLOADS } from "./workloads.js"

const num = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${raw}`)
  return n
}

const list = <A extends string>(
  name: string,
  all: ReadonlyArray<A>,
  elsewhere: ReadonlyArray<string> = []
): ReadonlyArray<A> => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return all
  const picked = raw.split(",").map((s) => s.trim()).filter((s) => s !== "")
  for (const p of picked) {
    if (!all.includes(p as A) && !elsewhere.includes(p)) {
      throw new Error(`${name}: unknown "${p}"; known: ${[...all, ...elsewhere].join(", ")}`)
    }
  }
  return all.filter((a) => picked.includes(a))
}

export interface BenchConfig {
  readonly quick: boolean
  readonly rounds: number
  readonly seconds: number
  readonly warmup: number
  /**
   * Seconds each target runs a workload, unmeasured, before its first round: a stack's first second of a workload
   * runs well below its later ones (its JIT and its connections' statements warming), so a count of operations left
   * every first round on that slope.
   */
  readonly workloadWarmup: number
  readonly callers: number
  readonly rows: number
  readonly dbs: ReadonlyArray<Db>
  readonly targets: ReadonlyArray<TargetName>
  readonly workloads: ReadonlyArray<Workload>
  readonly ablation: boolean
  readonly failover: boolean
  /**
   * Each target in a process of its own (`hostedTarget.ts`); off with BENCH_ISOLATE=0, and under BENCH_PROFILE=1,
   * whose profile is the worker's process.
   */
  readonly isolate: boolean
  /** Read load before the kill, and after it. */
  readonly failoverBeforeSeconds: number
  readonly failoverAfterSeconds: number
}

/** Reads BENCH_* (see BENCHMARKS.md). */
export const fromEnv = (): BenchConfig => {
  const quick = process.env["BENCH_QUICK"] === "1"
  const failoverEnv = process.env["BENCH_FAILOVER"]
  const ablation = process.env["BENCH_ABLATION"] === "1"
  const targets = list<TargetName>("BENCH_TARGETS", TARGET_NAMES)
  return {
    quick,
    rounds: Math.round(num("BENCH_ROUNDS", quick ? 1 : 3)),
    seconds: num("BENCH_SECONDS", quick ? 0.6 : 1),
    warmup: Math.round(num("BENCH_WARMUP", quick ? 600 : 3000)),
    workloadWarmup: num("BENCH_WORKLOAD_WARMUP", quick ? 0.3 : 1),
    callers: Math.round(num("BENCH_CALLERS", 16)),
    rows: Math.round(num("BENCH_ROWS", 10_000)),
    dbs: list<Db>("BENCH_DBS", ["postgres", "pgbouncer", "mariadb", "sqlite"]),
    // Explicit targets keep their given order; the defaults are the main run's or the ablation's.
    targets: process.env["BENCH_TARGETS"] ? targets : ablation ? ABLATION_TARGETS : MAIN_TARGETS,
    // "relations" is the workload of bench/src/relations.ts, which `npm run bench` runs next.
    workloads: list<Workload>("BENCH_WORKLOADS", ablation ? ["point-read"] : WORKLOADS, ["relations"]),
    ablation,
    failover: failoverEnv === undefined || failoverEnv === "" ? !quick && !ablation : failoverEnv === "1",
    isolate: process.env["BENCH_ISOLATE"] !== "0" && process.env["BENCH_PROFILE"] !== "1",
    failoverBeforeSeconds: num("BENCH_FAILOVER_BEFORE", 1.5),
    failoverAfterSeconds: num("BENCH_FAILOVER_AFTER", quick ? 3 : 6)
  }
}
