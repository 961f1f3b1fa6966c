/**
 * The SQLite run: FastORM on its default (the embedded database a new user starts with: `FastOrm.layer` with a
 * writer and a read-only reader on one WAL file) against Drizzle on better-sqlite3 and raw better-sqlite3 (prepared
 * statements), all on one file. The peers' connections get the same journal (WAL) and synchronous level (NORMAL) as
 * FastORM's, so every stack pays for the same durability.
 */
import { FastOrm } from "@fastorm/replication"
import BetterSqlite3 from "better-sqlite3"
import { count as drizzleCount, eq, gt, sum } from "drizzle-orm"
import { drizzle } from "drizzle-orm/better-sqlite3"
import * as SqliteCore from "drizzle-orm/sqlite-core"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { fastOrmOps, walkCursors } from "./fastOrmTargets.js"
import { effectDriver, promiseDriver } from "./harness.js"
import type { Target, TargetName } from "./targets.js"
import { STREAM_TABLE, TABLE } from "./targets.js"
import type { NewUser } from "./workloads.js"
import { STREAM_ROWS } from "./workloads.js"

/** The targets of the SQLite run. */
export const SQLITE_TARGETS: ReadonlyArray<TargetName> = ["fastorm", "raw-driver", "drizzle"]

const open = (file: string) => {
  const db = new BetterSqlite3(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("busy_timeout = 5000")
  return db
}

const BATCH = 1000

/** Creates and fills the table (ids 1..rows), and the stream workload's table when asked. */
export const seedSqlite = (file: string, rows: number, stream: boolean): void => {
  const db = open(file)
  try {
    // The stream table exists on every run (the raw target prepares its statement up front), filled when streamed.
    for (const [table, n] of [[TABLE, rows], [STREAM_TABLE, stream ? STREAM_ROWS : 0]] as const) {
      db.exec(`DROP TABLE IF EXISTS ${table}`)
      db.exec(
        `CREATE TABLE ${table} (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT NOT NULL, status TEXT NOT NULL, score INTEGER NOT NULL)`
      )
      // One multi-row insert per batch, all in one transaction.
      const insert = db.prepare(
        `INSERT INTO ${table} (name, email, status, score) VALUES ${Array(BATCH).fill("(?, ?, ?, ?)").join(", ")}`
      )
      const single = db.prepare(`INSERT INTO ${table} (name, email, status, score) VALUES (?, ?, ?, ?)`)
      const row = (id: number) => [`user ${id}`, `user${id}@example.com`, id % 3 === 0 ? "idle" : "active", id]
      db.transaction(() => {
        let id = 1
        for (; id + BATCH - 1 <= n; id += BATCH) {
          insert.run(Array.from({ length: BATCH }, (_, i) => row(id + i)).flat())
        }
        for (; id <= n; id++) single.run(row(id))
      })()
    }
    db.exec(`ANALYZE`)
  } finally {
    db.close()
  }
}

const fastOrm = async (file: string, rows: number): Promise<Target> => {
  const url = `sqlite:///${file}`
  const runtime = ManagedRuntime.make(
    FastOrm.layer({ name: "bench", write: { url, name: "writer" }, read: [{ url, name: "reader" }] })
  )
  await runtime.runPromise(walkCursors(rows))
  return {
    name: "fastorm",
    driver: effectDriver(rows, runtime, fastOrmOps),
    close: () => runtime.dispose()
  }
}

const values = (r: NewUser) => [r.name, r.email, r.status, r.score]

const raw = (file: string, rows: number): Target => {
  const db = open(file)
  const find = db.prepare(`SELECT * FROM ${TABLE} WHERE id = ? LIMIT 1`)
  const update = db.prepare(`UPDATE ${TABLE} SET score = ? WHERE id = ?`)
  const updateReturning = db.prepare(`UPDATE ${TABLE} SET score = ? WHERE id = ? RETURNING *`)
  const list = db.prepare(`SELECT * FROM ${TABLE} WHERE status = ? ORDER BY id LIMIT ?`)
  const select = db.prepare(`SELECT id, name FROM ${TABLE} WHERE status = ? ORDER BY id LIMIT ?`)
  const page = db.prepare(`SELECT * FROM ${TABLE} WHERE status = ? ORDER BY id LIMIT ? OFFSET ?`)
  const cursor = db.prepare(`SELECT * FROM ${TABLE} WHERE id > ? ORDER BY id LIMIT ?`)
  const stream = db.prepare(`SELECT * FROM ${STREAM_TABLE} ORDER BY id`)
  const count = db.prepare(`SELECT count(*) AS n FROM ${TABLE} WHERE status = ?`)
  const groupBy = db.prepare(`SELECT status, count(*) AS n, sum(score) AS total FROM ${TABLE} GROUP BY status`)
  const insert = db.prepare(`INSERT INTO ${TABLE} (name, email, status, score) VALUES (?, ?, ?, ?) RETURNING *`)
  const remove = db.prepare(`DELETE FROM ${TABLE} WHERE id = ?`)
  const insertMany = db.transaction((rs: ReadonlyArray<NewUser>) => rs.map((r) => insert.get(...values(r))))
  const transaction = db.transaction((id: number, score: number) => {
    find.get(id)
    update.run(score, id)
  })
  return {
    name: "raw-driver",
    driver: promiseDriver(rows, {
      find: async (id) => find.get(id),
      update: async (id, score) => update.run(score, id).changes,
      updateReturning: async (id, score) => updateReturning.get(score, id),
      list: async (status, limit) => list.all(status, limit),
      select: async (status, limit) => select.all(status, limit),
      paginate: async (status, p, perPage) => [
        page.all(status, perPage, (p - 1) * perPage),
        (count.get(status) as { n: number }).n
      ],
      cursor: async (after, limit) => cursor.all(after, limit),
      stream: async (onRow) => {
        for (const row of stream.iterate()) onRow(row)
      },
      count: async (status) => (count.get(status) as { n: number }).n,
      groupBy: async () => groupBy.all(),
      insert: async (row) => insert.get(...values(row)),
      createMany: async (rs) => insertMany(rs),
      remove: async (id) => remove.run(id).changes,
      transaction: async (id, score) => transaction(id, score)
    }),
    close: async () => {
      db.close()
    }
  }
}

const users = SqliteCore.sqliteTable(TABLE, {
  id: SqliteCore.integer("id").primaryKey({ autoIncrement: true }),
  name: SqliteCore.text("name").notNull(),
  email: SqliteCore.text("email").notNull(),
  status: SqliteCore.text("status").notNull(),
  score: SqliteCore.integer("score").notNull()
})

const drizzleTarget = (file: string, rows: number): Target => {
  const client = open(file)
  const orm = drizzle(client)
  return {
    name: "drizzle",
    driver: promiseDriver(rows, {
      find: async (id) => orm.select().from(users).where(eq(users.id, id)).limit(1).all(),
      update: async (id, score) => orm.update(users).set({ score }).where(eq(users.id, id)).run(),
      updateReturning: async (id, score) => orm.update(users).set({ score }).where(eq(users.id, id)).returning().get(),
      list: async (status, limit) =>
        orm.select().from(users).where(eq(users.status, status)).orderBy(users.id).limit(limit).all(),
      select: async (status, limit) =>
        orm.select({ id: users.id, name: users.name }).from(users).where(eq(users.status, status))
          .orderBy(users.id).limit(limit).all(),
      paginate: async (status, page, perPage) => [
        orm.select().from(users).where(eq(users.status, status)).orderBy(users.id).limit(perPage)
          .offset((page - 1) * perPage).all(),
        orm.select({ n: drizzleCount() }).from(users).where(eq(users.status, status)).get()
      ],
      cursor: async (after, limit) =>
        orm.select().from(users).where(gt(users.id, after)).orderBy(users.id).limit(limit).all(),
      // Drizzle's better-sqlite3 driver has no streaming read.
      count: async (status) => orm.select({ n: drizzleCount() }).from(users).where(eq(users.status, status)).all(),
      groupBy: async () =>
        orm.select({ status: users.status, n: drizzleCount(), total: sum(users.score) }).from(users)
          .groupBy(users.status).all(),
      insert: async (row) => orm.insert(users).values(row).returning().all(),
      createMany: async (rs) => orm.insert(users).values([...rs]).returning().all(),
      remove: async (id) => orm.delete(users).where(eq(users.id, id)).run(),
      transaction: async (id, score) =>
        orm.transaction((tx) => {
          tx.select().from(users).where(eq(users.id, id)).limit(1).all()
          tx.update(users).set({ score }).where(eq(users.id, id)).run()
        })
    }),
    close: async () => {
      client.close()
    }
  }
}

/** Builds one target of the SQLite run. */
export const makeSqliteTarget = (name: TargetName, file: string, rows: number): Promise<Target> => {
  switch (name) {
    case "fastorm":
      return fastOrm(file, rows)
    case "raw-driver":
      return Promise.resolve(raw(file, rows))
    case "drizzle":
      return Promise.resolve(drizzleTarget(file, rows))
    default:
      return Promise.reject(new Error(`${name} has no SQLite target`))
  }
}
