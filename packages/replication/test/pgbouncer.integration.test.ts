/**
 * FastORM behind PgBouncer (README, "Behind a connection pooler"), with FastORM's default settings: the test cluster's
 * PgBouncer 1.18 in front of every PostgreSQL node, in transaction pooling with its stock `ignore_startup_parameters`
 * and 4 server connections per node, so consecutive statements of one client run on different server connections.
 * Routing, read-your-writes with replay paused and running, and 32 callers doing finds, creates and small
 * transactions; then the same load through a PgBouncer that silently ignores FastORM's startup parameters, where the
 * prepared statements must heal by themselves.
 */
import { describe, expect, it } from "@effect/vitest"
import { Database, Model, ReadConnection, Repository, WriteConnection } from "@fastorm/core"
import type { ClusterNodes, PgBouncerSettings } from "@fastorm/test-support"
import {
  admin,
  APP_USER,
  control,
  loadCluster,
  pauseReplay,
  resumeReplay,
  startPgBouncers,
  stopPgBouncers,
  throughPgBouncer,
  waitReplicated
} from "@fastorm/test-support"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { join } from "node:path"
import { ConnectionRouter, FastOrm } from "../src/index.js"
import type { ReadWriteConfig } from "../src/index.js"
import type { Backend } from "./support/cluster.js"
import { backends, countBy, describeError, noSession, report, who } from "./support/cluster.js"

const cluster = loadCluster()
const postgres = backends().find((b) => b.name === "postgres")!
/** The PostgreSQL nodes reached through their PgBouncers: `who` still names the server that answered. */
const viaPooler: Backend = { ...postgres, nodes: throughPgBouncer(cluster.postgres, cluster.pgbouncer) }

/** FastORM over `nodes` with its defaults (only what a test names differs). */
const fastOrm = (nodes: ClusterNodes, readWrite?: ReadWriteConfig.ReadWriteConfig) =>
  FastOrm.layer({
    write: { url: nodes.primary.url, name: nodes.primary.name },
    read: nodes.replicas.map((r) => ({ url: r.url, name: r.name })),
    ...(readWrite === undefined ? {} : { readWrite })
  })

const TABLE = "pgb_items"

class Item extends Model.Class<Item>("Item")({
  id: Model.Generated(Schema.Int),
  label: Schema.String,
  n: Schema.Int
}) {}
const Items = Repository.make(Item, { table: TABLE, idColumn: "id" })

const createTable = Effect.flatMap(
  WriteConnection,
  (sql) =>
    sql.unsafe(`CREATE TABLE IF NOT EXISTS ${TABLE} (id SERIAL PRIMARY KEY, label TEXT NOT NULL, n INT NOT NULL)`)
)

const sync = Effect.promise(() => waitReplicated(cluster.postgres, { timeoutMs: 20_000 }))

/** The app's server sessions on the primary right now: PgBouncer's server connections (the sampler excluded). */
const appSessionsOnPrimary = Effect.map(
  admin<{ n: number }>(
    cluster.postgres.primary,
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
    [APP_USER]
  ),
  (rows) => rows[0]!.n
)

/**
 * 32 callers, each doing `rounds` operations in turn: a find of a row it created (read-your-writes), a create, and a
 * small transaction (a create and an update of it). Returns every failure, described.
 */
const mixedLoad = (run: string, rounds: number) =>
  Effect.gen(function*() {
    const failures: Array<string> = []
    let done = 0
    const caller = (c: number) =>
      Effect.gen(function*() {
        let last: Item | undefined
        for (let k = 0; k < rounds; k++) {
          const op: Effect.Effect<unknown, unknown, ReadConnection | WriteConnection> = k % 3 === 0
            ? Effect.flatMap(Items.create({ label: `${run}-${c}-${k}`, n: k }), (item) =>
              Effect.sync(() => {
                last = item
              }))
            : k % 3 === 1
            ? Effect.flatMap(Items.find(last!.id), (found) =>
              found._tag === "None" || found.value.label !== last!.label
                ? Effect.dieMessage(`did not read back ${last!.label}`)
                : Effect.void)
            : Database.transaction(
              Effect.flatMap(
                Items.create({ label: `${run}-${c}-${k}-tx`, n: 0 }),
                (item) => Items.update(item.id, { n: k })
              )
            )
          const exit = yield* Effect.exit(op)
          done++
          if (exit._tag === "Failure") failures.push(describeError(Cause.squash(exit.cause)))
        }
      })
    yield* Effect.forEach(Array.from({ length: 32 }, (_, c) => c), caller, { concurrency: "unbounded", discard: true })
    return { done, failures }
  })

describe("FastORM behind PgBouncer (transaction pooling, stock settings), default settings", () => {
  it.scopedLive("starts, sends ordinary reads to the replicas, writes and transactions to the primary", () =>
    Effect.gen(function*() {
      const read = yield* ReadConnection
      const router = yield* ConnectionRouter.ConnectionRouter
      yield* createTable
      yield* sync
      const seen = countBy(yield* Effect.forEach(Array.from({ length: 40 }), () => who(viaPooler, read)))
      expect(seen[cluster.postgres.primary.name] ?? 0).toBe(0)
      for (const r of cluster.postgres.replicas) expect(seen[r.name] ?? 0).toBe(20)

      yield* router.resetStats
      yield* read.unsafe(`INSERT INTO ${TABLE} (label, n) VALUES ('via-read', 0)`)
      expect((yield* router.stats).byNodeAndReason[`${cluster.postgres.primary.name}|write`]).toBe(1)

      // A transaction holds one server connection from BEGIN to COMMIT, even under transaction pooling.
      const inside = yield* Database.transaction(Effect.forEach(Array.from({ length: 5 }), () =>
        Effect.zip(
          who(viaPooler, read),
          Effect.map(read.unsafe<{ pid: number }>("SELECT pg_backend_pid() AS pid"), (rows) => rows[0]!.pid)
        )))
      expect(new Set(inside.map(([node]) => node))).toEqual(new Set([cluster.postgres.primary.name]))
      expect(new Set(inside.map(([, pid]) => pid)).size).toBe(1)

      // Behind the pooler the session has no statement_timeout of its own; FastORM's transaction sets it locally.
      const timeoutOf = Effect.map(
        read.unsafe<{ statement_timeout: string }>("SHOW statement_timeout"),
        (rows) => rows[0]!.statement_timeout
      )
      expect(yield* Database.transaction(timeoutOf)).toBe("30s")
      expect(yield* Database.forceWrite(timeoutOf)).toBe("0")

      // A stream (a cursor read in batches) keeps its server connection until it ends.
      const streamed = yield* Stream.runCount(
        read.unsafe("SELECT n FROM generate_series(1, 1000) AS n").stream
      )
      expect(streamed).toBe(1000)
    }).pipe(Effect.provide(fastOrm(viaPooler.nodes))))

  it.scopedLive(
    "read-your-writes with replay paused on both replicas: every read sees its own write",
    () =>
      Effect.gen(function*() {
        const router = yield* ConnectionRouter.ConnectionRouter
        yield* createTable
        yield* sync
        yield* Effect.acquireRelease(
          control(() => Promise.all(cluster.postgres.replicas.map(pauseReplay))),
          () => control(() => Promise.all(cluster.postgres.replicas.map(resumeReplay)))
        )
        yield* router.resetStats
        let misses = 0
        for (let i = 0; i < 200; i++) {
          const item = yield* Items.create({ label: `paused-${Date.now()}-${i}`, n: i })
          const found = yield* Items.find(item.id)
          if (found._tag === "None" || found.value.label !== item.label) misses++
        }
        const stats = yield* router.stats
        yield* report("pgbouncer read-your-writes, replay paused", { misses, routed: stats.byNodeAndReason })
        expect(misses).toBe(0)
        // No replica can have the rows: the session's reads went to the primary.
        expect(stats.byNodeAndReason[`${cluster.postgres.primary.name}|session`] ?? 0).toBe(200)
      }).pipe(Effect.provide(fastOrm(viaPooler.nodes, { sessionWaitTimeout: "10 millis" }))),
    60_000
  )

  it.scopedLive(
    "read-your-writes with replay running: every read sees its own write, at least 90% of them on replicas",
    () =>
      Effect.gen(function*() {
        const router = yield* ConnectionRouter.ConnectionRouter
        yield* createTable
        yield* sync
        yield* router.resetStats
        let misses = 0
        for (let i = 0; i < 300; i++) {
          const item = yield* Items.create({ label: `running-${Date.now()}-${i}`, n: i })
          const found = yield* Items.find(item.id)
          if (found._tag === "None" || found.value.label !== item.label) misses++
        }
        const stats = yield* router.stats
        const onReplicas = cluster.postgres.replicas.reduce((sum, r) => sum + (stats.byNode[r.name] ?? 0), 0)
        yield* report("pgbouncer read-your-writes, replay running", {
          misses,
          onReplicas,
          routed: stats.byNodeAndReason
        })
        expect(misses).toBe(0)
        expect(onReplicas).toBeGreaterThanOrEqual(270)
      }).pipe(Effect.provide(fastOrm(viaPooler.nodes))),
    60_000
  )

  it.scopedLive(
    "32 callers doing finds, creates and small transactions: 0 failures, on at most 4 server connections",
    () =>
      Effect.gen(function*() {
        yield* createTable
        yield* sync
        let maxSessions = 0
        const sampler = yield* Effect.forkScoped(Effect.forever(
          Effect.zipRight(
            Effect.flatMap(appSessionsOnPrimary, (n) => Effect.sync(() => maxSessions = Math.max(maxSessions, n))),
            Effect.sleep("20 millis")
          )
        ))
        const started = Date.now()
        const { done, failures } = yield* noSession(mixedLoad(`load-${Date.now()}`, 60))
        yield* Fiber.interrupt(sampler)
        const figures = {
          operations: done,
          failed: failures.length,
          failedKinds: countBy(failures),
          ms: Date.now() - started,
          maxServerSessionsOnPrimary: maxSessions
        }
        yield* report("pgbouncer 32 callers", figures)
        expect(figures.operations).toBe(32 * 60)
        expect(figures.failed).toBe(0)
        // The load really shared PgBouncer's 4 server connections of the primary (default_pool_size).
        expect(maxSessions).toBeGreaterThan(0)
        expect(maxSessions).toBeLessThanOrEqual(4)
      }).pipe(Effect.provide(fastOrm(viaPooler.nodes))),
    120_000
  )
})

/** The mixed load through PgBouncers of the test's own (stopped with the scope), FastORM with its defaults. */
const loadThrough = (dir: string, settings: PgBouncerSettings, run: string, rounds: number) =>
  Effect.gen(function*() {
    const poolers = yield* Effect.acquireRelease(
      Effect.promise(() => startPgBouncers(join(cluster.dir, dir), cluster.postgres, settings)),
      (poolers) => Effect.promise(() => stopPgBouncers(poolers))
    )
    return yield* Effect.scoped(Effect.gen(function*() {
      yield* createTable
      yield* sync
      return yield* noSession(mixedLoad(`${run}-${Date.now()}`, rounds))
    })).pipe(Effect.provide(fastOrm(throughPgBouncer(cluster.postgres, poolers))))
  })

describe("behind PgBouncer in session pooling", () => {
  it.scopedLive(
    "32 callers doing finds, creates and small transactions: 0 failures",
    () =>
      Effect.gen(function*() {
        // Each client connection holds a server connection for its life: the pool covers FastORM's 30 per node.
        const { done, failures } = yield* loadThrough(
          "pgbouncer-session",
          {
            poolMode: "session",
            defaultPoolSize: 40
          },
          "session",
          30
        )
        yield* report("pgbouncer session pooling, 32 callers", {
          operations: done,
          failed: failures.length,
          failedKinds: countBy(failures)
        })
        expect(done).toBe(32 * 30)
        expect(failures).toEqual([])
      }),
    120_000
  )
})

describe("behind a PgBouncer that ignores FastORM's startup parameters instead of refusing them", () => {
  it.scopedLive(
    "the prepared statements heal on the first collision: 32 callers, 0 failures",
    () =>
      Effect.gen(function*() {
        const { done, failures } = yield* loadThrough(
          "pgbouncer-ignoring",
          {
            ignoreStartupParameters:
              "extra_float_digits,statement_timeout,lock_timeout,idle_in_transaction_session_timeout,options"
          },
          "ignoring",
          30
        )
        yield* report("pgbouncer ignoring the startup parameters, 32 callers", {
          operations: done,
          failed: failures.length,
          failedKinds: countBy(failures)
        })
        expect(done).toBe(32 * 30)
        expect(failures).toEqual([])
      }),
    120_000
  )
})
