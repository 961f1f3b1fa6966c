/**
 * What is measured: FastORM through its router, the raw @effect/sql client, the raw driver, and the peers (Drizzle,
 * TypeORM, Sequelize), each set up with its own read/write splitting over the same primary and two replicas, with
 * the same pool size per node.
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
import { count as drizzleCount, eq, gt, sum } from "drizzle-orm"
import * as MysqlCore from "drizzle-orm/mysql-core"
import { drizzle as drizzleMysql } from "drizzle-orm/mysql2"
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres"
import * as PgCore from "drizzle-orm/pg-core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Mysql from "mysql2"
import type * as MysqlPromise from "mysql2/promise"
import Pg from "pg"
import Cursor from "pg-cursor"
import { col as seqCol, DataTypes, fn as seqFn, Op, Sequelize } from "sequelize"
import { DataSource, EntitySchema, MoreThan } from "typeorm"
import type { AblationName } from "./ablation.js"
import { ABLATION_LABELS, ABLATION_NAMES, makeAblation } from "./ablation.js"
import type { Driver } from "./harness.js"
import { effectDriver, promiseDriver } from "./harness.js"
import type { NewUser } from "./workloads.js"
import { CURSOR_LIMIT } from "./workloads.js"

/** The benchmark's table, with the same name and columns on both databases. */
export const TABLE = "bench_users"
/** The stream workload's table: the same columns, `STREAM_ROWS` rows. */
export const STREAM_TABLE = "bench_stream"

/** Connections per node for every target. */
export const POOL_SIZE = 16

/** What a worker runs against: a cluster, the PostgreSQL cluster through PgBouncer, or an embedded SQLite file. */
export type Db = "postgres" | "mariadb" | "pgbouncer" | "sqlite"

/** The SQL a run speaks: PgBouncer passes PostgreSQL's protocol through. */
export type Dialect = "postgres" | "mariadb"

/** The dialect of a run. */
export const dialectOf = (db: Db): Dialect => db === "mariadb" ? "mariadb" : "postgres"

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

const withTimeout = <A>(p: Promise<A>, ms: number): Promise<A | undefined> =>
  Promise.race([p, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())])

const closeSoon = (f: () => Promise<unknown>) => async () => {
  await withTimeout(f().catch(() => undefined), 5_000)
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

// ---- the raw drivers ----------------------------------------------------------------------------------------------

/** The statements the driver targets send: the SQL FastORM's find and the @effect/sql templates compile to. */
const PG_SQL = {
  find: `SELECT * FROM "${TABLE}" WHERE ("id" = $1) LIMIT 1`,
  update: `UPDATE "${TABLE}" SET "score" = $1 WHERE "id" = $2`,
  updateReturning: `UPDATE "${TABLE}" SET "score" = $1 WHERE "id" = $2 RETURNING *`,
  list: `SELECT * FROM "${TABLE}" WHERE "status" = $1 ORDER BY "id" LIMIT $2`,
  select: `SELECT "id", "name" FROM "${TABLE}" WHERE "status" = $1 ORDER BY "id" LIMIT $2`,
  page: `SELECT * FROM "${TABLE}" WHERE "status" = $1 ORDER BY "id" LIMIT $2 OFFSET $3`,
  cursor: `SELECT * FROM "${TABLE}" WHERE "id" > $1 ORDER BY "id" LIMIT $2`,
  stream: `SELECT * FROM "${STREAM_TABLE}" ORDER BY "id"`,
  count: `SELECT count(*) AS n FROM "${TABLE}" WHERE "status" = $1`,
  groupBy: `SELECT "status", count(*) AS n, sum("score") AS total FROM "${TABLE}" GROUP BY "status"`,
  insert: `INSERT INTO "${TABLE}" ("name", "email", "status", "score") VALUES ($1, $2, $3, $4) RETURNING *`,
  remove: `DELETE FROM "${TABLE}" WHERE "id" = $1`
}
const MYSQL_SQL = {
  find: `SELECT * FROM \`${TABLE}\` WHERE (\`id\` = ?) LIMIT 1`,
  update: `UPDATE \`${TABLE}\` SET \`score\` = ? WHERE \`id\` = ?`,
  list: `SELECT * FROM \`${TABLE}\` WHERE \`status\` = ? ORDER BY \`id\` LIMIT ?`,
  select: `SELECT \`id\`, \`name\` FROM \`${TABLE}\` WHERE \`status\` = ? ORDER BY \`id\` LIMIT ?`,
  page: `SELECT * FROM \`${TABLE}\` WHERE \`status\` = ? ORDER BY \`id\` LIMIT ? OFFSET ?`,
  cursor: `SELECT * FROM \`${TABLE}\` WHERE \`id\` > ? ORDER BY \`id\` LIMIT ?`,
  stream: `SELECT * FROM \`${STREAM_TABLE}\` ORDER BY \`id\``,
  count: `SELECT count(*) AS n FROM \`${TABLE}\` WHERE \`status\` = ?`,
  groupBy: `SELECT \`status\`, count(*) AS n, sum(\`score\`) AS total FROM \`${TABLE}\` GROUP BY \`status\``,
  insert: `INSERT INTO \`${TABLE}\` (\`name\`, \`email\`, \`status\`, \`score\`) VALUES (?, ?, ?, ?) RETURNING *`,
  remove: `DELETE FROM \`${TABLE}\` WHERE \`id\` = ?`
}

/** A multi-row INSERT ... RETURNING * of `n` rows and its parameters. */
const insertMany = (db: Dialect, rows: ReadonlyArray<NewUser>): readonly [string, Array<unknown>] => {
  const params: Array<unknown> = []
  const tuples = rows.map((r) => {
    const base = params.length
    params.push(r.name, r.email, r.status, r.score)
    return db === "postgres" ? `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4})` : "(?, ?, ?, ?)"
  })
  const q = db === "postgres" ? "\"" : "`"
  const columns = ["name", "email", "status", "score"].map((c) => `${q}${c}${q}`).join(", ")
  return [`INSERT INTO ${q}${TABLE}${q} (${columns}) VALUES ${tuples.join(", ")} RETURNING *`, params]
}
const values = (r: NewUser) => [r.name, r.email, r.status, r.score]

const pgPool = (node: NodeInfo): Pg.Pool => {
  const pool = new Pg.Pool({ connectionString: node.url, max: POOL_SIZE })
  pool.on("error", () => undefined)
  return pool
}

const mysqlPool = (node: NodeInfo): Mysql.Pool =>
  Mysql.createPool({ uri: node.url, connectionLimit: POOL_SIZE, maxIdle: POOL_SIZE, supportBigNumbers: true })

/**
 * The raw driver's callback API inside `Effect.async`, on the same Effect harness as FastORM: the floor any
 * Effect-based client pays on this machine (fiber suspension and resumption per statement), not a peer.
 */
const effectAsyncDriver = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
  const runtime = ManagedRuntime.make(Layer.empty)
  const callback = <A>(f: (done: (error: unknown, result?: A) => void) => void) =>
    Effect.async<A, unknown>((resume) => {
      f((error, result) => resume(error ? Effect.fail(error) : Effect.succeed(result as A)))
    })
  if (db === "postgres") {
    const replica = pgPool(nodes.replicas[0]!)
    const primary = pgPool(nodes.primary)
    return {
      name: "effect-async-driver",
      driver: effectDriver(rows, runtime, {
        find: (id) => callback((done) => replica.query(PG_SQL.find, [id], (e, r) => done(e, r?.rows))),
        update: (id, score) => callback((done) => primary.query(PG_SQL.update, [score, id], (e) => done(e)))
      }),
      close: closeSoon(() => Promise.all([replica.end(), primary.end(), runtime.dispose()]))
    }
  }
  const replica = mysqlPool(nodes.replicas[0]!)
  const primary = mysqlPool(nodes.primary)
  return {
    name: "effect-async-driver",
    driver: effectDriver(rows, runtime, {
      find: (id) => callback((done) => replica.execute(MYSQL_SQL.find, [id], (e, r) => done(e, r))),
      update: (id, score) => callback((done) => primary.execute(MYSQL_SQL.update, [score, id], (e) => done(e)))
    }),
    close: closeSoon(() =>
      Promise.all([
        new Promise((r) => replica.end(r)),
        new Promise((r) => primary.end(r)),
        runtime.dispose()
      ])
    )
  }
}

const rawDriver = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
  if (db === "postgres") {
    const replica = pgPool(nodes.replicas[0]!)
    const primary = pgPool(nodes.primary)
    return {
      name: "raw-driver",
      driver: promiseDriver(rows, {
        find: (id) => replica.query(PG_SQL.find, [id]).then((r) => r.rows),
        update: (id, score) => primary.query(PG_SQL.update, [score, id]).then((r) => r.rowCount),
        updateReturning: (id, score) => primary.query(PG_SQL.updateReturning, [score, id]).then((r) => r.rows[0]),
        list: (status, limit) => replica.query(PG_SQL.list, [status, limit]).then((r) => r.rows),
        select: (status, limit) => replica.query(PG_SQL.select, [status, limit]).then((r) => r.rows),
        paginate: (status, page, perPage) =>
          Promise.all([
            replica.query(PG_SQL.page, [status, perPage, (page - 1) * perPage]).then((r) => r.rows),
            replica.query(PG_SQL.count, [status]).then((r) => Number(r.rows[0].n))
          ]),
        cursor: (after, limit) => replica.query(PG_SQL.cursor, [after, limit]).then((r) => r.rows),
        stream: async (onRow) => {
          const client = await replica.connect()
          try {
            const cursor = client.query(new Cursor(PG_SQL.stream))
            // FastORM's PostgreSQL stream reads 128 rows per fetch too.
            for (let rows = await cursor.read(128); rows.length > 0; rows = await cursor.read(128)) {
              for (const row of rows) onRow(row)
            }
            await cursor.close()
          } finally {
            client.release()
          }
        },
        count: (status) => replica.query(PG_SQL.count, [status]).then((r) => Number(r.rows[0].n)),
        groupBy: () => replica.query(PG_SQL.groupBy).then((r) => r.rows),
        insert: (row) => primary.query(PG_SQL.insert, values(row)).then((r) => r.rows[0]),
        createMany: (rows) => primary.query(...insertMany("postgres", rows)).then((r) => r.rows),
        remove: (id) => primary.query(PG_SQL.remove, [id]).then((r) => r.rowCount),
        transaction: async (id, score) => {
          const client = await primary.connect()
          try {
            await client.query("BEGIN")
            await client.query(PG_SQL.find, [id])
            await client.query(PG_SQL.update, [score, id])
            await client.query("COMMIT")
          } catch (e) {
            await client.query("ROLLBACK").catch(() => undefined)
            throw e
          } finally {
            client.release()
          }
        }
      }),
      close: closeSoon(() => Promise.all([replica.end(), primary.end()]))
    }
  }
  const replica = mysqlPool(nodes.replicas[0]!).promise()
  const primary = mysqlPool(nodes.primary).promise()
  /** `f` on one connection of the primary, in a transaction. */
  const inTransaction = async <A>(f: (conn: MysqlPromise.PoolConnection) => Promise<A>): Promise<A> => {
    const conn = await primary.getConnection()
    try {
      await conn.beginTransaction()
      const a = await f(conn)
      await conn.commit()
      return a
    } catch (e) {
      await conn.rollback().catch(() => undefined)
      throw e
    } finally {
      conn.release()
    }
  }
  return {
    name: "raw-driver",
    driver: promiseDriver(rows, {
      find: (id) => replica.execute(MYSQL_SQL.find, [id]).then(([r]) => r),
      update: (id, score) => primary.execute(MYSQL_SQL.update, [score, id]).then(([r]) => (r as any).affectedRows),
      // MariaDB has no UPDATE ... RETURNING.
      updateReturning: (id, score) =>
        inTransaction(async (conn) => {
          await conn.execute(MYSQL_SQL.update, [score, id])
          return conn.execute(MYSQL_SQL.find, [id]).then(([r]) => (r as any)[0])
        }),
      list: (status, limit) => replica.execute(MYSQL_SQL.list, [status, String(limit)]).then(([r]) => r),
      select: (status, limit) => replica.execute(MYSQL_SQL.select, [status, String(limit)]).then(([r]) => r),
      paginate: (status, page, perPage) =>
        Promise.all([
          replica.execute(MYSQL_SQL.page, [status, String(perPage), String((page - 1) * perPage)]).then(([r]) => r),
          replica.execute(MYSQL_SQL.count, [status]).then(([r]) => Number((r as any)[0].n))
        ]),
      cursor: (after, limit) => replica.execute(MYSQL_SQL.cursor, [after, String(limit)]).then(([r]) => r),
      stream: async (onRow) => {
        const conn = await replica.getConnection()
        try {
          // The promise wrapper's connection is the callback one underneath, whose query streams its rows.
          const callbacks = conn.connection as unknown as Mysql.Connection
          for await (const row of callbacks.query(MYSQL_SQL.stream).stream()) onRow(row)
        } finally {
          conn.release()
        }
      },
      count: (status) => replica.execute(MYSQL_SQL.count, [status]).then(([r]) => Number((r as any)[0].n)),
      groupBy: () => replica.execute(MYSQL_SQL.groupBy).then(([r]) => r),
      insert: (row) => primary.execute(MYSQL_SQL.insert, values(row)).then(([r]) => (r as any)[0]),
      createMany: (rows) => primary.query(...insertMany("mariadb", rows)).then(([r]) => r),
      remove: (id) => primary.execute(MYSQL_SQL.remove, [id]).then(([r]) => (r as any).affectedRows),
      transaction: (id, score) =>
        inTransaction(async (conn) => {
          await conn.execute(MYSQL_SQL.find, [id])
          await conn.execute(MYSQL_SQL.update, [score, id])
        })
    }),
    close: closeSoon(() => Promise.all([replica.end(), primary.end()]))
  }
}

// ---- Drizzle ------------------------------------------------------------------------------------------------------

const pgUsers = PgCore.pgTable(TABLE, {
  id: PgCore.serial("id").primaryKey(),
  name: PgCore.text("name").notNull(),
  email: PgCore.text("email").notNull(),
  status: PgCore.text("status").notNull(),
  score: PgCore.integer("score").notNull()
})

const mysqlColumns = {
  id: MysqlCore.int("id").autoincrement().primaryKey(),
  name: MysqlCore.varchar("name", { length: 100 }).notNull(),
  email: MysqlCore.varchar("email", { length: 200 }).notNull(),
  status: MysqlCore.varchar("status", { length: 20 }).notNull(),
  score: MysqlCore.int("score").notNull()
}
const mysqlUsers = MysqlCore.mysqlTable(TABLE, mysqlColumns)
const mysqlStream = MysqlCore.mysqlTable(STREAM_TABLE, mysqlColumns)

const drizzle = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
  if (db === "postgres") {
    const pools = [nodes.primary, ...nodes.replicas].map(pgPool)
    const [primary, ...replicas] = pools.map((client) => drizzlePg({ client }))
    const orm = PgCore.withReplicas(primary!, replicas as [typeof primary & {}, ...Array<typeof primary & {}>])
    return {
      name: "drizzle",
      driver: promiseDriver(rows, {
        find: (id) => orm.select().from(pgUsers).where(eq(pgUsers.id, id)).limit(1),
        update: (id, score) => orm.update(pgUsers).set({ score }).where(eq(pgUsers.id, id)),
        updateReturning: (id, score) => orm.update(pgUsers).set({ score }).where(eq(pgUsers.id, id)).returning(),
        list: (status, limit) =>
          orm.select().from(pgUsers).where(eq(pgUsers.status, status)).orderBy(pgUsers.id).limit(limit),
        select: (status, limit) =>
          orm.select({ id: pgUsers.id, name: pgUsers.name }).from(pgUsers).where(eq(pgUsers.status, status))
            .orderBy(pgUsers.id).limit(limit),
        paginate: (status, page, perPage) =>
          Promise.all([
            orm.select().from(pgUsers).where(eq(pgUsers.status, status)).orderBy(pgUsers.id).limit(perPage)
              .offset((page - 1) * perPage),
            orm.select({ n: drizzleCount() }).from(pgUsers).where(eq(pgUsers.status, status))
          ]),
        cursor: (after, limit) =>
          orm.select().from(pgUsers).where(gt(pgUsers.id, after)).orderBy(pgUsers.id).limit(limit),
        count: (status) => orm.select({ n: drizzleCount() }).from(pgUsers).where(eq(pgUsers.status, status)),
        groupBy: () =>
          orm.select({ status: pgUsers.status, n: drizzleCount(), total: sum(pgUsers.score) }).from(pgUsers)
            .groupBy(pgUsers.status),
        insert: (row) => orm.insert(pgUsers).values(row).returning(),
        createMany: (rows) => orm.insert(pgUsers).values([...rows]).returning(),
        remove: (id) => orm.delete(pgUsers).where(eq(pgUsers.id, id)),
        transaction: (id, score) =>
          orm.transaction(async (tx) => {
            await tx.select().from(pgUsers).where(eq(pgUsers.id, id)).limit(1)
            await tx.update(pgUsers).set({ score }).where(eq(pgUsers.id, id))
          })
      }),
      close: closeSoon(() => Promise.all(pools.map((p) => p.end())))
    }
  }
  const pools = [nodes.primary, ...nodes.replicas].map(mysqlPool)
  const [primary, ...replicas] = pools.map((pool) => drizzleMysql(pool))
  const orm = MysqlCore.withReplicas(primary!, replicas as [typeof primary & {}, ...Array<typeof primary & {}>])
  return {
    name: "drizzle",
    driver: promiseDriver(rows, {
      find: (id) => orm.select().from(mysqlUsers).where(eq(mysqlUsers.id, id)).limit(1),
      update: (id, score) => orm.update(mysqlUsers).set({ score }).where(eq(mysqlUsers.id, id)),
      // Drizzle's MySQL dialect has no RETURNING: the update and a read of the row in one transaction.
      updateReturning: (id, score) =>
        orm.transaction(async (tx) => {
          await tx.update(mysqlUsers).set({ score }).where(eq(mysqlUsers.id, id))
          return tx.select().from(mysqlUsers).where(eq(mysqlUsers.id, id)).limit(1)
        }),
      list: (status, limit) =>
        orm.select().from(mysqlUsers).where(eq(mysqlUsers.status, status)).orderBy(mysqlUsers.id).limit(limit),
      select: (status, limit) =>
        orm.select({ id: mysqlUsers.id, name: mysqlUsers.name }).from(mysqlUsers)
          .where(eq(mysqlUsers.status, status)).orderBy(mysqlUsers.id).limit(limit),
      paginate: (status, page, perPage) =>
        Promise.all([
          orm.select().from(mysqlUsers).where(eq(mysqlUsers.status, status)).orderBy(mysqlUsers.id).limit(perPage)
            .offset((page - 1) * perPage),
          orm.select({ n: drizzleCount() }).from(mysqlUsers).where(eq(mysqlUsers.status, status))
        ]),
      cursor: (after, limit) =>
        orm.select().from(mysqlUsers).where(gt(mysqlUsers.id, after)).orderBy(mysqlUsers.id).limit(limit),
      // Drizzle streams on mysql2 only (`iterator()`).
      stream: async (onRow) => {
        for await (const row of orm.select().from(mysqlStream).orderBy(mysqlStream.id).iterator()) onRow(row)
      },
      count: (status) => orm.select({ n: drizzleCount() }).from(mysqlUsers).where(eq(mysqlUsers.status, status)),
      groupBy: () =>
        orm.select({ status: mysqlUsers.status, n: drizzleCount(), total: sum(mysqlUsers.score) }).from(mysqlUsers)
          .groupBy(mysqlUsers.status),
      // Drizzle's MySQL dialect has no RETURNING: the insert returns the generated ids.
      insert: (row) => orm.insert(mysqlUsers).values(row).$returningId(),
      createMany: (rows) => orm.insert(mysqlUsers).values([...rows]).$returningId(),
      remove: (id) => orm.delete(mysqlUsers).where(eq(mysqlUsers.id, id)),
      transaction: (id, score) =>
        orm.transaction(async (tx) => {
          await tx.select().from(mysqlUsers).where(eq(mysqlUsers.id, id)).limit(1)
          await tx.update(mysqlUsers).set({ score }).where(eq(mysqlUsers.id, id))
        })
    }),
    close: closeSoon(() => Promise.all(pools.map((p) => p.promise().end())))
  }
}

// ---- TypeORM ------------------------------------------------------------------------------------------------------

interface UserRow {
  id: number
  name: string
  email: string
  status: string
  score: number
}

const entity = (name: string, tableName: string) =>
  new EntitySchema<UserRow>({
    name,
    tableName,
    columns: {
      id: { type: Number, primary: true, generated: "increment" },
      name: { type: String },
      email: { type: String },
      status: { type: String },
      score: { type: "int" }
    }
  })
const UserEntity = entity("User", TABLE)
const StreamEntity = entity("StreamUser", STREAM_TABLE)

const credentials = (node: NodeInfo) => {
  const url = new URL(node.url)
  return {
    host: url.hostname,
    port: Number(url.port),
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1)
  }
}

const typeorm = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
  const replication = { master: credentials(nodes.primary), slaves: nodes.replicas.map(credentials) }
  const source = new DataSource(
    db === "postgres"
      ? { type: "postgres", replication, entities: [UserEntity, StreamEntity], poolSize: POOL_SIZE, logging: false }
      : {
        type: "mariadb",
        replication,
        entities: [UserEntity, StreamEntity],
        poolSize: POOL_SIZE,
        logging: false
      }
  )
  await source.initialize()
  const repo = source.getRepository(UserEntity)
  return {
    name: "typeorm",
    driver: promiseDriver(rows, {
      find: (id) => repo.findOneBy({ id }),
      update: (id, score) => repo.update({ id }, { score }),
      // PostgreSQL: the query builder's RETURNING; MariaDB has none: the update and a read in one transaction.
      updateReturning: (id, score) =>
        db === "postgres"
          ? repo.createQueryBuilder().update().set({ score }).where("id = :id", { id }).returning("*").execute()
            .then((r) => r.raw[0])
          : source.transaction(async (manager) => {
            await manager.update(UserEntity, { id }, { score })
            return manager.findOneBy(UserEntity, { id })
          }),
      list: (status, limit) => repo.find({ where: { status }, order: { id: "ASC" }, take: limit }),
      select: (status, limit) =>
        repo.find({ select: { id: true, name: true }, where: { status }, order: { id: "ASC" }, take: limit }),
      paginate: (status, page, perPage) =>
        repo.findAndCount({ where: { status }, order: { id: "ASC" }, skip: (page - 1) * perPage, take: perPage }),
      cursor: (after, limit) => repo.find({ where: { id: MoreThan(after) }, order: { id: "ASC" }, take: limit }),
      // TypeORM streams through mysql2's row stream; on PostgreSQL it needs pg-query-stream, not installed here.
      ...(db === "mariadb"
        ? {
          stream: async (onRow: (row: unknown) => void) => {
            const rows = await source.getRepository(StreamEntity).createQueryBuilder("u").orderBy("u.id").stream()
            for await (const row of rows) onRow(row)
          }
        }
        : {}),
      count: (status) => repo.countBy({ status }),
      groupBy: () =>
        repo.createQueryBuilder("u").select("u.status", "status").addSelect("COUNT(*)", "n")
          .addSelect("SUM(u.score)", "total").groupBy("u.status").getRawMany(),
      // TypeORM's insert returns the generated columns (RETURNING on PostgreSQL, the insert id on MariaDB).
      insert: (row) => repo.insert({ ...row }),
      createMany: (rows) => repo.insert(rows.map((r) => ({ ...r }))),
      remove: (id) => repo.delete({ id }),
      transaction: (id, score) =>
        source.transaction(async (manager) => {
          await manager.findOneBy(UserEntity, { id })
          await manager.update(UserEntity, { id }, { score })
        })
    }),
    close: closeSoon(() => source.destroy())
  }
}

// ---- Sequelize ----------------------------------------------------------------------------------------------------

const sequelize = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
  const primary = credentials(nodes.primary)
  const orm = new Sequelize({
    dialect: db === "postgres" ? "postgres" : "mysql",
    database: primary.database,
    replication: {
      read: nodes.replicas.map(credentials),
      write: primary
    },
    pool: { max: POOL_SIZE, min: 0, idle: 30_000 },
    logging: false
  })
  const UserModel = orm.define("User", {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    name: { type: DataTypes.STRING },
    email: { type: DataTypes.STRING },
    status: { type: DataTypes.STRING },
    score: { type: DataTypes.INTEGER }
  }, { tableName: TABLE, timestamps: false })
  return {
    name: "sequelize",
    driver: promiseDriver(rows, {
      find: (id) => UserModel.findByPk(id),
      update: (id, score) => UserModel.update({ score }, { where: { id } }),
      // PostgreSQL: `returning: true`; MySQL has none: the update and a read in one transaction.
      updateReturning: (id, score) =>
        db === "postgres"
          ? UserModel.update({ score }, { where: { id }, returning: true })
          : orm.transaction(async (transaction) => {
            await UserModel.update({ score }, { where: { id }, transaction })
            return UserModel.findByPk(id, { transaction })
          }),
      list: (status, limit) => UserModel.findAll({ where: { status }, order: [["id", "ASC"]], limit }),
      select: (status, limit) =>
        UserModel.findAll({ attributes: ["id", "name"], where: { status }, order: [["id", "ASC"]], limit }),
      paginate: (status, page, perPage) =>
        UserModel.findAndCountAll({
          where: { status },
          order: [["id", "ASC"]],
          limit: perPage,
          offset: (page - 1) * perPage
        }),
      cursor: (after, limit) => UserModel.findAll({ where: { id: { [Op.gt]: after } }, order: [["id", "ASC"]], limit }),
      // Sequelize has no streaming read.
      count: (status) => UserModel.count({ where: { status } }),
      groupBy: () =>
        UserModel.findAll({
          attributes: ["status", [seqFn("COUNT", seqCol("id")), "n"], [seqFn("SUM", seqCol("score")), "total"]],
          group: ["status"],
          raw: true
        }),
      insert: (row) => UserModel.create({ ...row }),
      createMany: (rows) => UserModel.bulkCreate(rows.map((r) => ({ ...r }))),
      remove: (id) => UserModel.destroy({ where: { id } }),
      transaction: (id, score) =>
        orm.transaction(async (transaction) => {
          await UserModel.findByPk(id, { transaction })
          await UserModel.update({ score }, { where: { id }, transaction })
        })
    }),
    close: closeSoon(() => orm.close())
  }
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
export { closeSoon, credentials, fastOrmLayer, mysqlPool, pgPool } // shared with relationsTargets.ts
