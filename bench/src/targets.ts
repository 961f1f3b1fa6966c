/**
 * What is measured: FastORM through its router, the raw @effect/sql client, the raw driver (rawTargets.ts), and the
 * peers (Drizzle, TypeORM, Sequelize: peerTargets.ts), each set up with its own read/write splitting over the same
 * primary and two replicas, with the same pool size per node.
 */
import "reflect-metadata"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as MysqlClient from "@effect/sql-mysql2/MysqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import { DatabaseAdapterFactory } from "@fastorm/adapters"
import { Database, Model, ReadConnection, Repository, Schema, WriteConnection } from "@fastorm/core"
import { FastOrm } from "@fastorm/replication"
import type { ClusterNodes, NodeInfo } from "@fastorm/test-support"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { AblationName } from "./ablation.js"
import { ABLATION_LABELS, ABLATION_NAMES, makeAblation } from "./ablation.js"
import type { Driver } from "./harness.js"
import { effectDriver } from "./harness.js"
import { drizzle, sequelize, typeorm } from "./peerTargets.js"
import { effectAsyncDriver, rawDriver } from "./rawTargets.js"
import type { Db, Dialect } from "./targetBase.js"
import { closeSoon, dialectOf, POOL_SIZE, STREAM_TABLE, TABLE } from "./targetBase.js"
import type { NewUser } from "./workloads.js"
import { CURSOR_LIMIT } from "./workloads.js"

export { dialectOf, POOL_SIZE, STREAM_TABLE, TABLE } from "./targetBase.js"
export type { Db, Dialect } from "./targetBase.js"

/** The FastORM model of a row. */
export class User extends Model.Class<User>("User")({
  id: Model.Generated(Schema.Int),
  name: Schema.String,
  email: Schema.String,
  status: Schema.String,
  score: Schema.Int
}) {}

/** `UserRepo.find` is what is measured. */
export const UserRepo = Repository.make(User, { table: TABLE, idColumn: "id" })

/** The stream workload's rows. */
const StreamRepo = Repository.make(User, { table: STREAM_TABLE, idColumn: "id" })

// FastORM's keyset cursors are opaque: the cursor workload's "after id n" is the cursor of the page ending at id n,
// collected once per run by `walkCursors` (the seeded ids never change).
const cursors = new Map<number, string>()
const cursorPage = (after: number, limit: number) =>
  Effect.suspend(() => {
    const cursor = cursors.get(after)
    return after === 0 || cursor !== undefined
      ? UserRepo.query().cursor({ after: cursor, limit })
      : Effect.fail(new Error(`no cursor after id ${after}`))
  })

/** Pages through the seeded rows with `cursor()`, keeping each page's next cursor by the page's last id. */
export const walkCursors = (rows: number) =>
  Effect.gen(function*() {
    let after: string | undefined
    for (let n = 0; n < rows - CURSOR_LIMIT; n += CURSOR_LIMIT) {
      const page = yield* UserRepo.query().cursor({ after, limit: CURSOR_LIMIT })
      if (page.next._tag === "None" || page.data.length === 0) return
      after = page.next.value
      cursors.set(page.data[page.data.length - 1]!.id, after)
    }
  })

/** FastORM's side of every workload: the same repository calls on every database. */
export const fastOrmOps = {
  find: (id: number) => UserRepo.find(id),
  // The counting query update is FastORM's plain update; `UserRepo.update(id, patch)` returns the row.
  update: (id: number, score: number) => UserRepo.where("id", id).update({ score }),
  updateReturning: (id: number, score: number) => UserRepo.update(id, { score }),
  list: (status: string, limit: number) => UserRepo.where("status", status).orderBy("id").limit(limit).get(),
  select: (status: string, limit: number) =>
    UserRepo.where("status", status).orderBy("id").limit(limit).select("id", "name").get(),
  paginate: (status: string, page: number, perPage: number) =>
    UserRepo.where("status", status).paginate({ page, perPage }),
  cursor: cursorPage,
  stream: (onRow: (row: unknown) => void) =>
    Stream.runForEach(StreamRepo.query().orderBy("id").stream(), (row) => Effect.sync(() => onRow(row))),
  count: (status: string) => UserRepo.where("status", status).count(),
  groupBy: () => UserRepo.query().groupBy("status").aggregate((a) => ({ n: a.count(), total: a.sum("score") })).get(),
  insert: (row: NewUser) => UserRepo.create(row),
  createMany: (rows: ReadonlyArray<NewUser>) => UserRepo.createMany(rows),
  remove: (id: number) => UserRepo.delete(id),
  transaction: (id: number, score: number) =>
    Database.transaction(Effect.zipRight(UserRepo.findOrFail(id), UserRepo.where("id", id).update({ score })))
}

/** A target ready to run, and how to tear it down. */
export interface Target {
  readonly name: TargetName
  readonly driver: Driver
  readonly close: () => Promise<void>
}

/** The targets of the default run. */
export const MAIN_TARGETS = [
  "fastorm",
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
  "effect-sql-notrace",
  "effect-async-driver"
] as const
export type TargetName = typeof TARGET_NAMES[number]

/** What each row of the results means. */
export const TARGET_LABELS: Record<TargetName, string> = {
  "fastorm": "(a) FastORM repository via router (UserRepo)",
  "fastorm-sql": "(a') FastORM router, same SQL (no repo)",
  "effect-sql": "(b) raw @effect/sql client, replica-1",
  "effect-sql-stock": "(b2) stock @effect/sql-pg / -mysql2 client, replica-1",
  "raw-driver": "(c) raw driver (reads on replica-1)",
  "drizzle": "(d) Drizzle (withReplicas)",
  "typeorm": "(e) TypeORM replication",
  "sequelize": "(f) Sequelize replication",
  ...ABLATION_LABELS,
  "fastorm-notrace": "(a) FastORM, tracer disabled",
  "effect-sql-notrace": "(b) raw @effect/sql, tracer disabled",
  "effect-async-driver": "(c') raw driver inside Effect.async (the Effect floor)"
}

// ---- FastORM ------------------------------------------------------------------------------------------------------

/** The statement `UserRepo.find` sends, written with the same client's helpers. */
const findStatement = (sql: SqlClient.SqlClient, id: number) =>
  sql`SELECT * FROM ${sql(TABLE)} WHERE (${sql("id")} = ${id}) LIMIT 1`
const updateStatement = (sql: SqlClient.SqlClient, id: number, score: number) =>
  sql`UPDATE ${sql(TABLE)} SET ${sql("score")} = ${score} WHERE ${sql("id")} = ${id}`

/** The other workloads as an @effect/sql user writes them: templates on the replica or the primary client. */
const effectSqlOps = (db: Dialect) => ({
  // MariaDB has no UPDATE ... RETURNING: the update and a read of the row in one transaction.
  updateReturning: (id: number, score: number) =>
    Effect.flatMap(Primary, (sql) =>
      db === "postgres"
        ? sql`UPDATE ${sql(TABLE)} SET ${sql("score")} = ${score} WHERE ${sql("id")} = ${id} RETURNING *`
        : sql.withTransaction(Effect.zipRight(updateStatement(sql, id, score), findStatement(sql, id)))),
  list: (status: string, limit: number) =>
    Effect.flatMap(
      Replica,
      (sql) => sql`SELECT * FROM ${sql(TABLE)} WHERE ${sql("status")} = ${status} ORDER BY ${sql("id")} LIMIT ${limit}`
    ),
  select: (status: string, limit: number) =>
    Effect.flatMap(
      Replica,
      (sql) =>
        sql`SELECT ${sql("id")}, ${sql("name")} FROM ${sql(TABLE)} WHERE ${sql("status")} = ${status} ORDER BY ${
          sql("id")
        } LIMIT ${limit}`
    ),
  paginate: (status: string, page: number, perPage: number) =>
    Effect.flatMap(Replica, (sql) =>
      Effect.all([
        sql`SELECT * FROM ${sql(TABLE)} WHERE ${sql("status")} = ${status} ORDER BY ${
          sql("id")
        } LIMIT ${perPage} OFFSET ${(page - 1) * perPage}`,
        sql`SELECT count(*) AS n FROM ${sql(TABLE)} WHERE ${sql("status")} = ${status}`
      ], { concurrency: 2 })),
  cursor: (after: number, limit: number) =>
    Effect.flatMap(
      Replica,
      (sql) => sql`SELECT * FROM ${sql(TABLE)} WHERE ${sql("id")} > ${after} ORDER BY ${sql("id")} LIMIT ${limit}`
    ),
  stream: (onRow: (row: unknown) => void) =>
    Effect.flatMap(Replica, (sql) =>
      Stream.runForEach(
        sql`SELECT * FROM ${sql(STREAM_TABLE)} ORDER BY ${sql("id")}`.stream,
        (row) => Effect.sync(() => onRow(row))
      )),
  count: (status: string) =>
    Effect.flatMap(Replica, (sql) => sql`SELECT count(*) AS n FROM ${sql(TABLE)} WHERE ${sql("status")} = ${status}`),
  groupBy: () =>
    Effect.flatMap(
      Replica,
      (sql) => sql`SELECT status, count(*) AS n, sum(score) AS total FROM ${sql(TABLE)} GROUP BY status`
    ),
  insert: (row: NewUser) =>
    Effect.flatMap(Primary, (sql) => sql`INSERT INTO ${sql(TABLE)} ${sql.insert({ ...row }).returning("*")}`),
  createMany: (rows: ReadonlyArray<NewUser>) =>
    Effect.flatMap(
      Primary,
      (sql) => sql`INSERT INTO ${sql(TABLE)} ${sql.insert(rows.map((r) => ({ ...r }))).returning("*")}`
    ),
  remove: (id: number) => Effect.flatMap(Primary, (sql) => sql`DELETE FROM ${sql(TABLE)} WHERE ${sql("id")} = ${id}`),
  transaction: (id: number, score: number) =>
    Effect.flatMap(
      Primary,
      (sql) => sql.withTransaction(Effect.zipRight(findStatement(sql, id), updateStatement(sql, id, score)))
    )
})

const fastOrmLayer = (nodes: ClusterNodes) =>
  FastOrm.layer({
    name: "bench",
    write: { url: nodes.primary.url, name: "primary" },
    read: nodes.replicas.map((r, i) => ({ url: r.url, name: `replica-${i + 1}` })),
    pool: { poolSize: POOL_SIZE, maxOverflow: 0 }
  })

const fastOrm = async (nodes: ClusterNodes, rows: number, tracer = true): Promise<Target> => {
  const runtime = ManagedRuntime.make(
    tracer ? fastOrmLayer(nodes) : Layer.merge(fastOrmLayer(nodes), Layer.setTracerEnabled(false))
  )
  await runtime.runPromise(walkCursors(rows))
  return {
    name: tracer ? "fastorm" : "fastorm-notrace",
    driver: effectDriver(rows, runtime, fastOrmOps),
    close: closeSoon(() => runtime.dispose())
  }
}

const fastOrmSql = async (nodes: ClusterNodes, rows: number): Promise<Target> => {
  const runtime = ManagedRuntime.make(fastOrmLayer(nodes))
  await runtime.runPromise(Effect.void)
  return {
    name: "fastorm-sql",
    driver: effectDriver(rows, runtime, {
      find: (id) => Effect.flatMap(ReadConnection, (sql) => findStatement(sql, id)),
      update: (id, score) => Effect.flatMap(WriteConnection, (sql) => updateStatement(sql, id, score))
    }),
    close: closeSoon(() => runtime.dispose())
  }
}

// ---- the raw @effect/sql client of one node (the adapters' makeClient) --------------------------------------------

class Replica extends Context.Tag("bench/Replica")<Replica, SqlClient.SqlClient>() {}
class Primary extends Context.Tag("bench/Primary")<Primary, SqlClient.SqlClient>() {}

const nodeClient = (node: NodeInfo, readOnly: boolean) =>
  Effect.flatMap(
    Effect.orDie(
      DatabaseAdapterFactory.create(node.url, { name: node.name, config: { poolSize: POOL_SIZE, maxOverflow: 0 } })
    ),
    (adapter) => Effect.orDie(adapter.makeClient({ readOnly }))
  )

/** Runs the find and update statements on two plain clients: `Replica` (replica-1) and `Primary`. */
const twoClientTarget = async (
  name: TargetName,
  layer: Layer.Layer<Replica | Primary>,
  rows: number,
  db: Dialect
): Promise<Target> => {
  const runtime = ManagedRuntime.make(layer)
  await runtime.runPromise(Effect.void)
  return {
    name,
    driver: effectDriver(rows, runtime, {
      find: (id) => Effect.flatMap(Replica, (sql) => findStatement(sql, id)),
      update: (id, score) => Effect.flatMap(Primary, (sql) => updateStatement(sql, id, score)),
      ...(name === "effect-sql" ? effectSqlOps(db) : {})
    }),
    close: closeSoon(() => runtime.dispose())
  }
}

const effectSql = (db: Dialect, nodes: ClusterNodes, rows: number, tracer = true): Promise<Target> =>
  twoClientTarget(
    tracer ? "effect-sql" : "effect-sql-notrace",
    Layer.mergeAll(
      Layer.scoped(Replica, nodeClient(nodes.replicas[0]!, true)),
      Layer.scoped(Primary, nodeClient(nodes.primary, false)),
      Layer.setTracerEnabled(tracer)
    ).pipe(Layer.provide(Reactivity.layer)),
    rows,
    db
  )

/** The stock clients of @effect/sql-pg and @effect/sql-mysql2 (not FastORM's adapters), on replica-1. */
const effectSqlStock = (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
  const stock = (node: NodeInfo): Effect.Effect<SqlClient.SqlClient, never, Scope.Scope | Reactivity.Reactivity> =>
    db === "postgres"
      ? Effect.orDie(PgClient.make({ url: Redacted.make(node.url), maxConnections: POOL_SIZE }))
      : Effect.orDie(MysqlClient.make({ url: Redacted.make(node.url), maxConnections: POOL_SIZE }))
  return twoClientTarget(
    "effect-sql-stock",
    Layer.mergeAll(
      Layer.scoped(Replica, stock(nodes.replicas[0]!)),
      Layer.scoped(Primary, stock(nodes.primary))
    ).pipe(Layer.provide(Reactivity.layer)),
    rows,
    db
  )
}

/** Builds one target against a cluster. */
export const makeTarget = (name: TargetName, run: Db, nodes: ClusterNodes, rows: number): Promise<Target> => {
  const db = dialectOf(run)
  switch (name) {
    case "fastorm":
      return fastOrm(nodes, rows)
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
      return fastOrm(nodes, rows, false)
    case "effect-async-driver":
      return effectAsyncDriver(db, nodes, rows)
    case "effect-sql-notrace":
      return effectSql(db, nodes, rows, false)
    default:
      return makeAblation(name as AblationName, nodes.replicas[0]!, rows, findStatement).then((t) => ({ name, ...t }))
  }
}
// Shared with relationsTargets.ts.
export { closeSoon, credentials, mysqlPool, pgPool } from "./targetBase.js"
export { fastOrmLayer }
