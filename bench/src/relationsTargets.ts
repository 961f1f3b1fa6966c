/**
 * The "50 users with their posts" workload's targets: FastORM's `with("posts")` through its router, the same two
 * statements written by hand through the same router and the raw driver's two statements on replica-1; the peers'
 * eager loading is in relationsPeers.ts.
 */
import { Model, Relations, Repository, Schema } from "@fastorm/core"
import type { ClusterNodes } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { fastOrmLayer } from "./fastOrmTargets.js"
import { effectDriver, promiseDriver } from "./harness.js"
import { drizzle, sequelize, typeorm } from "./relationsPeers.js"
import type { RelTarget, RelTargetName } from "./relationsWorkload.js"
import { checked, idsFrom, PER_LOAD, POSTS, unused, USERS } from "./relationsWorkload.js"
import type { Dialect } from "./targets.js"
import { closeSoon, mysqlPool, pgPool } from "./targets.js"

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
