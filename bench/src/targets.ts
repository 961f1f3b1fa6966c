/**
 * What is measured: FastORM through its router (fastOrmTargets.ts), the raw @effect/sql client (effectSqlTargets.ts),
 * the raw driver (rawTargets.ts), and the peers (Drizzle, TypeORM, Sequelize: peerTargets.ts), each set up with its
 * own read/write splitting over the same primary and two replicas, with the same pool size per node.
 */
import "reflect-metadata"
import type { ClusterNodes } from "@fastorm/test-support"
import type { AblationName } from "./ablation.js"
import { ABLATION_LABELS, ABLATION_NAMES, makeAblation } from "./ablation.js"
import { effectSql, effectSqlStock, findStatement } from "./effectSqlTargets.js"
import { fastOrm, fastOrmOne, fastOrmSql } from "./fastOrmTargets.js"
import type { Driver } from "./harness.js"
import { drizzle, sequelize, typeorm } from "./peerTargets.js"
import { effectAsyncDriver, rawDriver } from "./rawTargets.js"
import type { Db } from "./targetBase.js"
import { dialectOf } from "./targetBase.js"

export { dialectOf, POOL_SIZE, STREAM_TABLE, TABLE } from "./targetBase.js"
export type { Db, Dialect } from "./targetBase.js"

/** A target ready to run, and how to tear it down. */
export interface Target {
  readonly name: TargetName
  readonly driver: Driver
  readonly close: () => Promise<void>
}

/** The targets of the default run. */
export const MAIN_TARGETS = [
  "fastorm",
  "fastorm-one",
  "fastorm-sql",
  "effect-sql",
  "effect-sql-stock",
  "raw-driver",
  "drizzle",
  "typeorm",
  "sequelize"
] as const

/** The targets of BENCH_ABLATION=1 (see ablation.ts). */
export const ABLATION_TARGETS = [
  "effect-sql",
  ...ABLATION_NAMES,
  "fastorm-sql",
  "fastorm",
  "fastorm-notrace",
  "effect-sql-notrace"
] as const

export const TARGET_NAMES = [
  ...MAIN_TARGETS,
  ...ABLATION_NAMES,
  "fastorm-notrace",
  "fastorm-eventual",
  "fastorm-pool",
  "effect-sql-notrace",
  "effect-async-driver"
] as const
export type TargetName = typeof TARGET_NAMES[number]

/** What each row of the results means. */
export const TARGET_LABELS: Record<TargetName, string> = {
  "fastorm": "(a) FastORM repository via router (UserRepo)",
  "fastorm-one": "(a1) FastORM repository via router, replica-1 only",
  "fastorm-sql": "(a') FastORM router, same SQL (no repo)",
  "effect-sql": "(b) raw @effect/sql client, replica-1",
  "effect-sql-stock": "(b2) stock @effect/sql-pg / -mysql2 client, replica-1",
  "raw-driver": "(c) raw driver (reads on replica-1)",
  "drizzle": "(d) Drizzle (withReplicas)",
  "typeorm": "(e) TypeORM replication",
  "sequelize": "(f) Sequelize replication",
  ...ABLATION_LABELS,
  "fastorm-notrace": "(a) FastORM, tracer disabled",
  "fastorm-eventual": "(a) FastORM, consistency \"eventual\" (no session positions)",
  "fastorm-pool": "(a) FastORM, every statement on the pool (pipelinedConnections: 0)",
  "effect-sql-notrace": "(b) raw @effect/sql, tracer disabled",
  "effect-async-driver": "(c') raw driver inside Effect.async (the Effect floor)"
}

/** Builds one target against a cluster. */
export const makeTarget = (name: TargetName, run: Db, nodes: ClusterNodes, rows: number): Promise<Target> => {
  const db = dialectOf(run)
  switch (name) {
    case "fastorm":
      return fastOrm(nodes, rows)
    case "fastorm-one":
      return fastOrmOne(nodes, rows)
    case "fastorm-sql":
      return fastOrmSql(nodes, rows)
    case "effect-sql":
      return effectSql(db, nodes, rows)
    case "effect-sql-stock":
      return effectSqlStock(db, nodes, rows)
    case "raw-driver":
      return rawDriver(db, nodes, rows)
    case "drizzle":
      return drizzle(db, nodes, rows)
    case "typeorm":
      return typeorm(db, nodes, rows)
    case "sequelize":
      return sequelize(db, nodes, rows)
    case "fastorm-notrace":
      return fastOrm(nodes, rows, "notrace")
    case "fastorm-eventual":
      return fastOrm(nodes, rows, "eventual")
    case "fastorm-pool":
      return fastOrm(nodes, rows, "pool")
    case "effect-async-driver":
      return effectAsyncDriver(db, nodes, rows)
    case "effect-sql-notrace":
      return effectSql(db, nodes, rows, false)
    default:
      return makeAblation(name as AblationName, nodes.replicas[0]!, rows, findStatement).then((t) => ({ name, ...t }))
  }
}
// Shared with the relations workload's targets (relationsTargets.ts, relationsPeers.ts).
export { closeSoon, credentials, mysqlPool, pgPool } from "./targetBase.js"
