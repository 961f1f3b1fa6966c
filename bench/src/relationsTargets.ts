/**
 * The "50 users with their posts" workload's targets: FastORM's `with("posts")` through its router, the same two
 * statements written by hand through the same router, the raw driver's two statements on replica-1, and the peers'
 * eager loading (Drizzle's relational `with`, TypeORM's `relations`, Sequelize's `include`), each with its own
 * read/write splitting over the same primary and two replicas, pools of 16 per node.
 */
import "reflect-metadata"
import { Model, Relations, Repository, Schema } from "@fastorm/core"
import type { ClusterNodes } from "@fastorm/test-support"
import { inArray, relations } from "drizzle-orm"
import * as MysqlCore from "drizzle-orm/mysql-core"
import { drizzle as drizzleMysql } from "drizzle-orm/mysql2"
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres"
import * as PgCore from "drizzle-orm/pg-core"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { DataTypes, Op, Sequelize } from "sequelize"
import { DataSource, EntitySchema, In } from "typeorm"
import { fastOrmLayer } from "./fastOrmTargets.js"
import type { Driver } from "./harness.js"
import { effectDriver, promiseDriver } from "./harness.js"
import type { Dialect } from "./targets.js"
import { closeSoon, credentials, mysqlPool, pgPool, POOL_SIZE } from "./targets.js"

/** The tables of the workload. */
export const USERS = "bench_rel_users"
export const POSTS = "bench_rel_posts"

/** Users per load. */
export const PER_LOAD = 50

/** The targets, in the order of the table. */
export const REL_TARGETS = ["fastorm", "fastorm-hand", "raw-driver", "drizzle", "typeorm", "sequelize"] as const
export type RelTargetName = typeof REL_TARGETS[number]

export const REL_LABELS: Record<RelTargetName, string> = {
  "fastorm": "(a) FastORM Users.whereIn(ids).with(\"posts\")",
  "fastorm-hand": "(a2) FastORM, the two queries by hand",
  "raw-driver": "(c) raw driver, two queries, replica-1",
  "drizzle": "(d) Drizzle withReplicas, query.users.findMany({ with })",
  "typeorm": "(e) TypeORM replication, find({ relations })",
  "sequelize": "(f) Sequelize replication, findAll({ include })"
}

/** A target ready to run. */
export interface RelTarget {
  readonly name: RelTargetName
  readonly driver: Driver
  readonly close: () => Promise<void>
}

/** The ids of one load: `PER_LOAD` consecutive users from `first`. */
const idsFrom = (first: number) => Array.from({ length: PER_LOAD }, (_, i) => first + i)

/** Every load must bring each user's posts: a target that loses them would be measured doing less. */
const checked = (users: ReadonlyArray<{ readonly posts: ReadonlyArray<unknown> }>, perUser: number) => {
  if (users.length !== PER_LOAD || users.some((u) => u.posts.length !== perUser)) {
    throw new Error(`expected ${PER_LOAD} users with ${perUser} posts each`)
  }
}

const unused = () => Promise.reject(new Error("the relations workload has no writes"))

// ---- FastORM ------------------------------------------------------------------------------------------------------

class BenchUser extends Model.Class<BenchUser>("BenchUser")({
  id: Model.Generated(Schema.Int),
  name: Schema.String
}) {}

class BenchPost extends Model.Class<BenchPost>("BenchPost")({
  id: Model.Generated(Schema.Int),
  userId: Schema.Int,
  title: Schema.String
}) {}

const UserRepo = Repository.make(BenchUser, { table: USERS, idColumn: "id" })
const PostRepo = Repository.make(BenchPost, { table: POSTS, idColumn: "id" })
const Users = Relations.define(UserRepo, { posts: Relations.hasMany(PostRepo, { from: "id", to: "userId" }) })

/** The two statements by hand: the users, then their posts by `whereIn`, grouped per user. */
const byHand = (ids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const users = yield* UserRepo.query().whereIn("id", ids).get()
    const posts = yield* PostRepo.query().whereIn("userId", users.map((u) => u.id)).orderBy("id").get()
    const byUser = new Map<number, Array<BenchPost>>()
    for (const post of posts) {
      const list = byUser.get(post.userId)
      if (list === undefined) byUser.set(post.userId, [post])
      else list.push(post)
    }
    return users.map((u) => Object.assign(u, { posts: byUser.get(u.id) ?? [] }))
  })

const fastOrm = async (nodes: ClusterNodes, users: number, perUser: number, hand: boolean): Promise<RelTarget> => {
  const runtime = ManagedRuntime.make(fastOrmLayer(nodes))
  await runtime.runPromise(Effect.void)
  return {
    name: hand ? "fastorm-hand" : "fastorm",
    driver: effectDriver(users - PER_LOAD + 1, runtime, {
      find: (first) =>
        Effect.map(
          hand ? byHand(idsFrom(first)) : Users.query().whereIn("id", idsFrom(first)).with("posts").get(),
          (loaded) => checked(loaded, perUser)
        ),
      update: () => Effect.die("no writes")
    }),
    close: closeSoon(() => runtime.dispose())
  }
}

// ---- the raw driver -----------------------------------------------------------------------------------------------

const rawDriver = async (db: Dialect, nodes: ClusterNodes, users: number, perUser: number): Promise<RelTarget> => {
  const group = (userRows: ReadonlyArray<any>, postRows: ReadonlyArray<any>) => {
    const byUser = new Map<number, Array<any>>()
    for (const post of postRows) {
      const list = byUser.get(post.userId)
      if (list === undefined) byUser.set(post.userId, [post])
      else list.push(post)
    }
    return userRows.map((u) => ({ ...u, posts: byUser.get(u.id) ?? [] }))
  }
  if (db === "postgres") {
    const pool = pgPool(nodes.replicas[0]!)
    return {
      name: "raw-driver",
      driver: promiseDriver(users - PER_LOAD + 1, {
        find: async (first) => {
          const ids = idsFrom(first)
          const u = await pool.query(`SELECT * FROM "${USERS}" WHERE "id" = ANY($1)`, [ids])
          const p = await pool.query(`SELECT * FROM "${POSTS}" WHERE "userId" = ANY($1) ORDER BY "id"`, [ids])
          checked(group(u.rows, p.rows), perUser)
        },
        update: unused
      }),
      close: closeSoon(() => pool.end())
    }
  }
  const pool = mysqlPool(nodes.replicas[0]!).promise()
  const list = Array.from({ length: PER_LOAD }, () => "?").join(", ")
  return {
    name: "raw-driver",
    driver: promiseDriver(users - PER_LOAD + 1, {
      find: async (first) => {
        const ids = idsFrom(first)
        const [u] = await pool.execute(`SELECT * FROM \`${USERS}\` WHERE \`id\` IN (${list})`, ids)
        const [p] = await pool.execute(`SELECT * FROM \`${POSTS}\` WHERE \`userId\` IN (${list}) ORDER BY \`id\``, ids)
        checked(group(u as Array<any>, p as Array<any>), perUser)
      },
      update: unused
    }),
    close: closeSoon(() => pool.end())
  }
}

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

const drizzle = async (db: Dialect, nodes: ClusterNodes, users: number, perUser: number): Promise<RelTarget> => {
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

const typeorm = async (db: Dialect, nodes: ClusterNodes, users: number, perUser: number): Promise<RelTarget> => {
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

const sequelize = async (db: Dialect, nodes: ClusterNodes, users: number, perUser: number): Promise<RelTarget> => {
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

/** Builds one target. */
export const makeRelTarget = (
  name: RelTargetName,
  db: Dialect,
  nodes: ClusterNodes,
  users: number,
  perUser: number
): Promise<RelTarget> => {
  switch (name) {
    case "fastorm":
      return fastOrm(nodes, users, perUser, false)
    case "fastorm-hand":
      return fastOrm(nodes, users, perUser, true)
    case "raw-driver":
      return rawDriver(db, nodes, users, perUser)
    case "drizzle":
      return drizzle(db, nodes, users, perUser)
    case "typeorm":
      return typeorm(db, nodes, users, perUser)
    case "sequelize":
      return sequelize(db, nodes, users, perUser)
  }
}
