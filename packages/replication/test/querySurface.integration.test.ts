/**
 * The query surface on the real clusters, through `FastOrm.layer`: where each new method runs, by the router's count
 * and by the server's own word. Reads (select, pluck, aggregates, groups, paginate, cursor, stream) run on the
 * replicas; writes by query and upsertMany on the primary, recording the session's position so that the session's
 * next reads (stream included) see them while replay is paused; inside `Database.transaction` everything runs on
 * its one connection.
 *
 * Each test makes its own table (and a view over it that says which server and which session answered), on the
 * primary, under a unique name, and drops it in a finalizer; paused replay is resumed in a finalizer too.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Database, Model, ReadConnection, Repository, WriteConnection } from "@fastorm/core"
import type { NodeInfo } from "@fastorm/test-support"
import { admin, pauseReplay, resumeReplay, waitReplicated } from "@fastorm/test-support"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ConnectionRouter, FastOrm } from "../src/index.js"
import type { Backend } from "./support/cluster.js"
import { backends, fastOrm, nodeByPort, noSession, report, warmUp } from "./support/cluster.js"

/** A row of the test's table. */
class Item extends Model.Class<Item>("Item")({
  id: Model.Generated(Schema.Int),
  label: Schema.String,
  kind: Schema.String,
  n: Schema.Int
}) {}

/** A row of the view over the table: the row, plus the answering server's port and session id. */
class ItemWho extends Model.Class<ItemWho>("ItemWho")({
  id: Schema.Int,
  label: Schema.String,
  kind: Schema.String,
  n: Schema.Int,
  port: Schema.Number,
  pid: Schema.Number
}) {}

interface Fixture {
  readonly Items: Repository.Repository<typeof Item, "id">
  readonly Who: Repository.Repository<typeof ItemWho, "id">
}

let tables = 0

const sync = (b: Backend) => Effect.promise(() => waitReplicated(b.nodes, { timeoutMs: 20_000 }))

const asAdmin = (node: NodeInfo, statements: ReadonlyArray<string>) =>
  Effect.forEach(statements, (s) => admin(node, s), { discard: true })

const runAll = (client: SqlClient.SqlClient, statements: ReadonlyArray<string>) =>
  Effect.forEach(statements, (s) => client.unsafe(s), { discard: true })

/** A fresh table of 20 rows and a view over it, replicated; both dropped when the scope closes. */
const fixture = (b: Backend): Effect.Effect<Fixture, never, WriteConnection | Scope.Scope> =>
  noSession(Effect.gen(function*() {
    const write = yield* WriteConnection
    const table = `query_surface_${process.pid}_${Date.now().toString(36)}_${++tables}`
    const view = `${table}_who`
    yield* Effect.addFinalizer(() =>
      Effect.orDie(asAdmin(b.nodes.primary, [`DROP VIEW IF EXISTS ${view}`, `DROP TABLE IF EXISTS ${table}`]))
    )
    if (b.name === "postgres") {
      yield* runAll(write, [
        `CREATE TABLE ${table} (id SERIAL PRIMARY KEY, label TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, n INT NOT NULL)`,
        `CREATE VIEW ${view} AS SELECT id, label, kind, n, inet_server_port() AS port, pg_backend_pid() AS pid FROM ${table}`
      ])
    } else {
      yield* write.unsafe(
        `CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(100) NOT NULL UNIQUE, ` +
          `kind VARCHAR(20) NOT NULL, n INT NOT NULL) ENGINE=InnoDB`
      )
      // A MariaDB view cannot read @@port; a function can (created by root: the binlog needs SUPER for it).
      yield* asAdmin(b.nodes.primary, [
        "CREATE OR REPLACE FUNCTION query_surface_port() RETURNS INT NOT DETERMINISTIC READS SQL DATA RETURN @@port",
        `CREATE VIEW ${view} AS SELECT id, label, kind, n, query_surface_port() AS port, CONNECTION_ID() AS pid ` +
        `FROM ${table}`
      ])
    }
    const Items = Repository.make(Item, { table, idColumn: "id" })
    yield* Items.createMany(
      Array.from({ length: 20 }, (_, i) => ({ label: `item-${i}`, kind: i % 2 === 0 ? "even" : "odd", n: i }))
    )
    yield* sync(b)
    return { Items, Who: Repository.make(ItemWho, { table: view, idColumn: "id" }) }
  })).pipe(Effect.orDie)

const sum = (values: ReadonlyArray<number | undefined>) => values.reduce<number>((a, v) => a + (v ?? 0), 0)

for (const b of backends()) {
  const primary = b.nodes.primary.name
  const replicaNames = b.nodes.replicas.map((r) => r.name)
  const pidSql = b.name === "postgres" ? "SELECT pg_backend_pid() AS pid" : "SELECT CONNECTION_ID() AS pid"

  describe(`the query surface on ${b.name}`, () => {
    it.scopedLive(
      "every read of the query surface runs on a replica, by the router's count and the servers' word",
      () =>
        Effect.gen(function*() {
          const { Items, Who } = yield* fixture(b)
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* warmUp(b, yield* ReadConnection)
          yield* router.resetStats
          const results = yield* noSession(Effect.gen(function*() {
            const odd = Items.where("kind", "odd")
            const selected = yield* odd.orderBy("n").select("label").get()
            const plucked = yield* odd.orderBy("n").pluck("n")
            const total = yield* odd.sum("n")
            const average = yield* Items.query().avg("n")
            const largest = yield* Items.where((q) => q.where("kind", "even").orWhere("n", "<", 5)).max("n")
            const groups = yield* Items.query().groupBy("kind").aggregate((a) => ({
              items: a.count(),
              top: a.max("n")
            }))
              .having("items", ">", 1).orderBy("kind").get()
            const page = yield* Who.where("kind", "even").orderBy("n", "desc").paginate({ page: 2, perPage: 3 })
            const first = yield* Who.query().orderBy("n").cursor({ limit: 8 })
            const second = yield* Who.query().orderBy("n").cursor({ after: Option.getOrThrow(first.next), limit: 8 })
            const streamed = yield* Stream.runCollect(Who.query().whereBetween("n", [5, 14]).orderBy("n").stream())
            return { selected, plucked, total, average, largest, groups, page, first, second, streamed }
          }))
          const stats = yield* router.stats
          const pagePorts = new Set(results.page.data.map((row) => nodeByPort(b, row.port).name))
          const streamPorts = new Set(
            Chunk.toReadonlyArray(results.streamed).map((row) => nodeByPort(b, row.port).name)
          )
          yield* report(`${b.name} query surface reads`, {
            routed: stats.byNodeAndReason,
            pageAnsweredBy: [...pagePorts],
            streamAnsweredBy: [...streamPorts]
          })
          expect(results.selected.map((r) => r.label)).toEqual(
            [1, 3, 5, 7, 9, 11, 13, 15, 17, 19].map((i) => `item-${i}`)
          )
          expect(results.plucked).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19])
          expect(results.total).toBe(100)
          expect(results.average).toEqual(Option.some(9.5))
          expect(results.largest).toEqual(Option.some(18))
          expect(results.groups).toEqual([{ kind: "even", items: 10, top: 18 }, { kind: "odd", items: 10, top: 19 }])
          expect(results.page.data.map((r) => r.n)).toEqual([12, 10, 8])
          expect([results.page.total, results.page.lastPage]).toEqual([10, 4])
          expect([...results.first.data, ...results.second.data].map((r) => r.n)).toEqual(
            Array.from({ length: 16 }, (_, i) => i)
          )
          expect(Chunk.toReadonlyArray(results.streamed).map((r) => r.n)).toEqual(
            Array.from({ length: 10 }, (_, i) => i + 5)
          )
          // One statement each (paginate's page and total included), all on replicas, none on the primary.
          expect(stats.byNode[primary] ?? 0).toBe(0)
          expect(sum(replicaNames.map((r) => stats.byNodeAndReason[`${r}|ordinary`]))).toBe(10)
          // By the servers' word: the page's rows came from one replica, and so did the stream's.
          expect(pagePorts.size).toBe(1)
          expect(replicaNames).toContain([...pagePorts][0])
          expect(streamPorts.size).toBe(1)
          expect(replicaNames).toContain([...streamPorts][0])
          // Streams ended early (their connection closed, or their cursor released) leave every pool serving: 8 early
          // ends of a 5 020-row stream, then 40 reads and 4 whole streams, all answered right.
          yield* noSession(Items.createMany(
            Array.from({ length: 5_000 }, (_, i) => ({ label: `more-${i}`, kind: "more", n: 20 + i }))
          ))
          yield* sync(b)
          const after = yield* noSession(Effect.gen(function*() {
            const early = yield* Effect.forEach(
              Array.from({ length: 8 }),
              () => Stream.runCollect(Stream.take(Items.query().orderBy("n").stream(), 2))
            )
            const counts = yield* Effect.forEach(Array.from({ length: 40 }), () => Items.where("kind", "odd").count(), {
              concurrency: 4
            })
            const whole = yield* Effect.forEach(Array.from({ length: 4 }), () =>
              Stream.runCount(Items.query().stream()), {
              concurrency: 2
            })
            return {
              early: early.map((c) =>
                Chunk.toReadonlyArray(c).map((r) =>
                  r.n
                )
              ),
              counts,
              whole
            }
          }))
          const afterStats = yield* router.stats
          yield* report(`${b.name} after streams ended early`, { routed: afterStats.byNodeAndReason })
          // No read failed over (a poisoned connection would time out and be retried elsewhere).
          expect(Object.keys(afterStats.byNodeAndReason).filter((k) => !/\|(ordinary|write)$/.test(k))).toEqual([])
          expect(new Set(after.early.map((ns) => ns.join(",")))).toEqual(new Set(["0,1"]))
          expect(new Set(after.counts)).toEqual(new Set([10]))
          expect(after.whole).toEqual([5_020, 5_020, 5_020, 5_020])
        }).pipe(Effect.provide(fastOrm(b))),
      60_000
    )

    it.scopedLive(
      "writes by query and upsertMany run on the primary and record the session: its next reads see them with replay paused",
      () =>
        Effect.gen(function*() {
          const { Items, Who } = yield* fixture(b)
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* Effect.acquireRelease(
            Effect.promise(() => Promise.all(b.nodes.replicas.map(pauseReplay))),
            () => Effect.promise(() => Promise.all(b.nodes.replicas.map(resumeReplay)))
          )
          yield* router.resetStats
          const seen = yield* noSession(Effect.gen(function*() {
            const updated = yield* Items.where("kind", "odd").where("n", "<", 10).update({ kind: "changed" })
            const token = yield* FastOrm.sessionToken
            const afterUpdate = yield* Who.where("kind", "changed").orderBy("n").get()
            const incremented = yield* Items.where("kind", "changed").increment("n", 100)
            const streamed = yield* Stream.runCollect(Who.where("kind", "changed").orderBy("n").stream())
            const deleted = yield* Items.where("n", ">=", 105).delete()
            const page = yield* Who.where("kind", "changed").paginate({ page: 1, perPage: 10 })
            const upserted = yield* Items.upsertMany([
              { label: "item-0", kind: "upserted", n: -1 },
              { label: "fresh", kind: "upserted", n: -2 }
            ], { conflict: ["label"] })
            const afterUpsert = yield* Who.where("kind", "upserted").orderBy("n").get()
            return { updated, token, afterUpdate, incremented, streamed, deleted, page, upserted, afterUpsert }
          }))
          const stats = yield* router.stats
          yield* report(`${b.name} query surface writes, replay paused`, { routed: stats.byNodeAndReason })
          expect(seen.updated).toBe(5)
          expect(Option.isSome(seen.token)).toBe(true)
          expect(seen.incremented).toBe(5)
          expect(seen.deleted).toBe(3)
          expect(seen.upserted.map((u) => [u.label, u.n])).toEqual([["item-0", -1], ["fresh", -2]])
          // Every read saw the session's writes, and by the servers' word answered on the primary (the replicas have
          // not replayed them).
          const nodes = (rows: ReadonlyArray<ItemWho>) => [...new Set(rows.map((r) => nodeByPort(b, r.port).name))]
          expect(seen.afterUpdate.map((r) => r.n)).toEqual([1, 3, 5, 7, 9])
          expect(Chunk.toReadonlyArray(seen.streamed).map((r) => r.n)).toEqual([101, 103, 105, 107, 109])
          expect(seen.page.data.map((r) => r.n)).toEqual([101, 103])
          expect(seen.afterUpsert.map((r) => r.label)).toEqual(["fresh", "item-0"])
          for (
            const rows of [seen.afterUpdate, Chunk.toReadonlyArray(seen.streamed), seen.page.data, seen.afterUpsert]
          ) {
            expect(nodes(rows)).toEqual([primary])
          }
          // The router's count: nothing on a replica; the reads as session reads. The writes as writes (update,
          // increment, delete; upsertMany too on PostgreSQL, in a transaction on MariaDB, which reads the rows back).
          for (const r of replicaNames) expect(stats.byNode[r] ?? 0).toBe(0)
          expect(stats.byNodeAndReason[`${primary}|write`]).toBe(b.name === "postgres" ? 4 : 3)
          expect(stats.byNodeAndReason[`${primary}|session`]).toBe(4)
        }).pipe(Effect.provide(fastOrm(b, { sessionWaitTimeout: "10 millis" }))),
      60_000
    )

    it.scopedLive(
      "inside Database.transaction every method runs on the transaction's one connection",
      () =>
        Effect.gen(function*() {
          const { Items, Who } = yield* fixture(b)
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* router.resetStats
          const inside = yield* noSession(Database.transaction(Effect.gen(function*() {
            const write = yield* WriteConnection
            const txPid = Number((yield* write.unsafe<{ pid: number }>(pidSql))[0]!.pid)
            const updated = yield* Items.where("kind", "even").update({ kind: "tx" })
            const incremented = yield* Items.where("kind", "tx").increment("n", 1000)
            const rows = yield* Who.where("kind", "tx").select("n", "pid", "port").get()
            const page = yield* Who.where("kind", "tx").paginate({ page: 1, perPage: 4 })
            const cursor = yield* Who.where("kind", "tx").cursor({ limit: 4 })
            const streamed = yield* Stream.runCollect(Who.where("kind", "tx").stream())
            const total = yield* Items.where("kind", "tx").sum("n")
            const upserted = yield* Items.upsertMany([{ label: "item-1", kind: "tx", n: 0 }], { conflict: ["label"] })
            const deleted = yield* Items.where("kind", "tx").where("n", "<", 1004).delete()
            return { txPid, updated, incremented, rows, page, cursor, streamed, total, upserted, deleted }
          })))
          const stats = yield* router.stats
          yield* report(`${b.name} query surface in a transaction`, { routed: stats.byNodeAndReason })
          expect([inside.updated, inside.incremented]).toEqual([10, 10])
          expect(inside.total).toBe(sum(Array.from({ length: 10 }, (_, i) => 2 * i + 1000)))
          expect(inside.upserted.map((u) => u.kind)).toEqual(["tx"])
          // The rows of n 0 (upserted) and 1000, 1002: three.
          expect(inside.deleted).toBe(3)
          const who = [
            ...inside.rows,
            ...inside.page.data,
            ...inside.cursor.data,
            ...Chunk.toReadonlyArray(inside.streamed)
          ]
          expect(who.length).toBe(10 + 4 + 4 + 10)
          for (const row of who) {
            expect(row.pid).toBe(inside.txPid)
            expect(nodeByPort(b, row.port).name).toBe(primary)
          }
          // Nothing left the transaction's connection.
          expect(Object.keys(stats.byNodeAndReason)).toEqual([`${primary}|transaction`])
          const after = yield* noSession(Items.query().forceWrite().count())
          expect(after).toBe(20 - 3 + 0)
        }).pipe(Effect.provide(fastOrm(b))),
      60_000
    )
  })
}
