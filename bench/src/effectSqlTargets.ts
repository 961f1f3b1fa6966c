/**
 * The raw @effect/sql targets: the client FastORM's adapters make for one node, and the stock clients of
 * @effect/sql-pg and @effect/sql-mysql2, each as two plain clients (replica-1 for reads, the primary for writes).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as MysqlClient from "@effect/sql-mysql2/MysqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import { DatabaseAdapterFactory } from "@fastorm/adapters"
import type { ClusterNodes, NodeInfo } from "@fastorm/test-support"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { effectDriver } from "./harness.js"
import type { Dialect } from "./targetBase.js"
import { closeSoon, POOL_SIZE, STREAM_TABLE, TABLE } from "./targetBase.js"
import type { Target, TargetName } from "./targets.js"
import type { NewUser } from "./workloads.js"

class Replica extends Context.Tag("bench/Replica")<Replica, SqlClient.SqlClient>() {}
class Primary extends Context.Tag("bench/Primary")<Primary, SqlClient.SqlClient>() {}

/** The statement `UserRepo.find` sends, written with the same client's helpers. */
export const findStatement = (sql: SqlClient.SqlClient, id: number) =>
  sql`SELECT * FROM ${sql(TABLE)} WHERE (${sql("id")} = ${id}) LIMIT 1`
/** The statement the counting update sends, likewise. */
export const updateStatement = (sql: SqlClient.SqlClient, id: number, score: number) =>
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

/** The raw @effect/sql client of one node (the adapters' makeClient). */
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

/** The adapters' @effect/sql clients, replica-1 and the primary (`tracer = false`: the tracer disabled). */
export const effectSql = (db: Dialect, nodes: ClusterNodes, rows: number, tracer = true): Promise<Target> =>
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
export const effectSqlStock = (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
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
