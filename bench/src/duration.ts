/**
 * What a run of `npm run bench` is expected to take, printed at its start: the measured rounds (every target that
 * implements a workload, `rounds` × `seconds` each; one whole stream per round on the stream workload) plus rough
 * allowances for seeding, warm-ups and the failover runs. An estimate on a quiet machine, not a promise.
 */
import type { BenchConfig } from "./config.js"
import { SQLITE_TARGETS } from "./sqliteTargets.js"
import type { Db, TargetName } from "./targets.js"
import type { Workload } from "./workloads.js"

/**
 * The targets that implement every workload; the others run only the point read, the mix and the update (and
 * `fastorm-one` the lists).
 */
const FULL: ReadonlyArray<TargetName> = [
  "fastorm",
  "fastorm-notrace",
  "effect-sql",
  "raw-driver",
  "drizzle",
  "typeorm",
  "sequelize"
]

/**
 * The targets with a streaming read, per database (see fastOrmTargets.ts, effectSqlTargets.ts, peerTargets.ts,
 * rawTargets.ts and sqliteTargets.ts).
 */
const STREAMS: Record<Db, ReadonlyArray<TargetName>> = {
  postgres: ["fastorm", "fastorm-notrace", "effect-sql", "raw-driver"],
  pgbouncer: ["fastorm", "fastorm-notrace", "effect-sql", "raw-driver"],
  mariadb: ["fastorm", "fastorm-notrace", "effect-sql", "raw-driver", "drizzle", "typeorm"],
  sqlite: ["fastorm", "raw-driver"]
}

/** Seconds one stream of the stream table takes, warm-up allowances per target, and one failover run. */
const STREAM_SECONDS = 2
const WARMUP_SECONDS = 3
const FAILOVER_SECONDS = 20
const SEED_SECONDS = 10

const runs = (db: Db, target: TargetName, workload: Workload): boolean =>
  workload === "stream"
    ? STREAMS[db].includes(target)
    : FULL.includes(target) || workload === "point-read" || workload === "read-write" || workload === "update" ||
      (target === "fastorm-one" && (workload === "list-50" || workload === "list-500"))

/** The expected seconds of the measured rounds and of everything else, for `config`. */
export const expectedSeconds = (config: BenchConfig): { readonly rounds: number; readonly other: number } => {
  let rounds = 0
  let other = 0
  for (const db of config.dbs) {
    const targets = db === "sqlite" ? config.targets.filter((t) => SQLITE_TARGETS.includes(t)) : config.targets
    other += SEED_SECONDS + (targets.length * WARMUP_SECONDS * config.warmup) / 3000
    for (const workload of config.workloads) {
      const n = targets.filter((t) => runs(db, t, workload)).length
      const each = workload === "stream" ? STREAM_SECONDS : config.seconds
      rounds += n * config.rounds * each
      other += n * (workload === "stream" ? STREAM_SECONDS : config.workloadWarmup)
    }
    if (config.failover && db !== "sqlite") {
      other += FAILOVER_SECONDS *
        ["fastorm", "drizzle", "typeorm", "sequelize"].filter((t) => config.targets.includes(t as TargetName)).length
    }
  }
  return { rounds, other }
}

/** The line main prints before a run. */
export const expectedDurationLine = (config: BenchConfig): string => {
  const { other, rounds } = expectedSeconds(config)
  const min = (s: number) => (s / 60).toFixed(1)
  return `bench: expected about ${min(rounds + other)} min on a quiet machine (${
    min(rounds)
  } min of measured rounds, ` +
    `${min(other)} min of seeding, warm-ups and failover; the relations workload runs after)`
}
