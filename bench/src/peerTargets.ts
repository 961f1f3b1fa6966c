/**
 * The peers: Drizzle, TypeORM and Sequelize, each with its own read/write splitting over the primary and both
 * replicas, `POOL_SIZE` connections per node, running its own equivalent of every workload.
 */
import type { ClusterNodes } from "@fastorm/test-support"
import { count as drizzleCount, eq, gt, sum } from "drizzle-orm"
import * as MysqlCore from "drizzle-orm/mysql-core"
import { drizzle as drizzleMysql } from "drizzle-orm/mysql2"
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres"
import * as PgCore from "drizzle-orm/pg-core"
import { col as seqCol, DataTypes, fn as seqFn, Op, Sequelize } from "sequelize"
import { DataSource, EntitySchema, MoreThan } from "typeorm"
import { promiseDriver } from "./harness.js"
import type { Dialect } from "./targetBase.js"
import { closeSoon, credentials, mysqlPool, pgPool, POOL_SIZE, STREAM_TABLE, TABLE } from "./targetBase.js"
import type { Target } from "./targets.js"

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

/** Drizzle 0.45 with `withReplicas`. */
export const drizzle = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
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

/** TypeORM with `replication`. */
export const typeorm = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
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

/** Sequelize 6 with `replication`. */
export const sequelize = async (db: Dialect, nodes: ClusterNodes, rows: number): Promise<Target> => {
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
