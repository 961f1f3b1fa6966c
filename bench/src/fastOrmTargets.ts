/**
 * FastORM's targets: its repository through the router (the workloads' calls), and the router running the raw
 * client's statements without the repository.
 */
import { Database, Model, ReadConnection, Repository, Schema, WriteConnection } from "@fastorm/core"
import { FastOrm } from "@fastorm/replication"
import type { ClusterNodes } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { findStatement, updateStatement } from "./effectSqlTargets.js"
import { effectDriver } from "./harness.js"
import { closeSoon, POOL_SIZE, STREAM_TABLE, TABLE } from "./targetBase.js"
import type { Target } from "./targets.js"
import type { NewUser } from "./workloads.js"
import { CURSOR_LIMIT } from "./workloads.js"

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

/**
 * FastORM over the cluster: writes on the primary, reads on the replicas (`replicas`: only the first that many), the
 * same pool size per node.
 */
export const fastOrmLayer = (
  nodes: ClusterNodes,
  replicas = nodes.replicas.length,
  consistency: "session" | "eventual" = "session",
  pipelinedConnections?: number
) =>
  FastOrm.layer({
    name: "bench",
    write: { url: nodes.primary.url, name: "primary" },
    read: nodes.replicas.slice(0, replicas).map((r, i) => ({ url: r.url, name: `replica-${i + 1}` })),
    pool: pipelinedConnections === undefined
      ? { poolSize: POOL_SIZE, maxOverflow: 0 }
      : { poolSize: POOL_SIZE, maxOverflow: 0, pipelinedConnections },
    readWrite: { consistency }
  })

/**
 * How a FastORM target differs from the default: the tracer disabled, `consistency: "eventual"`, or every statement
 * on the pool (`pipelinedConnections: 0`: levers 40 and 47's before).
 */
export type FastOrmVariant = "default" | "notrace" | "eventual" | "pool"

const variantNames = {
  default: "fastorm",
  notrace: "fastorm-notrace",
  eventual: "fastorm-eventual",
  pool: "fastorm-pool"
} as const

/**
 * FastORM's repository calls through its router: as an application gets it, or one setting away from it (`notrace`,
 * `eventual`: what session consistency costs each write, BENCHMARKS.md "Where the client CPU goes now").
 */
export const fastOrm = async (nodes: ClusterNodes, rows: number, variant: FastOrmVariant = "default"): Promise<
  Target
> => {
  const layer = fastOrmLayer(
    nodes,
    nodes.replicas.length,
    variant === "eventual" ? "eventual" : "session",
    variant === "pool" ? 0 : undefined
  )
  const runtime = ManagedRuntime.make(
    variant === "notrace" ? Layer.merge(layer, Layer.setTracerEnabled(false)) : layer
  )
  await runtime.runPromise(walkCursors(rows))
  return {
    name: variantNames[variant],
    driver: effectDriver(rows, runtime, fastOrmOps),
    close: closeSoon(() => runtime.dispose())
  }
}

/**
 * FastORM's `find`, lists and plain update through its router with replica-1 as its only replica: the node the raw
 * @effect/sql client (b) and the raw driver (c) read, so that the router-overhead and CPU-per-row targets compare the
 * same work on the same node (over both replicas, a host whose servers share its cores spends more per read:
 * BENCHMARKS.md, "Reproduce").
 */
export const fastOrmOne = async (nodes: ClusterNodes, rows: number): Promise<Target> => {
  const runtime = ManagedRuntime.make(fastOrmLayer(nodes, 1))
  await runtime.runPromise(Effect.void)
  return {
    name: "fastorm-one",
    driver: effectDriver(rows, runtime, { find: fastOrmOps.find, update: fastOrmOps.update, list: fastOrmOps.list }),
    close: closeSoon(() => runtime.dispose())
  }
}

/** FastORM's router running the same statements as the raw client, without the repository. */
export const fastOrmSql = async (nodes: ClusterNodes, rows: number): Promise<Target> => {
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
