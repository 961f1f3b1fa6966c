/**
 * The peers' targets of the "50 users with their posts" workload: Drizzle's relational `with`, TypeORM's `relations`
 * and Sequelize's `include`, each with its own read/write splitting over the same primary and two replicas, pools of
 * 16 per node.
 */
import "reflect-metadata"
import type { ClusterNodes } from "@fastorm/test-support"
import { inArray, relations } from "drizzle-orm"
import * as MysqlCore from "drizzle-orm/mysql-core"
import { drizzle as drizzleMysql } from "drizzle-orm/mysql2"
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres"
import * as PgCore from "drizzle-orm/pg-core"
import { DataTypes, Op, Sequelize } from "sequelize"
import { DataSource, EntitySchema, In } from "typeorm"
import { promiseDriver } from "./harness.js"
import type { RelTarget } from "./relationsWorkload.js"
import { checked, idsFrom, PER_LOAD, POSTS, unused, USERS } from "./relationsWorkload.js"
import type { Dialect } from "./targets.js"
import { closeSoon, credentials, mysqlPool, pgPool, POOL_SIZE } from "./targets.js"

// ---- Drizzle ------------------------------------------------------------------------------------------------------

const pgUsers = PgCore.pgTable(USERS, { id: PgCore.serial("id").primaryKey(), name: PgCore.text("name").notNull() })
const pgPosts = PgCore.pgTable(POSTS, {
  id: PgCore.serial("id").primaryKey(),
  userId: PgCore.integer("userId").notNull(),
  title: PgCore.text("title").notNull()
})
const pgSchema = {
  users: pgUsers,
  posts: pgPosts,
  usersRelations: relations(pgUsers, ({ many }) => ({ posts: many(pgPosts) })),
  postsRelations: relations(pgPosts, ({ one }) => ({
    user: one(pgUsers, { fields: [pgPosts.userId], references: [pgUsers.id] })
  }))
}

const myUsers = MysqlCore.mysqlTable(USERS, {
  id: MysqlCore.int("id").autoincrement().primaryKey(),
  name: MysqlCore.varchar("name", { length: 100 }).notNull()
})
const myPosts = MysqlCore.mysqlTable(POSTS, {
  id: MysqlCore.int("id").autoincrement().primaryKey(),
  userId: MysqlCore.int("userId").notNull(),
  title: MysqlCore.varchar("title", { length: 100 }).notNull()
})
const mySchema = {
  users: myUsers,
  posts: myPosts,
  usersRelations: relations(myUsers, ({ many }) => ({ posts: many(myPosts) })),
  postsRelations: relations(myPosts, ({ one }) => ({
    user: one(myUsers, { fields: [myPosts.userId], references: [myUsers.id] })
  }))
}

/** Drizzle's relational query with its read replicas. */
export const drizzle = async (db: Dialect, nodes: ClusterNodes, users: number, perUser: number): Promise<RelTarget> => {
  const all = [nodes.primary, ...nodes.replicas]
  if (db === "postgres") {
    const pools = all.map(pgPool)
    const [primary, ...replicas] = pools.map((client) => drizzlePg({ client, schema: pgSchema }))
    const orm = PgCore.withReplicas(primary!, replicas as [typeof primary & {}, ...Array<typeof primary & {}>])
    return {
      name: "drizzle",
      driver: promiseDriver(users - PER_LOAD + 1, {
        find: async (first) =>
          checked(
            await orm.query.users.findMany({ where: inArray(pgUsers.id, idsFrom(first)), with: { posts: true } }),
            perUser
          ),
        update: unused
      }),
      close: closeSoon(() => Promise.all(pools.map((p) => p.end())))
    }
  }
  const pools = all.map(mysqlPool)
  // MariaDB has no LATERAL joins: Drizzle's "planetscale" mode builds the relational query without them.
  const [primary, ...replicas] = pools.map((pool) => drizzleMysql(pool, { schema: mySchema, mode: "planetscale" }))
  const orm = MysqlCore.withReplicas(primary!, replicas as [typeof primary & {}, ...Array<typeof primary & {}>])
  return {
    name: "drizzle",
    driver: promiseDriver(users - PER_LOAD + 1, {
      find: async (first) =>
        checked(
          await orm.query.users.findMany({ where: inArray(myUsers.id, idsFrom(first)), with: { posts: true } }),
          perUser
        ),
      update: unused
    }),
    close: closeSoon(() => Promise.all(pools.map((p) => p.promise().end())))
  }
}

// ---- TypeORM ------------------------------------------------------------------------------------------------------

const UserEntity = new EntitySchema<{ id: number; name: string; posts: Array<unknown> }>({
  name: "RelUser",
  tableName: USERS,
  columns: { id: { type: Number, primary: true, generated: "increment" }, name: { type: String } },
  relations: { posts: { type: "one-to-many", target: "RelPost", inverseSide: "user" } }
})
const PostEntity = new EntitySchema<{ id: number; userId: number; title: string; user: unknown }>({
  name: "RelPost",
  tableName: POSTS,
  columns: {
    id: { type: Number, primary: true, generated: "increment" },
    userId: { type: Number },
    title: { type: String }
  },
  relations: { user: { type: "many-to-one", target: "RelUser", joinColumn: { name: "userId" } } }
})

/** TypeORM's `find({ relations })` with its replication. */
export const typeorm = async (db: Dialect, nodes: ClusterNodes, users: number, perUser: number): Promise<RelTarget> => {
  const replication = { master: credentials(nodes.primary), slaves: nodes.replicas.map(credentials) }
  const entities = [UserEntity, PostEntity]
  const source = new DataSource(
    db === "postgres"
      ? { type: "postgres", replication, entities, poolSize: POOL_SIZE, logging: false }
      : { type: "mariadb", replication, entities, poolSize: POOL_SIZE, logging: false }
  )
  await source.initialize()
  const repo = source.getRepository(UserEntity)
  return {
    name: "typeorm",
    driver: promiseDriver(users - PER_LOAD + 1, {
      find: async (first) =>
        checked(await repo.find({ where: { id: In(idsFrom(first)) }, relations: { posts: true } }), perUser),
      update: unused
    }),
    close: closeSoon(() => source.destroy())
  }
}

// ---- Sequelize ----------------------------------------------------------------------------------------------------

/** Sequelize's `findAll({ include })` with its replication. */
export const sequelize = async (
  db: Dialect,
  nodes: ClusterNodes,
  users: number,
  perUser: number
): Promise<RelTarget> => {
  const primary = credentials(nodes.primary)
  const orm = new Sequelize({
    dialect: db === "postgres" ? "postgres" : "mysql",
    database: primary.database,
    replication: { read: nodes.replicas.map(credentials), write: primary },
    pool: { max: POOL_SIZE, min: 0, idle: 30_000 },
    logging: false
  })
  const UserModel = orm.define("RelUser", {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    name: { type: DataTypes.STRING }
  }, { tableName: USERS, timestamps: false })
  const PostModel = orm.define("RelPost", {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    userId: { type: DataTypes.INTEGER },
    title: { type: DataTypes.STRING }
  }, { tableName: POSTS, timestamps: false })
  UserModel.hasMany(PostModel, { as: "posts", foreignKey: "userId" })
  return {
    name: "sequelize",
    driver: promiseDriver(users - PER_LOAD + 1, {
      find: async (first) => {
        const rows = await UserModel.findAll({
          where: { id: { [Op.in]: idsFrom(first) } },
          include: [{ model: PostModel, as: "posts" }]
        })
        checked(rows.map((r) => r.get({ plain: true }) as { posts: Array<unknown> }), perUser)
      },
      update: unused
    }),
    close: closeSoon(() => orm.close())
  }
}
