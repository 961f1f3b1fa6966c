/**
 * One database's phase of `npm run bench`, run as its own process: seeds the table, starts each target in a process
 * of its own (`hostedTarget.ts`), warms every target up, runs the interleaved rounds of every workload, then the
 * failover benchmark (each failover target built here, one at a time). Writes its results as JSON to BENCH_OUT.
 * `pgbouncer` is the PostgreSQL cluster with every target through PgBouncers of the worker's own (one per node,
 * transaction pooling, POOL_SIZE server connections each, stock ignore_startup_parameters), stopped at the end.
 *
 *   FASTORM_CLUSTER_FILE=... BENCH_OUT=/tmp/x.json tsx --conditions=@fastorm/source bench/src/worker.ts postgres
 */
import type { ClusterNodes, PgBouncerNodes } from "@fastorm/test-support"
import {
  killNode,
  loadCluster,
  startNode,
  startPgBouncers,
  stopPgBouncers,
  throughPgBouncer,
  waitReplicated
} from "@fastorm/test-support"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { fromEnv } from "./config.js"
import type { Sample } from "./harness.js"
import { Recorder, warmUp } from "./harness.js"
import type { BenchTarget } from "./hostedTarget.js"
import { fromSpec, hosted, inProcess } from "./hostedTarget.js"
import { seed } from "./seed.js"
import { seedSqlite, SQLITE_TARGETS } from "./sqliteTargets.js"
import type { Db, TargetName } from "./targets.js"
import { dialectOf, makeTarget, POOL_SIZE } from "./targets.js"
import { describeUncaught } from "./uncaught.js"
import type { Workload } from "./workloads.js"
import { startDeletesAt } from "./workloads.js"

/** One failover run. */
export interface FailoverResult {
  readonly target: TargetName
  readonly killed: string
  readonly requestsAfterKill: number
  readonly failedAfterKill: number
  readonly failedBeforeKill: number
  /** Kill to the last failed request; 0 when none failed. */
  readonly recoveryMs: number
  /** False when requests still failed in the last second of the window. */
  readonly recovered: boolean
  readonly windowMs: number
  readonly maxLatencyAfterKillMs: number
  readonly errors: Record<string, number>
}

/** What a worker writes. */
export interface WorkerResult {
  readonly db: Db
  readonly samples: Partial<Record<Workload, Partial<Record<TargetName, Array<Sample>>>>>
  /** The targets of the run that do not implement a workload (e.g. a peer with no streaming read). */
  readonly unsupported?: Partial<Record<Workload, Array<TargetName>>>
  readonly failover: Array<FailoverResult>
  readonly uncaught: number
}

const FAILOVER_TARGETS: ReadonlyArray<TargetName> = ["fastorm", "drizzle", "typeorm", "sequelize"]

const log = (line: string) => process.stderr.write(`${line}\n`)

const db = process.argv[2] as Db
if (db !== "postgres" && db !== "mariadb" && db !== "pgbouncer" && db !== "sqlite") {
  throw new Error("usage: worker.ts postgres|mariadb|pgbouncer|sqlite")
}
const out = process.env["BENCH_OUT"]
const config = fromEnv()
const cluster = db === "sqlite" ? undefined : loadCluster()
// Through PgBouncer: the PostgreSQL nodes (controls, names) with their URLs through the poolers, set once started.
let nodes: ClusterNodes = cluster?.[dialectOf(db)] as ClusterNodes
// The SQLite run's file, in a directory of its own.
const sqliteDir = db === "sqlite" ? mkdtempSync(join(tmpdir(), "fastorm-bench-")) : undefined
const sqliteFile = sqliteDir === undefined ? "" : join(sqliteDir, "bench.db")
const targetNames = db === "sqlite" ? config.targets.filter((t) => SQLITE_TARGETS.includes(t)) : config.targets
let poolers: PgBouncerNodes | undefined

let uncaught = 0
// A peer's pool may emit an unhandled error when a replica dies; count it rather than lose the run.
process.on("uncaughtException", (e) => {
  uncaught++
  log(`[${db}] uncaught: ${describeUncaught(e)}`)
})
process.on("unhandledRejection", (e) => {
  uncaught++
  log(`[${db}] unhandled rejection: ${describeUncaught(e)}`)
})

const fmt = (s: Sample) =>
  s.heapGrowthMB !== undefined
    ? `${s.throughput.toFixed(0).padStart(7)} rows/s  ${(s.p50Ms / 1000).toFixed(2)} s  ${
      s.cpuUsPerQuery.toFixed(2)
    } µs CPU/row  RSS +${s.rssGrowthMB?.toFixed(0)} MB  heap +${s.heapGrowthMB.toFixed(1)} MB${
      s.failed > 0 ? `  FAILED: ${s.firstError ?? ""}` : ""
    }`
    : `${s.throughput.toFixed(0).padStart(6)} q/s  p50 ${s.p50Ms.toFixed(2)} ms  p99 ${s.p99Ms.toFixed(2)} ms  ${
      s.cpuUsPerQuery.toFixed(0)
    } µs CPU/q (sys ${s.sysUsPerQuery.toFixed(0)})${s.failed > 0 ? `  FAILED ${s.failed}: ${s.firstError ?? ""}` : ""}`

/** Builds a target where the run measures it: in a process of its own (the default) or in this one. */
const buildTarget = async (name: TargetName): Promise<BenchTarget> => {
  const spec = { name, db, rows: config.rows, nodes: db === "sqlite" ? undefined : nodes, sqliteFile }
  return config.isolate ? hosted(spec) : inProcess(await fromSpec(spec))
}

const throughputPhase = async (): Promise<Required<Pick<WorkerResult, "samples" | "unsupported">>> => {
  const targets: Array<BenchTarget> = []
  for (const name of targetNames) targets.push(await buildTarget(name))
  for (const t of targets) {
    const t0 = performance.now()
    const failed = (await t.warm("point-read", config.callers, config.warmup)).failed +
      (await t.warm("read-write", config.callers, Math.ceil(config.warmup / 3))).failed
    log(`[${db}] warm-up ${t.name}: ${Math.round(performance.now() - t0)} ms${failed > 0 ? `, ${failed} failed` : ""}`)
  }
  startDeletesAt(config.rows + 1)
  const samples: WorkerResult["samples"] = {}
  const unsupported: NonNullable<WorkerResult["unsupported"]> = {}
  for (const workload of config.workloads) {
    const running = targets.filter((t) => t.supports(workload))
    const missing = targets.filter((t) => !t.supports(workload)).map((t) => t.name)
    if (missing.length > 0) unsupported[workload] = missing
    // One caller reads the whole stream table per round (a stream of warm-up primes every code path).
    const sampleOf = (t: BenchTarget) =>
      workload === "stream" ? t.stream() : t.measure(workload, config.callers, config.seconds)
    if (workload === "stream") {
      for (const t of running) await t.stream()
    } else {
      // An unmeasured round first: every statement shape prepared, every code path compiled and each stack past its
      // first second of the workload (BENCHMARKS.md "How it runs").
      for (const t of running) {
        const warm = await t.measure(workload, config.callers, config.workloadWarmup)
        log(`[${db}] ${workload} warm-up     ${t.name.padEnd(12)} ${fmt(warm)}`)
      }
    }
    for (let round = 0; round < config.rounds; round++) {
      // Interleaved: every round runs every target once, starting with a different one each round.
      const order = running.map((_, i) => running[(i + round) % running.length]!)
      for (const t of order) {
        const sample = await sampleOf(t)
        ;((samples[workload] ??= {})[t.name] ??= []).push(sample)
        log(`[${db}] ${workload} round ${round + 1}/${config.rounds} ${t.name.padEnd(12)} ${fmt(sample)}`)
      }
    }
  }
  for (const t of targets) uncaught += await t.close()
  return { samples, unsupported }
}

const failoverOne = async (name: TargetName): Promise<FailoverResult> => {
  const victim = nodes.replicas[0]!
  const target = await makeTarget(name, db, nodes, config.rows)
  try {
    // Both replicas' pools hold connections before the kill.
    await warmUp(target.driver, "point-read", config.callers, 1000)
    const recorder = new Recorder(true)
    const t0 = performance.now()
    const killAtTarget = t0 + config.failoverBeforeSeconds * 1000
    const end = killAtTarget + config.failoverAfterSeconds * 1000
    let killAt = Number.NaN
    const killer = (async () => {
      await new Promise((resolve) => setTimeout(resolve, killAtTarget - performance.now()))
      killAt = performance.now()
      await killNode(victim)
    })()
    await target.driver.run("point-read", config.callers, { untilMs: end }, recorder)
    await killer
    const timeline = recorder.timeline!
    const after = timeline.filter(([at]) => at >= killAt)
    const failedAfter = after.filter(([, ok]) => !ok)
    const lastFailure = failedAfter.length === 0 ? undefined : failedAfter[failedAfter.length - 1]![0]
    const windowEnd = timeline.length === 0 ? end : timeline[timeline.length - 1]![0]
    return {
      target: name,
      killed: victim.name,
      requestsAfterKill: after.length,
      failedAfterKill: failedAfter.length,
      failedBeforeKill: timeline.filter(([at, ok]) => at < killAt && !ok).length,
      recoveryMs: lastFailure === undefined ? 0 : lastFailure - killAt,
      recovered: lastFailure === undefined || windowEnd - lastFailure >= 1000,
      windowMs: windowEnd - killAt,
      maxLatencyAfterKillMs: after.reduce((m, [, , latency]) => Math.max(m, latency), 0),
      errors: Object.fromEntries(recorder.errors)
    }
  } finally {
    await target.close()
    await startNode(victim, { timeoutMs: 60_000 })
    await waitReplicated(nodes, { timeoutMs: 60_000 })
  }
}

const main = async () => {
  const t0 = performance.now()
  if (db === "pgbouncer" && cluster !== undefined) {
    poolers = await startPgBouncers(join(cluster.dir, `bench-pgbouncer-${process.pid}`), cluster.postgres, {
      defaultPoolSize: POOL_SIZE,
      maxClientConn: 2_000
    })
    nodes = throughPgBouncer(cluster.postgres, poolers)
    log(`[${db}] a PgBouncer in front of each PostgreSQL node, ${POOL_SIZE} server connections each`)
  }
  log(`[${db}] seeding ${config.rows} rows`)
  const stream = config.workloads.includes("stream")
  if (db === "sqlite") seedSqlite(sqliteFile, config.rows, stream)
  else await seed(dialectOf(db), nodes, config.rows, stream)
  log(`[${db}] seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  const { samples, unsupported } = await throughputPhase()
  const failover: Array<FailoverResult> = []
  if (config.failover && db !== "sqlite") {
    for (const name of FAILOVER_TARGETS.filter((n) => config.targets.includes(n))) {
      const r = await failoverOne(name)
      failover.push(r)
      log(
        `[${db}] failover ${name.padEnd(10)} failed ${r.failedAfterKill}/${r.requestsAfterKill} after kill, ` +
          `recovery ${r.recovered ? `${r.recoveryMs.toFixed(0)} ms` : "none in window"}, max latency ${
            r.maxLatencyAfterKillMs.toFixed(0)
          } ms`
      )
    }
  }
  const result: WorkerResult = { db, samples, unsupported, failover, uncaught }
  if (out !== undefined) writeFileSync(out, JSON.stringify(result, null, 2))
  log(`[${db}] done in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
}

main().finally(() => {
  if (sqliteDir !== undefined) rmSync(sqliteDir, { recursive: true, force: true })
  return poolers === undefined ? undefined : stopPgBouncers(poolers)
}).then(
  () => process.exit(0),
  (e) => {
    log(`[${db}] failed: ${(e as Error)?.stack ?? e}`)
    process.exit(1)
  }
)
