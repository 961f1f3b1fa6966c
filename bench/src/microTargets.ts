/**
 * The micro benchmark's targets (`micro.ts`): each FastORM layer, and the raw @effect/sql client beside it, over an
 * in-process fake driver that answers on the next turn of the event loop, and one round of a target's operation.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import { NodeClient, SqlCompiler } from "@fastorm/adapters"
import { Database, Model, ReadConnection, Repository, Schema, WriteConnection } from "@fastorm/core"
import { HealthMonitor, HealthState } from "@fastorm/health"
import type { NodeHealth } from "@fastorm/health"
import { ConnectionRouter } from "@fastorm/replication"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"

class User extends Model.Class<User>("User")({
  id: Model.Generated(Schema.Int),
  name: Schema.String,
  email: Schema.String,
  status: Schema.String,
  score: Schema.Int
}) {}
const UserRepo = Repository.make(User, { table: "bench_users", idColumn: "id" })

const row = (id: number) => ({ id, name: `user ${id}`, email: `u${id}@example.com`, status: "active", score: 7 })

const fifty = Array.from({ length: 50 }, (_, i) => row(i + 1))

/** The rows a statement gets: 50 for a list by status, a log position for a position read, else one row. */
const answer = (sql: string, params: ReadonlyArray<unknown>): ReadonlyArray<any> =>
  sql.includes("wal_") ? [{ p: "0/10" }] : sql.includes(`"status" =`) ? fifty.map((r) => ({ ...r })) : [
    row(Number(params[0]) || 1)
  ]

/** A driver that answers every statement on the next macrotask, like a socket callback. */
const fakeConnection: Connection = {
  execute: (sql, params) =>
    Effect.async<ReadonlyArray<any>, SqlError>((resume) => {
      setImmediate(() => resume(Effect.succeed(answer(sql, params))))
    }),
  executeRaw: (_sql, params) => Effect.succeed([row(Number(params[0]))]),
  executeValues: () => Effect.succeed([]),
  // PostgreSQL's COMMIT carries the position read (`COMMIT; SELECT ...`): one result per statement.
  executeUnprepared: (sql, params) =>
    Effect.succeed(sql.includes("wal_") ? [[], [{ p: "0/10" }]] : [row(Number(params[0]))]),
  executeStream: () => Stream.empty
}

// The bench has @effect/sql-pg installed: a missing one is a broken checkout.
const nodeClient = Effect.flatMap(Effect.orDie(SqlCompiler.load("postgresql")), (compiler) =>
  NodeClient.make({
    connection: fakeConnection,
    compiler,
    spanAttributes: [["db.system.name", "postgresql"]],
    statementDeadline: Duration.seconds(30),
    poolStatus: () => ({ open: 1, idle: 1, waiting: 0, max: 16 })
  }))

const healthy = (name: string, role: "primary" | "replica"): NodeHealth.NodeHealth => ({
  ...HealthState.initial(name, role),
  status: "HEALTHY",
  role,
  lagSeconds: 0,
  replicating: role === "replica" ? true : undefined,
  consecutiveSuccesses: 1
})

const monitorLayer = Layer.succeed(
  HealthMonitor.HealthMonitor,
  HealthMonitor.HealthMonitor.of({
    nodes: [{ name: "primary", role: "primary" }, { name: "replica-1", role: "replica" }, {
      name: "replica-2",
      role: "replica"
    }],
    snapshot: Effect.succeed([
      healthy("primary", "primary"),
      healthy("replica-1", "replica"),
      healthy("replica-2", "replica")
    ]),
    health: () => Effect.die("not in the micro benchmark"),
    status: () => Effect.die("not in the micro benchmark"),
    changes: Stream.empty,
    // The router listens for status changes (to end reads on a node found down): none ever comes here.
    subscribe: Effect.flatMap(PubSub.unbounded<NodeHealth.StatusChange>(), PubSub.subscribe),
    check: Effect.die("not in the micro benchmark"),
    checkNode: () => Effect.die("not in the micro benchmark"),
    reportFailure: () => Effect.die("not in the micro benchmark"),
    reportSuccess: () => Effect.void
  } as HealthMonitor.HealthMonitorShape)
)

const routerLayer = ConnectionRouter.fromRouter(Effect.gen(function*() {
  const [primary, r1, r2] = [yield* nodeClient, yield* nodeClient, yield* nodeClient]
  return yield* ConnectionRouter.make({
    cluster: "micro",
    dialect: "postgresql",
    primary: { name: "primary", client: primary, weight: 1 },
    replicas: [{ name: "replica-1", client: r1, weight: 1 }, { name: "replica-2", client: r2, weight: 1 }]
  })
})).pipe(Layer.orDie, Layer.provide(Layer.merge(monitorLayer, Reactivity.layer)))

const FIND = `SELECT * FROM "bench_users" WHERE "id" = $1 LIMIT 1`
const LIST = `SELECT * FROM "bench_users" WHERE "status" = $1 ORDER BY "id" LIMIT $2`
const UPDATE = `UPDATE "bench_users" SET "score" = $1 WHERE "id" = $2 RETURNING *`

/** One operation of a target, given an id in 1..1000. */
export type Op = (id: number) => Effect.Effect<unknown, unknown, ReadConnection | WriteConnection | SqlClient.SqlClient>

// A tracer that records like the built-in one but is another object: what an installed exporter costs FastORM.
const builtIn = Effect.runSync(Effect.tracer)
const listening = Layer.setTracer(Tracer.make({ span: (...args) => builtIn.span(...args), context: (f) => f() }))

/** The targets by name; the first is the base the others are compared with. */
export const targets: Record<string, { readonly layer: Layer.Layer<any>; readonly op: Op }> = {
  "(b) raw @effect/sql": {
    layer: Layer.scoped(SqlClient.SqlClient, nodeClient).pipe(Layer.provide(Reactivity.layer)),
    op: (id) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(FIND, [id]))
  },
  "(a') router, same SQL": {
    layer: routerLayer,
    op: (id) => Effect.flatMap(ReadConnection, (sql) => sql.unsafe(FIND, [id]))
  },
  "(a) UserRepo.find": {
    layer: routerLayer,
    op: (id) => UserRepo.find(id)
  },
  "(b) raw list of 50": {
    layer: Layer.scoped(SqlClient.SqlClient, nodeClient).pipe(Layer.provide(Reactivity.layer)),
    op: () => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(LIST, ["active", 50]))
  },
  "(a) list of 50": {
    layer: routerLayer,
    op: () => UserRepo.where("status", "active").orderBy("id").limit(50).get()
  },
  "(b) raw update returning": {
    layer: Layer.scoped(SqlClient.SqlClient, nodeClient).pipe(Layer.provide(Reactivity.layer)),
    op: (id) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(UPDATE, [7, id]))
  },
  "(a) UserRepo.update": {
    layer: routerLayer,
    op: (id) => UserRepo.update(id, { score: 7 })
  },
  "(a) where(id).update (counted)": {
    layer: routerLayer,
    op: (id) => UserRepo.where("id", id).update({ score: 7 })
  },
  "(a) UserRepo.create": {
    layer: routerLayer,
    op: (id) => UserRepo.create({ name: `n${id}`, email: `e${id}`, status: "active", score: 1 })
  },
  "(a) count": {
    layer: routerLayer,
    op: () => UserRepo.where("status", "active").count()
  },
  "(a) groupBy": {
    layer: routerLayer,
    op: () => UserRepo.query().groupBy("status").aggregate((a) => ({ n: a.count(), total: a.sum("score") })).get()
  },
  "(a) UserRepo.delete": {
    layer: routerLayer,
    op: (id) => UserRepo.delete(id)
  },
  "(a) transaction": {
    layer: routerLayer,
    op: (id) => Database.transaction(Effect.zipRight(UserRepo.findOrFail(id), UserRepo.update(id, { score: 7 })))
  },
  "(b) raw transaction": {
    layer: Layer.scoped(SqlClient.SqlClient, nodeClient).pipe(Layer.provide(Reactivity.layer)),
    op: (id) =>
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql.withTransaction(Effect.zipRight(sql.unsafe(FIND, [id]), sql.unsafe(UPDATE, [7, id])))
      )
  },
  "(a) empty transaction": {
    layer: routerLayer,
    op: () => Database.transaction(Effect.void)
  },
  "(a) empty transaction, no router": {
    layer: Layer.scoped(WriteConnection, nodeClient).pipe(Layer.provide(Reactivity.layer)),
    op: () => Database.transaction(Effect.void)
  },
  "(b) raw, tracer listening": {
    layer: Layer.scoped(SqlClient.SqlClient, nodeClient).pipe(Layer.provide(Reactivity.layer), Layer.merge(listening)),
    op: (id) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(FIND, [id]))
  },
  "(a) find, tracer listening": {
    layer: Layer.merge(routerLayer, listening),
    op: (id) => UserRepo.find(id)
  }
}

const CALLERS = 16

/** Client CPU per operation, in µs, of `perCaller` operations by each of 16 callers at once. */
export const runRound = async (runtime: ManagedRuntime.ManagedRuntime<any, never>, op: Op, perCaller: number) => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < perCaller; i++) yield* op(1 + (i % 1000))
  })
  const program = Effect.all(Array.from({ length: CALLERS }, () => loop), { concurrency: "unbounded", discard: true })
  const cpu0 = process.cpuUsage()
  await runtime.runPromise(program as Effect.Effect<void, unknown, any>)
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) / (CALLERS * perCaller)
}
