/**
 * The "50 users with their posts" workload's shared terms: its tables, the targets and their labels, and the checks
 * every target's load passes (relationsTargets.ts builds FastORM's and the raw driver's, relationsPeers.ts the peers').
 */
import type { Driver } from "./harness.js"

/** The tables of the workload. */
export const USERS = "bench_rel_users"
export const POSTS = "bench_rel_posts"

/** Users per load. */
export const PER_LOAD = 50

/** The targets, in the order of the table. */
export const REL_TARGETS = ["fastorm", "fastorm-hand", "raw-driver", "drizzle", "typeorm", "sequelize"] as const
/** One target's name. */
export type RelTargetName = typeof REL_TARGETS[number]

/** How the report names each target. */
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
export const idsFrom = (first: number) => Array.from({ length: PER_LOAD }, (_, i) => first + i)

/** Every load must bring each user's posts: a target that loses them would be measured doing less. */
export const checked = (users: ReadonlyArray<{ readonly posts: ReadonlyArray<unknown> }>, perUser: number) => {
  if (users.length !== PER_LOAD || users.some((u) => u.posts.length !== perUser)) {
    throw new Error(`expected ${PER_LOAD} users with ${perUser} posts each`)
  }
}

/** The writes slot of a target: the workload has none. */
export const unused = () => Promise.reject(new Error("the relations workload has no writes"))
