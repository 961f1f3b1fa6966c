/**
 * The rules of the README's routing table, driven through `FastOrmTest.layer`: the real router over scripted nodes,
 * under `TestClock`. Every test asserts where statements ran (the nodes' own log) and what the caller got.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Database, Model, ReadConnection, Repository, WriteConnection } from "@fastorm/core"
import { HealthMonitor } from "@fastorm/health"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { ConnectionRouter, FastOrmTest, RouterError } from "../src/index.js"
import type { ReadWriteConfig } from "../src/index.js"

class Item extends Model.Class<Item>("Item")({
  id: Model.Generated(Schema.Int),
  label: Schema.String,
  status: Schema.String
}) {}

const Items = Repository.make(Item, { table: "items", idColumn: "id" })

/** Creates the table and two rows on the primary, then forgets those statements. */
const seed = Effect.gen(function*() {
  const write = yield* WriteConnection
  yield* write`CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, status TEXT NOT NULL)`
  yield* Items.create({ label: "a", status: "active" })
  yield* Items.create({ label: "b", status: "idle" })
  yield* FastOrmTest.clear
})

const cluster = (readWrite: ReadWriteConfig.ReadWriteConfig = {}, options: FastOrmTest.Options = {}) =>
  FastOrmTest.layer({ readWrite, ...options })

const readLabel = Effect.flatMap(
  ReadConnection,
  (sql) => sql<{ label: string }>`SELECT label FROM items WHERE id = ${1}`
)

const countByNode = (log: ReadonlyArray<FastOrmTest.RoutedStatement>) => {
  const out: Record<string, number> = {}
  for (const s of log) out[s.node] = (out[s.node] ?? 0) + 1
  return out
}

const routed = (log: ReadonlyArray<FastOrmTest.RoutedStatement>) => log.map((s) => `${s.node}:${s.reason}:${s.outcome}`)

/** The router's typed error behind a failed statement. */
const routerError = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(RouterError.refine(effect)), (error) => (error as { readonly _tag?: string })._tag)

describe("FastOrmTest: ordinary reads", () => {
  it.effect("go to the replicas in turn and never to the primary; the readers see the primary's commits", () =>
    Effect.gen(function*() {
      yield* seed
      const labels: Array<string> = []
      for (let i = 0; i < 6; i++) labels.push((yield* readLabel)[0]!.label)
      expect(labels).toEqual(["a", "a", "a", "a", "a", "a"])
      const log = yield* FastOrmTest.statements
      expect(log.map((s) => s.node)).toEqual([
        "replica-1",
        "replica-2",
        "replica-1",
        "replica-2",
        "replica-1",
        "replica-2"
      ])
      expect(log.every((s) => s.reason === "ordinary" && s.outcome === "ok" && s.role === "replica")).toBe(true)
      const stats = yield* (yield* ConnectionRouter.ConnectionRouter).stats
      expect(stats.byNode).toEqual({ "replica-1": 3, "replica-2": 3 })
    }).pipe(Effect.provide(cluster())))

  it.effect("repository reads are routed like raw SQL", () =>
    Effect.gen(function*() {
      yield* seed
      const found = yield* Items.find(2)
      expect(Option.map(found, (i) => i.label)).toEqual(Option.some("b"))
      const active = yield* Items.where("status", "active").get()
      expect(active.map((i) => i.label)).toEqual(["a"])
      const log = yield* FastOrmTest.statements
      expect(log.map((s) => s.role)).toEqual(["replica", "replica"])
    }).pipe(Effect.provide(cluster())))

  it.effect("an UNHEALTHY replica gets none, and gets reads again once HEALTHY", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.setStatus("replica-1", "UNHEALTHY")
      for (let i = 0; i < 4; i++) yield* readLabel
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ "replica-2": 4 })
      yield* FastOrmTest.clear
      yield* FastOrmTest.setStatus("replica-1", "HEALTHY")
      for (let i = 0; i < 4; i++) yield* readLabel
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ "replica-1": 2, "replica-2": 2 })
    }).pipe(Effect.provide(cluster())))

  it.effect("a replica lagging past maxReplicationLag gets none until it catches up", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.setLag("replica-2", 30)
      for (let i = 0; i < 4; i++) yield* readLabel
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ "replica-1": 4 })
      yield* FastOrmTest.clear
      // 5 s is within the 10 s bound.
      yield* FastOrmTest.setLag("replica-2", 5)
      for (let i = 0; i < 4; i++) yield* readLabel
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ "replica-1": 2, "replica-2": 2 })
    }).pipe(Effect.provide(cluster({ maxReplicationLag: "10 seconds" }))))

  it.effect("a replica whose replication stopped, or that acts as a primary, gets none", () =>
    Effect.gen(function*() {
      const controls = yield* FastOrmTest.Controls
      yield* seed
      yield* controls.setReplicating("replica-1", false)
      yield* controls.setRole("replica-2", "primary")
      for (let i = 0; i < 3; i++) yield* readLabel
      // No eligible replica: the primary serves them as fallback reads.
      expect(routed(yield* FastOrmTest.statements)).toEqual([
        "primary:fallback:ok",
        "primary:fallback:ok",
        "primary:fallback:ok"
      ])
      const monitor = yield* HealthMonitor.HealthMonitor
      expect((yield* monitor.health("replica-2")).roleMismatch).toBe(true)
    }).pipe(Effect.provide(cluster())))

  it.effect("a DEGRADED replica gets less (degradedWeight), not none", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.setStatus("replica-1", "DEGRADED")
      for (let i = 0; i < 60; i++) yield* readLabel
      const counts = countByNode(yield* FastOrmTest.statements)
      // Weights 0.2 : 1 give 1 read in 6 to the degraded replica.
      expect(counts["replica-1"]).toBe(10)
      expect(counts["replica-2"]).toBe(50)
      expect(counts["primary"]).toBeUndefined()
    }).pipe(Effect.provide(cluster({ degradedWeight: 0.2 }))))

  it.effect("leastLatency prefers the replica the monitor measures faster", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.setLatency("replica-1", "40 millis")
      const fiber = yield* Effect.fork(Effect.forEach(Array.from({ length: 5 }), () => readLabel))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ "replica-2": 5 })
    }).pipe(Effect.provide(cluster({ strategy: "leastLatency" }))))

  it.effect("weighted replicas share reads by weight", () =>
    Effect.gen(function*() {
      yield* seed
      for (let i = 0; i < 40; i++) yield* readLabel
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ big: 30, small: 10 })
    }).pipe(Effect.provide(cluster({ strategy: "weighted" }, {
      replicas: [{ name: "big", weight: 3 }, { name: "small", weight: 1 }]
    }))))
})

describe("FastOrmTest: no healthy replica", () => {
  it.effect("preferReplica falls back to the primary", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.setStatus("replica-1", "UNHEALTHY")
      yield* FastOrmTest.setStatus("replica-2", "UNHEALTHY")
      expect((yield* readLabel)[0]!.label).toBe("a")
      expect(routed(yield* FastOrmTest.statements)).toEqual(["primary:fallback:ok"])
    }).pipe(Effect.provide(cluster({ readPreference: "preferReplica" }))))

  it.effect("replicaOnly fails with NoHealthyReplica and sends nothing to the primary", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.setStatus("replica-1", "UNHEALTHY")
      yield* FastOrmTest.setStatus("replica-2", "UNHEALTHY")
      expect(yield* routerError(readLabel)).toBe("NoHealthyReplica")
      expect(yield* FastOrmTest.statements).toEqual([])
    }).pipe(Effect.provide(cluster({ readPreference: "replicaOnly" }))))

  it.effect("fallback reads are capped: FallbackCapacityExceeded after the bound when every permit is held", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.setStatus("replica-1", "UNHEALTHY")
      yield* FastOrmTest.setStatus("replica-2", "UNHEALTHY")
      // The one permit is held by a read whose connection to the primary never completes (bounded by connectTimeout).
      yield* FastOrmTest.fail("primary", "hangOnConnect", { times: 1 })
      const holder = yield* Effect.fork(routerError(readLabel))
      yield* TestClock.adjust("10 millis")
      const waiter = yield* Effect.fork(routerError(readLabel))
      yield* TestClock.adjust("10 millis")
      expect(Option.isNone(yield* Fiber.poll(waiter))).toBe(true)
      // The waiter's bound is statementTimeout (1 s).
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(waiter)).toBe("FallbackCapacityExceeded")
      expect(Option.isNone(yield* Fiber.poll(holder))).toBe(true)
      yield* TestClock.adjust("4 seconds")
      expect(yield* Fiber.join(holder)).toBe("PrimaryUnavailable")
      // The permit is free again: the next fallback read runs.
      expect((yield* readLabel)[0]!.label).toBe("a")
    }).pipe(Effect.provide(cluster({
      maxFallbackConcurrency: 1,
      statementTimeout: "1 second",
      connectTimeout: "5 seconds"
    }))))
})

describe("FastOrmTest: failures", () => {
  it.effect("a connection-class failure is retried on the next replica, and the node is reported", () =>
    Effect.gen(function*() {
      const controls = yield* FastOrmTest.Controls
      yield* seed
      yield* FastOrmTest.fail("replica-1", "connection")
      expect((yield* readLabel)[0]!.label).toBe("a")
      const log = yield* FastOrmTest.statements
      expect(routed(log)).toEqual(["replica-1:ordinary:failed", "replica-2:retry:ok"])
      expect(log[0]!.error).toBe("ECONNREFUSED")
      expect(log[0]!.sql).toBeUndefined()
      expect((yield* controls.reports).map((r) => [r.node, r.classification])).toEqual([["replica-1", "Connection"]])

      // Suspect until a probe succeeds after the failure: no read goes there meanwhile.
      yield* FastOrmTest.clear
      for (let i = 0; i < 4; i++) yield* readLabel
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ "replica-2": 4 })

      // Still failing at the next probe: still excluded.
      yield* TestClock.adjust("1 second")
      yield* FastOrmTest.clear
      for (let i = 0; i < 2; i++) yield* readLabel
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ "replica-2": 2 })

      // Recovered and probed: back in rotation.
      yield* FastOrmTest.recover("replica-1")
      yield* TestClock.adjust("1 second")
      yield* FastOrmTest.clear
      for (let i = 0; i < 4; i++) yield* readLabel
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ "replica-1": 2, "replica-2": 2 })
    }).pipe(Effect.provide(cluster())))

  it.effect("after the next replica fails too, the read runs on the primary", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.fail("replica-1", "connection")
      yield* FastOrmTest.fail("replica-2", "reset")
      expect((yield* readLabel)[0]!.label).toBe("a")
      const log = yield* FastOrmTest.statements
      expect(routed(log)).toEqual(["replica-1:ordinary:failed", "replica-2:retry:failed", "primary:fallback:ok"])
      expect(log.map((s) => s.error)).toEqual(["ECONNREFUSED", "ECONNRESET", undefined])
    }).pipe(Effect.provide(cluster())))

  it.effect("a replica that refuses the login is passed over: the read runs on the next one, the node is reported", () =>
    Effect.gen(function*() {
      const controls = yield* FastOrmTest.Controls
      yield* seed
      yield* FastOrmTest.fail("replica-1", "authentication")
      expect((yield* readLabel)[0]!.label).toBe("a")
      const log = yield* FastOrmTest.statements
      expect(routed(log)).toEqual(["replica-1:ordinary:failed", "replica-2:retry:ok"])
      expect(log[0]!.error).toBe("28P01")
      expect((yield* controls.reports).map((r) => [r.node, r.classification])).toEqual([[
        "replica-1",
        "Authentication"
      ]])
    }).pipe(Effect.provide(cluster())))

  it.effect("a replica that hangs is abandoned at statementTimeout and the read retried", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.fail("replica-1", "hang")
      const fiber = yield* Effect.fork(readLabel)
      yield* TestClock.adjust("1999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber))[0]!.label).toBe("a")
      // The node's own deadline ends the statement, as the adapters' clients do: a connection-class ETIMEDOUT.
      const log = yield* FastOrmTest.statements
      expect(routed(log)).toEqual(["replica-1:ordinary:failed", "replica-2:retry:ok"])
      expect(log[0]!.error).toBe("ETIMEDOUT")
    }).pipe(Effect.provide(cluster({ statementTimeout: "2 seconds" }))))

  it.effect("a statement error is final: not retried anywhere", () =>
    Effect.gen(function*() {
      const controls = yield* FastOrmTest.Controls
      yield* seed
      yield* FastOrmTest.fail("replica-1", "statement", { times: 1 })
      const error = yield* Effect.flip(readLabel)
      expect(error._tag).toBe("SqlError")
      expect(routed(yield* FastOrmTest.statements)).toEqual(["replica-1:ordinary:failed"])
      expect(yield* controls.reports).toEqual([])
      // `times: 1` used up: the replica serves the next read in its turn.
      yield* FastOrmTest.clear
      for (let i = 0; i < 2; i++) yield* readLabel
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ "replica-1": 1, "replica-2": 1 })
    }).pipe(Effect.provide(cluster())))

  it.effect("latency is Effect.sleep: the read completes when the TestClock passes it", () =>
    Effect.gen(function*() {
      yield* seed
      // Both replicas: one slower than its peers would get almost no reads (the next test).
      yield* FastOrmTest.setLatency("replica-1", "500 millis")
      yield* FastOrmTest.setLatency("replica-2", "500 millis")
      const fiber = yield* Effect.fork(readLabel)
      yield* TestClock.adjust("499 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber))[0]!.label).toBe("a")
    }).pipe(Effect.provide(cluster())))

  it.effect("a replica far slower than its peer gets the share its latency earns: none of 100 reads", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.setLatency("replica-1", "800 millis")
      yield* FastOrmTest.setLatency("replica-2", "2 millis")
      const reads = yield* Effect.fork(Effect.replicateEffect(readLabel, 100))
      // Long enough for 100 reads at 800 ms each, should the slow replica get them all.
      yield* TestClock.adjust("100 seconds")
      expect((yield* Fiber.join(reads)).length).toBe(100)
      // Weight 1 against 0.2 (degradedWeight) × 4 × 2 / 800: 1 read in 500.
      expect(countByNode(yield* FastOrmTest.statements)).toEqual({ "replica-2": 100 })
    }).pipe(Effect.provide(cluster())))

  it.effect("primary unreachable: writes fail with PrimaryUnavailable, never reach a replica; reads go on", () =>
    Effect.gen(function*() {
      const write = yield* WriteConnection
      yield* seed
      yield* FastOrmTest.fail("primary", "connection")
      expect(yield* routerError(Items.create({ label: "c", status: "new" }))).toBe("PrimaryUnavailable")
      expect(yield* routerError(write`UPDATE items SET status = 'x'`)).toBe("PrimaryUnavailable")
      // The error says what happened, with the driver's code, and Effect.catchTag reaches it on a repository write.
      const caught = yield* Items.create({ label: "d", status: "new" }).pipe(
        Effect.catchTag("PrimaryUnavailable", (e) => Effect.succeed(e.message))
      )
      expect(caught).toBe("The primary \"primary\" is unavailable: connection refused (ECONNREFUSED)")
      expect((yield* readLabel)[0]!.label).toBe("a")
      const log = yield* FastOrmTest.statements
      expect(log.filter((s) => s.role === "replica").map((s) => s.sql)).toEqual([
        "SELECT label FROM items WHERE id = ?"
      ])
      expect(log.filter((s) => s.role === "primary").map((s) => s.outcome)).toEqual(["failed", "failed", "failed"])
    }).pipe(Effect.provide(cluster())))

  it.effect("a connection lost during a write is WriteOutcomeUnknown and not retried", () =>
    Effect.gen(function*() {
      const write = yield* WriteConnection
      yield* seed
      yield* FastOrmTest.fail("primary", "reset", { times: 1 })
      expect(yield* routerError(write`UPDATE items SET status = 'x' WHERE id = 1`)).toBe("WriteOutcomeUnknown")
      expect(routed(yield* FastOrmTest.statements)).toEqual(["primary:write:failed"])
    }).pipe(Effect.provide(cluster())))
})

describe("FastOrmTest: the primary", () => {
  it.effect("writes never run on a replica, even through ReadConnection", () =>
    Effect.gen(function*() {
      const read = yield* ReadConnection
      yield* seed
      yield* read`INSERT INTO items (label, status) VALUES ('c', 'new')`
      yield* read`UPDATE items SET status = 'done' WHERE label = 'c'`
      yield* read`WITH x AS (SELECT 1) DELETE FROM items WHERE label = 'zz'`
      expect(routed(yield* FastOrmTest.statements)).toEqual([
        "primary:write:ok",
        "primary:write:ok",
        "primary:write:ok"
      ])
      const rows = yield* Items.where("label", "c").forceWrite().get()
      expect(rows.map((r) => r.status)).toEqual(["done"])
    }).pipe(Effect.provide(cluster())))

  it.effect("forceWrite reads run on the primary", () =>
    Effect.gen(function*() {
      yield* seed
      yield* Items.find(1, { forceWrite: true })
      yield* Items.where("status", "active").forceWrite().get()
      yield* Database.forceWrite(readLabel)
      // Forced repository reads use WriteConnection with WriteOnly set: the router says why, as for ReadConnection.
      expect(routed(yield* FastOrmTest.statements)).toEqual([
        "primary:forceWrite:ok",
        "primary:forceWrite:ok",
        "primary:forceWrite:ok"
      ])
    }).pipe(Effect.provide(cluster())))

  it.effect("every statement of a transaction runs on one primary connection", () =>
    Effect.gen(function*() {
      yield* seed
      yield* Database.transaction(Effect.gen(function*() {
        yield* readLabel
        yield* Items.find(2)
        yield* Items.update(2, { status: "active" })
      }))
      const log = yield* FastOrmTest.statements
      expect(log.every((s) => s.node === "primary" && s.reason === "transaction")).toBe(true)
      expect(log.map((s) => s.sql?.split(" ")[0])).toEqual(["BEGIN", "SELECT", "SELECT", "UPDATE", "COMMIT"])
      expect(new Set(log.map((s) => s.connection)).size).toBe(1)
      // Committed: the readers see it.
      expect((yield* Items.where("status", "active").get()).length).toBe(2)
    }).pipe(Effect.provide(cluster())))

  it.effect("locking reads go to the primary", () =>
    Effect.gen(function*() {
      const read = yield* ReadConnection
      yield* seed
      // SQLite has no FOR UPDATE: the statement fails there, but it was placed on the primary.
      yield* Effect.either(read`SELECT * FROM items WHERE id = 1 FOR UPDATE`)
      expect((yield* FastOrmTest.statements).map((s) => `${s.node}:${s.reason}`)).toEqual(["primary:locking"])
    }).pipe(Effect.provide(cluster())))

  const everythingOnPrimary = (name: string, readWrite: ReadWriteConfig.ReadWriteConfig) =>
    it.effect(`${name}: every read runs on the primary`, () =>
      Effect.gen(function*() {
        yield* seed
        for (let i = 0; i < 3; i++) yield* readLabel
        yield* Items.find(1)
        expect(routed(yield* FastOrmTest.statements)).toEqual([
          "primary:primary:ok",
          "primary:primary:ok",
          "primary:primary:ok",
          "primary:primary:ok"
        ])
      }).pipe(Effect.provide(cluster(readWrite))))

  everythingOnPrimary("enableReadWriteSplit: false", { enableReadWriteSplit: false })
  everythingOnPrimary("readPreference: primary", { readPreference: "primary" })
  everythingOnPrimary("consistency: strong", { consistency: "strong" })

  it.effect("a stream is placed on a replica (and on the primary in forceWrite)", () =>
    Effect.gen(function*() {
      yield* seed
      const read = yield* ReadConnection
      const labels = (rows: Iterable<{ readonly label: string }>) => Array.from(rows, (r) => r.label)
      const onReplica = yield* Stream.runCollect(read<{ label: string }>`SELECT label FROM items ORDER BY id`.stream)
      const onPrimary = yield* Database.forceWrite(
        Stream.runCollect(read<{ label: string }>`SELECT label FROM items ORDER BY id`.stream)
      )
      const viaQuery = yield* Stream.runCollect(Items.query().orderBy("id").stream())
      expect([labels(onReplica), labels(onPrimary), labels(viaQuery)]).toEqual([["a", "b"], ["a", "b"], ["a", "b"]])
      const log = yield* FastOrmTest.statements
      expect(log.map((s) => s.role)).toEqual(["replica", "primary", "replica"])
    }).pipe(Effect.provide(cluster())))
})

describe("FastOrmTest: controls and monitor", () => {
  it.scoped("the monitor reports what the test set, and publishes status changes", () =>
    Effect.gen(function*() {
      const monitor = yield* HealthMonitor.HealthMonitor
      const changes = yield* monitor.subscribe
      yield* FastOrmTest.setStatus("replica-2", "DEGRADED")
      yield* FastOrmTest.setLag("replica-2", 3)
      yield* FastOrmTest.setLatency("replica-2", "25 millis")
      const h = yield* monitor.health("replica-2")
      expect([h.status, h.lagSeconds, h.smoothedLatency?.pipe((d) => d.toJSON())]).toMatchObject([
        "DEGRADED",
        3,
        { _id: "Duration" }
      ])
      const change = yield* changes.take
      expect([change.node, change.from, change.to]).toEqual(["replica-2", "HEALTHY", "DEGRADED"])
      yield* FastOrmTest.recover("replica-2")
      expect((yield* monitor.health("replica-2")).status).toBe("HEALTHY")
      expect((yield* monitor.health("replica-2")).lagSeconds).toBe(0)
      expect((yield* monitor.snapshot).map((n) => n.name)).toEqual(["primary", "replica-1", "replica-2"])
    }).pipe(Effect.provide(cluster())))

  it.effect("the layer provides the primary as the plain SqlClient", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* seed
      yield* sql`SELECT count(*) AS n FROM items`
      expect(routed(yield* FastOrmTest.statements)).toEqual(["primary:primary:ok"])
    }).pipe(Effect.provide(cluster())))

  it.effect("an unknown node name is a defect of the test", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(FastOrmTest.setStatus("replica-9", "UNHEALTHY"))
      expect(exit._tag).toBe("Failure")
      expect(String(exit)).toContain("replica-9")
    }).pipe(Effect.provide(cluster())))

  it.effect("an invalid router configuration fails the layer with InvalidReadWriteConfig", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(Effect.void, cluster({ maxFallbackConcurrency: 0 })))
      expect(error._tag).toBe("InvalidReadWriteConfig")
    }))
})
