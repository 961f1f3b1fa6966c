/**
 * `npm run bench:relations`: the "50 users with their posts" workload on PostgreSQL and MariaDB (primary + 2
 * replicas each, started here unless FASTORM_CLUSTER_FILE names running ones). Each load reads 50 consecutive users
 * (a random start) and their posts; FastORM's `with("posts")` against the same two statements by hand, the raw driver,
 * and the peers' eager loading. Interleaved rounds, 16 concurrent callers, medians; the target line is the other
 * workloads' (FastORM ≥ 1.2× the best peer's throughput), and `with` is compared with the hand-written pair.
 * Settings: BENCH_ROUNDS (3), BENCH_SECONDS (2), BENCH_CALLERS (16), BENCH_REL_USERS (1000), BENCH_REL_POSTS (5 per
 * user), BENCH_DBS (postgres,mariadb), BENCH_TARGETS.
 */
import type { ClusterInfo, ClusterNodes } from "@fastorm/test-support"
import { loadCluster, startClusters, stopClusters, waitReplicated } from "@fastorm/test-support"
import * as Mysql from "mysql2/promise"
import { mkdirSync, writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import Pg from "pg"
import type { Sample } from "./harness.js"
import { measure, median, warmUp } from "./harness.js"
import { makeRelTarget } from "./relationsTargets.js"
import type { RelTargetName } from "./relationsWorkload.js"
import { PER_LOAD, POSTS, REL_LABELS, REL_TARGETS, USERS } from "./relationsWorkload.js"
import type { Dialect } from "./targets.js"

const env = (name: string, fallback: number) => {
  const n = Number(process.env[name] ?? fallback)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`)
  return n
}
const QUICK = process.env["BENCH_QUICK"] === "1"
const ROUNDS = Math.round(env("BENCH_ROUNDS", QUICK ? 1 : 3))
const SECONDS = env("BENCH_SECONDS", QUICK ? 0.6 : 2)
const CALLERS = Math.round(env("BENCH_CALLERS", 16))
const USER_ROWS = Math.round(env("BENCH_REL_USERS", 1000))
const PER_USER = Math.round(env("BENCH_REL_POSTS", 5))
const DBS = (process.env["BENCH_DBS"] ?? "postgres,mariadb").split(",").filter((d): d is Dialect =>
  d === "postgres" || d === "mariadb"
)
const TARGETS = (process.env["BENCH_TARGETS"] ?? REL_TARGETS.join(",")).split(",").filter((t): t is RelTargetName =>
  (REL_TARGETS as ReadonlyArray<string>).includes(t)
)

const log = (line: string) => process.stderr.write(`${line}\n`)

const seed = async (db: Dialect, nodes: ClusterNodes) => {
  const posts = USER_ROWS * PER_USER
  if (db === "postgres") {
    const client = new Pg.Client({ connectionString: nodes.primary.url })
    await client.connect()
    try {
      for (
        const s of [
          `DROP TABLE IF EXISTS ${POSTS}`,
          `DROP TABLE IF EXISTS ${USERS}`,
          `CREATE TABLE ${USERS} (id SERIAL PRIMARY KEY, name TEXT NOT NULL)`,
          `CREATE TABLE ${POSTS} (id SERIAL PRIMARY KEY, "userId" INT NOT NULL, title TEXT NOT NULL)`,
          `CREATE INDEX ${POSTS}_user ON ${POSTS} ("userId")`,
          `INSERT INTO ${USERS} (name) SELECT 'user ' || g FROM generate_series(1, ${USER_ROWS}) g`,
          `INSERT INTO ${POSTS} ("userId", title) SELECT 1 + (g - 1) % ${USER_ROWS}, 'post ' || g FROM generate_series(1, ${posts}) g`,
          `ANALYZE ${USERS}`,
          `ANALYZE ${POSTS}`
        ]
      ) await client.query(s)
    } finally {
      await client.end()
    }
  } else {
    const conn = await Mysql.createConnection({ uri: nodes.primary.url })
    try {
      for (
        const s of [
          `DROP TABLE IF EXISTS ${POSTS}`,
          `DROP TABLE IF EXISTS ${USERS}`,
          `CREATE TABLE ${USERS} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL) ENGINE=InnoDB`,
          `CREATE TABLE ${POSTS} (id INT AUTO_INCREMENT PRIMARY KEY, userId INT NOT NULL, title VARCHAR(100) NOT NULL, INDEX (userId)) ENGINE=InnoDB`,
          `INSERT INTO ${USERS} (name) SELECT CONCAT('user ', seq) FROM seq_1_to_${USER_ROWS}`,
          `INSERT INTO ${POSTS} (userId, title) SELECT 1 + (seq - 1) % ${USER_ROWS}, CONCAT('post ', seq) FROM seq_1_to_${posts}`
        ]
      ) await conn.query(s)
    } finally {
      await conn.end()
    }
  }
  await waitReplicated(nodes, { timeoutMs: 60_000 })
}

interface Row {
  readonly target: RelTargetName
  readonly samples: ReadonlyArray<Sample>
}

const runDb = async (db: Dialect, nodes: ClusterNodes): Promise<ReadonlyArray<Row>> => {
  await seed(db, nodes)
  const targets = []
  for (const name of TARGETS) {
    const target = await makeRelTarget(name, db, nodes, USER_ROWS, PER_USER)
    const { failed } = await warmUp(target.driver, "point-read", CALLERS, 300)
    if (failed > 0) log(`bench:relations: ${db} ${name}: ${failed} of 300 warm-up loads failed`)
    targets.push(target)
  }
  const samples = new Map<RelTargetName, Array<Sample>>(targets.map((t) => [t.name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved: every target once per round, the order rotated each round.
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(i + round) % targets.length]!
      const sample = await measure(target.driver, "point-read", CALLERS, SECONDS)
      samples.get(target.name)!.push(sample)
      log(`bench:relations: ${db} round ${round + 1} ${target.name}: ${sample.throughput.toFixed(0)} loads/s`)
    }
  }
  for (const target of targets) await target.close()
  return targets.map((t) => ({ target: t.name, samples: samples.get(t.name)! }))
}

const fmt = (n: number, digits = 0) => Number.isNaN(n) ? "-" : n.toFixed(digits)

const tableOf = (db: Dialect, rows: ReadonlyArray<Row>): Array<string> => {
  const med = (row: Row, f: (s: Sample) => number) => median(row.samples.map(f))
  const base = rows.find((r) => r.target === "fastorm")
  const baseQps = base === undefined ? Number.NaN : med(base, (s) => s.throughput)
  const baseCpu = base === undefined ? Number.NaN : med(base, (s) => s.cpuUsPerQuery)
  const lines = [
    `#### ${
      db === "postgres" ? "PostgreSQL 15" : "MariaDB 10.11"
    }: ${PER_LOAD} users with their posts (${PER_USER} each)`,
    "",
    "| target | loads/s | p50 ms | p99 ms | client CPU µs/load | loads/s ÷ FastORM | CPU ÷ FastORM | failed |",
    "|---|--:|--:|--:|--:|--:|--:|--:|"
  ]
  for (const row of rows) {
    const qps = med(row, (s) => s.throughput)
    const cpu = med(row, (s) => s.cpuUsPerQuery)
    lines.push(
      `| ${REL_LABELS[row.target]} | ${fmt(qps)} | ${fmt(med(row, (s) => s.p50Ms), 2)} | ${
        fmt(med(row, (s) => s.p99Ms), 2)
      } | ${fmt(cpu)} | ${fmt(qps / baseQps, 2)} | ${fmt(cpu / baseCpu, 2)} | ${
        row.samples.reduce((a, s) => a + s.failed, 0)
      } |`
    )
  }
  return lines
}

const verdicts = (db: Dialect, rows: ReadonlyArray<Row>): Array<string> => {
  const qps = (name: RelTargetName) => {
    const row = rows.find((r) => r.target === name)
    return row === undefined ? Number.NaN : median(row.samples.map((s) => s.throughput))
  }
  const out: Array<string> = []
  const peers = (["drizzle", "typeorm", "sequelize"] as const).map((p) => [p, qps(p)] as const).filter(([, q]) =>
    !Number.isNaN(q)
  )
  const best = peers.sort((a, b) => b[1] - a[1])[0]
  if (best !== undefined && !Number.isNaN(qps("fastorm"))) {
    const x = qps("fastorm") / best[1]
    out.push(
      `${x >= 1.2 ? "PASS" : "FAIL"} ${db}: FastORM with("posts") ${fmt(qps("fastorm"))} loads/s = ${
        fmt(x, 2)
      }× the best peer (${best[0]} ${fmt(best[1])} loads/s; target ≥ 1.20×)`
    )
  }
  if (!Number.isNaN(qps("fastorm-hand")) && !Number.isNaN(qps("fastorm"))) {
    out.push(
      `INFO ${db}: with("posts") = ${fmt(qps("fastorm") / qps("fastorm-hand"), 2)}× the same two statements by hand`
    )
  }
  return out
}

const main = async () => {
  // `npm run bench` runs this after the other workloads: a run narrowed to some workloads, to SQLite or to targets
  // this workload does not have is not asking for it.
  const workloads = process.env["BENCH_WORKLOADS"]
  if (
    (workloads !== undefined && workloads !== "" && !workloads.split(",").includes("relations")) ||
    DBS.length === 0 || TARGETS.length === 0
  ) {
    log("bench:relations: not asked for by BENCH_WORKLOADS / BENCH_DBS / BENCH_TARGETS; skipped")
    return
  }
  const reuse = process.env["FASTORM_CLUSTER_FILE"]
  const started = Date.now()
  const load0 = loadavg()
  let info: ClusterInfo
  if (reuse !== undefined && reuse !== "") info = loadCluster()
  else {
    log("bench:relations: starting PostgreSQL and MariaDB clusters (primary + 2 replicas each)")
    info = await startClusters({ log })
  }
  const lines: Array<string> = []
  const verdictLines: Array<string> = []
  try {
    for (const db of DBS) {
      const rows = await runDb(db, db === "postgres" ? info.postgres : info.mariadb)
      lines.push(...tableOf(db, rows), "")
      verdictLines.push(...verdicts(db, rows))
    }
  } finally {
    if (reuse === undefined || reuse === "") await stopClusters(info)
  }
  const header = [
    `Run of ${new Date(started).toISOString()}, ${
      Math.round((Date.now() - started) / 1000)
    } s: ${cpus().length} CPUs, node ${process.version}; load average at start ${
      load0.map((l) => l.toFixed(2)).join(" ")
    }, at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}.`,
    `Settings: ${ROUNDS} rounds × ${SECONDS} s per target, interleaved, after 300 warm-up loads; ${CALLERS} concurrent callers; ${USER_ROWS} users, ${PER_USER} posts each; medians over rounds.`,
    ""
  ]
  const report = [...header, ...lines, ...verdictLines].join("\n")
  const here = dirname(fileURLToPath(import.meta.url))
  const results = join(here, here.endsWith(join("build", "src")) ? "../.." : "..", "results")
  mkdirSync(results, { recursive: true })
  writeFileSync(join(results, "relations.md"), report + "\n")
  process.stdout.write(report + "\n")
}

main().catch((error) => {
  log(String(error?.stack ?? error))
  process.exit(1)
})
