/**
 * `npm run bench`: starts its own PostgreSQL and MariaDB clusters (primary + 2 replicas each), runs one worker
 * process per database (PostgreSQL, then MariaDB), prints the tables and the targets' pass/fail lines, and writes
 * them to bench/results/. Settings: see BENCHMARKS.md (BENCH_QUICK, BENCH_ROUNDS, BENCH_SECONDS, ...).
 */
import type { ClusterInfo } from "@fastorm/test-support"
import { loadCluster, startClusters, stopClusters } from "@fastorm/test-support"
import { spawn } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { writeCharts } from "./charts.js"
import { fromEnv } from "./config.js"
import { expectedDurationLine } from "./duration.js"
import { summariseProfile } from "./profile.js"
import { failoverTable, table, verdicts } from "./report.js"
import type { Db } from "./targets.js"
import type { WorkerResult } from "./worker.js"
import { WORKLOADS } from "./workloads.js"
import { workloadVerdicts } from "./workloadVerdicts.js"

const here = dirname(fileURLToPath(import.meta.url))
// `npm run bench` runs the compiled JavaScript (bench/build/src), as applications run FastORM: under tsx every
// function FastORM creates per statement would also pay for the transpiler's helpers, which the peers do not.
const compiled = here.endsWith(join("build", "src"))
const benchDir = compiled ? join(here, "..", "..") : join(here, "..")
const resultsDir = join(benchDir, "results")
const profilesDir = join(benchDir, "profiles")
const profile = process.env["BENCH_PROFILE"] === "1"

const log = (line: string) => process.stderr.write(`${line}\n`)

/** Where a profiled worker writes: tsx's loader thread writes a profile of its own beside the main thread's. */
const profileDirOf = (db: Db) => join(profilesDir, db)

const runWorker = (db: Db, clusterFile: string, out: string): Promise<void> =>
  new Promise((resolve, reject) => {
    if (profile) rmSync(profileDirOf(db), { recursive: true, force: true })
    // gc exposed for the stream workload, which measures the heap a stream holds after full collections.
    const flags = ["--expose-gc", ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDirOf(db)}`] : [])]
    const env: NodeJS.ProcessEnv = { ...process.env, FASTORM_CLUSTER_FILE: clusterFile, BENCH_OUT: out }
    if (profile) {
      env["BENCH_TARGETS"] ??= "fastorm"
      env["BENCH_FAILOVER"] ??= "0"
    }
    // Compiled, the packages resolve to their dist/ (built by `npm run bench`); under tsx, to their sources.
    const entry = compiled
      ? [join(here, "worker.js")]
      : ["--conditions=@fastorm/source", "--import", "tsx", join(here, "worker.ts")]
    const child = spawn(process.execPath, [...flags, ...entry, db], {
      env,
      stdio: ["ignore", "inherit", "inherit"]
    })
    child.on("error", reject)
    child.on("exit", (code) => code === 0 ? resolve() : reject(new Error(`${db} worker exited with ${code}`)))
  })

const machine = () => {
  const model = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpus()[0]?.model
  return { nproc: cpus().length, cpu: model ?? "unknown", node: process.version }
}

const main = async () => {
  const config = fromEnv()
  if (config.workloads.length === 0) {
    log("bench: BENCH_WORKLOADS names only the relations workload (bench/src/relations.ts runs it next)")
    return
  }
  log(expectedDurationLine(config))
  const started = Date.now()
  const load0 = loadavg()
  const reuse = process.env["FASTORM_CLUSTER_FILE"]
  let info: ClusterInfo | undefined
  const needsClusters = config.dbs.some((db) => db !== "sqlite")
  if (!needsClusters) {
    log("bench: SQLite only, no clusters")
  } else if (reuse !== undefined && reuse !== "") {
    info = loadCluster()
    log(`bench: using the running clusters of ${reuse}`)
  } else {
    log("bench: starting PostgreSQL and MariaDB clusters (primary + 2 replicas each)")
    info = await startClusters({ log })
  }
  // Only a full run replaces the report, the JSONs and the charts BENCHMARKS.md shows; a quick or partial one writes
  // its own beside them.
  const full = !config.quick && config.workloads.length === WORKLOADS.length && config.dbs.length >= 3
  const outDir = full ? resultsDir : join(resultsDir, "partial")
  mkdirSync(outDir, { recursive: true })
  const results: Array<WorkerResult> = []
  try {
    for (const db of config.dbs) {
      const out = join(outDir, `${db}.json`)
      log(`bench: ${db} worker`)
      await runWorker(db, info?.file ?? "", out)
      results.push(JSON.parse(readFileSync(out, "utf8")) as WorkerResult)
    }
  } finally {
    if (info !== undefined && (reuse === undefined || reuse === "")) await stopClusters(info)
  }
  const load1 = loadavg()
  const m = machine()
  const lines = [
    `Run of ${new Date(started).toISOString()}, ${
      Math.round((Date.now() - started) / 1000)
    } s: ${m.nproc} CPUs (${m.cpu}), ` +
    `node ${m.node}; load average at start ${load0.map((x) => x.toFixed(2)).join(" ")}, at end ${
      load1.map((x) => x.toFixed(2)).join(" ")
    }.`,
    `Settings: ${config.rounds} rounds × ${config.seconds} s per target and workload, interleaved, after a warm-up of ` +
    `${config.warmup} point reads + ${Math.ceil(config.warmup / 3)} mixed, and ${config.workloadWarmup} s of each ` +
    `workload per target before its first round; ${config.callers} concurrent callers; ` +
    `${config.rows} rows; pools of 16 connections per node; medians over rounds.`,
    ""
  ]
  for (const r of results) {
    for (const workload of config.workloads) lines.push(table(r, workload), "")
    const f = failoverTable(r)
    if (f !== "") lines.push(f, "")
    if (r.uncaught > 0) lines.push(`(${r.uncaught} uncaught errors from drivers during the ${r.db} run)`, "")
  }
  lines.push(
    "Each throughput verdict ends with the raw driver's ratio to the same peer (on the servers its reads go to one",
    "replica): where it is near 1, the servers bound the workload on this host and no stack can go much faster.",
    "",
    "```",
    ...verdicts(results),
    ...workloadVerdicts(results),
    "```"
  )
  if (!profile) {
    const charts = await writeCharts(outDir, results)
    const shown = full ? "bench/results" : "bench/results/partial"
    lines.push("", `Charts: ${charts.map((c) => `${shown}/${c}`).join(", ")}`)
  }
  const report = lines.join("\n")
  writeFileSync(profile ? join(resultsDir, "profile-run.md") : join(outDir, "latest.md"), report + "\n")
  process.stdout.write(`\n${report}\n`)
  if (profile) {
    for (const db of config.dbs) {
      // The main thread's profile is the largest.
      const file = readdirSync(profileDirOf(db)).filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => join(profileDirOf(db), f)).sort((a, b) => statSync(b).size - statSync(a).size)[0]
      if (file === undefined) continue
      const summary = summariseProfile(file)
      writeFileSync(join(resultsDir, `profile-${db}.md`), summary + "\n")
      process.stdout.write(`\n### CPU profile, ${db} (${file})\n\n${summary}\n`)
    }
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    log(`bench failed: ${(e as Error)?.stack ?? e}`)
    process.exit(1)
  }
)
