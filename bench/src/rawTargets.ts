/**
 * The raw drivers: `pg` and mysql2 pools sending the SQL FastORM and the @effect/sql templates compile to (reads on
 * replica-1, writes on the primary), and the same driver inside `Effect.async` (the Effect floor).
 */
import type { ClusterNodes } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type * as Mysql from "mysql2"
import type * as MysqlPromise from "mysql2/promise"
import Cursor from "pg-cursor"
import { effectDriver, promiseDriver } from "./harness.js"
import type { Dialect } from "./targetBase.js"
import { closeSoon, mysqlPool, pgPool, STREAM_TABLE, TABLE } from "./targetBase.js"
import type { Target } from "./targets.js"
import type { NewUser } from "./workloads.js"

/** The statements the driver targets send: the SQL FastORM's find and the @effect/sql templates compile to. */
export const PG_SQL = {
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
export const MYSQL_SQL = {
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

/**
 * The raw driver's callback API inside `Effect.async`, on the same Effect harness as FastORM: the floor any
 * Effect-based client pays on this machine (fiber suspension and resumption per statement), not a peer.
 */
export const effectAsyncDriver = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
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

/** The raw driver of `db`. */
export const rawDriver = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
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
            // FastORM's PostgreSQL stream reads 512 rows per fetch too.
            for (let rows = await cursor.read(512); rows.length > 0; rows = await cursor.read(512)) {
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
