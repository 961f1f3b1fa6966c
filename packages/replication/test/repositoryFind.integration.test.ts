/**
 * `Repository.find` on the real clusters. `find` no longer builds an @effect/sql Statement: it runs a compiled
 * statement through the direct runner the router's clients carry (routed like any statement, then run on the node's
 * pooled connection; a named prepared statement on PostgreSQL). These tests drive that path, not raw SQL: session
 * consistency with replay paused and running, ordinary and forced finds, a replica killed under a find load, and
 * finds inside and outside `Database.transaction`.
 *
 * Each test makes its own table (and a view over it that also says which server and which session answered), on the
 * primary, under a unique name, and drops it in a finalizer; every fault is undone in a finalizer too: the other test
 * files share these clusters.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement, Database, Model, ReadConnection, Repository, WriteConnection } from "@fastorm/core"
import type { NodeInfo } from "@fastorm/test-support"
import { admin, LOADED_MACHINE_SLACK_MS, waitReplicated } from "@fastorm/test-support"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { ConnectionRouter } from "../src/index.js"
import type { Backend } from "./support/cluster.js"
import {
  backends,
  countBy,
  downAndBack,
  fastOrm,
  nodeByPort,
  noSession,
  pausedReplay,
  quantile,
  recoveryBoundMs,
  report,
  restoreCluster,
  startLoadOf,
  warmUp
} from "./support/cluster.js"

/** Create-then-find iterations of the session tests. */
const N = 300

/** A row of the test's table, modelled column for column. */
class Item extends Model.Class<Item>("Item")({
  id: Model.Generated(Schema.Int),
  label: Schema.String
}) {}

/**
 * A row of the view over the table: the row, plus the answering server's port, the session's id and whether it ran as
 * a prepared statement: on PostgreSQL how many named prepared statements of FastORM over this view the answering
 * session holds (a find run as one sees itself there; the same text sent through @effect/sql's Statement, unnamed,
 * would not); on MariaDB how many prepared statements the session has executed, the running one included (0 under a
 * text-protocol query).
 */
class ItemWho extends Model.Class<ItemWho>("ItemWho")({
  id: Schema.Int,
  label: Schema.String,
  port: Schema.Number,
  pid: Schema.Number,
  prepared: Schema.Number
}) {}

interface Fixture {
  readonly table: string
  readonly Items: Repository.Repository<typeof Item, "id">
  readonly Who: Repository.Repository<typeof ItemWho, "id">
}

let tables = 0

/** Waits (bounded) until every replica has replayed what the primary committed. */
const sync = (b: Backend) => Effect.promise(() => waitReplicated(b.nodes, { timeoutMs: 20_000 }))

const runAll = (client: SqlClient.SqlClient, statements: ReadonlyArray<string>) =>
  Effect.forEach(statements, (s) => client.unsafe(s), { discard: true })

/** Statements in order as the node's admin, outside the code under test. */
const asAdmin = (node: NodeInfo, statements: ReadonlyArray<string>) =>
  Effect.forEach(statements, (s) => admin(node, s), { discard: true })

/**
 * A fresh table `t` and a view `t_who` over it, created on the primary and replicated; both dropped when the scope
 * closes. Outside any session: the DDL leaves no token behind.
 */
const fixture = (b: Backend): Effect.Effect<Fixture, never, WriteConnection | Scope.Scope> =>
  noSession(Effect.gen(function*() {
    const write = yield* WriteConnection
    const table = `repo_find_${process.pid}_${Date.now().toString(36)}_${++tables}`
    const view = `${table}_who`
    yield* Effect.addFinalizer(() =>
      Effect.orDie(asAdmin(b.nodes.primary, [`DROP VIEW IF EXISTS ${view}`, `DROP TABLE IF EXISTS ${table}`]))
    )
    if (b.name === "postgres") {
      yield* runAll(write, [
        `CREATE TABLE ${table} (id SERIAL PRIMARY KEY, label TEXT NOT NULL)`,
        `CREATE VIEW ${view} AS SELECT id, label, inet_server_port() AS port, pg_backend_pid() AS pid, ` +
        `(SELECT count(*)::int FROM pg_prepared_statements WHERE name LIKE 'fastorm%' AND NOT from_sql ` +
        `AND strpos(statement, '${view}') > 0) AS prepared FROM ${table}`
      ])
    } else {
      yield* write.unsafe(
        `CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(100) NOT NULL) ENGINE=InnoDB`
      )
      // A MariaDB view cannot read @@port; a function can (created by root: the binlog needs SUPER for it). The
      // session's count of prepared statements executed includes the one running (0 under a text-protocol query).
      yield* asAdmin(b.nodes.primary, [
        "CREATE OR REPLACE FUNCTION repo_find_server_port() RETURNS INT NOT DETERMINISTIC READS SQL DATA RETURN @@port",
        "CREATE OR REPLACE FUNCTION repo_find_prepared() RETURNS INT NOT DETERMINISTIC READS SQL DATA RETURN " +
        "(SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'COM_STMT_EXECUTE')",
        `CREATE VIEW ${view} AS SELECT id, label, repo_find_server_port() AS port, CONNECTION_ID() AS pid, ` +
        `repo_find_prepared() AS prepared FROM ${table}`
      ])
    }
    yield* sync(b)
    return {
      table,
      Items: Repository.make(Item, { table, idColumn: "id" }),
      Who: Repository.make(ItemWho, { table: view, idColumn: "id" })
    }
  })).pipe(Effect.orDie)

const sum = (values: ReadonlyArray<number | undefined>) => values.reduce<number>((a, v) => a + (v ?? 0), 0)

/** `fibers` fibers finding the given rows in a loop, outside any session, each find checked and recorded. */
const startFindLoad = (
  b: Backend,
  Who: Fixture["Who"],
  rows: ReadonlyArray<Item>,
  fibers: number
) =>
  startLoadOf(fibers, (fiber, k) => {
    const row = rows[((fiber + k) * 7) % rows.length]!
    return Effect.flatMap(noSession(Who.find(row.id)), (found) =>
      Option.isNone(found)
        ? Effect.fail(new Error("no row"))
        : found.value.id !== row.id || found.value.label !== row.label
        ? Effect.fail(new Error("wrong row"))
        : Effect.succeed(nodeByPort(b, found.value.port).name))
  })

for (const b of backends()) {
  const primary = b.nodes.primary.name
  const replicaNames = b.nodes.replicas.map((r) => r.name)

  describe(`Repository.find on ${b.name}`, () => {
    it.scopedLive(
      `session consistency with replay paused on both replicas: ${N} create-then-find, every find sees its row, all on the primary`,
      () =>
        Effect.gen(function*() {
          const { Items } = yield* fixture(b)
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* pausedReplay(b)
          yield* router.resetStats
          const misses: Array<unknown> = []
          const started = Date.now()
          for (let i = 0; i < N; i++) {
            const created = yield* Items.create({ label: `paused-${i}` })
            const found = yield* Items.find(created.id)
            if (Option.isNone(found) || found.value.id !== created.id || found.value.label !== `paused-${i}`) {
              misses.push({ i, created, found })
            }
          }
          const stats = yield* router.stats
          const figures = {
            iterations: N,
            misses: misses.length,
            ms: Date.now() - started,
            routed: stats.byNodeAndReason
          }
          yield* report(`${b.name} find, replay paused`, figures)
          expect(misses).toEqual([])
          expect(stats.byNodeAndReason[`${primary}|session`]).toBe(N)
          for (const r of replicaNames) expect(stats.byNode[r] ?? 0).toBe(0)
          // No find counted as anything but a session read on the primary (the creates are the writes).
          expect(Object.keys(stats.byNodeAndReason).filter((k) => !/\|(session|write|transaction)$/.test(k)))
            .toEqual([])
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b, { sessionWaitTimeout: "10 millis" }))),
      60_000
    )

    it.scopedLive(
      `session consistency with replay running: ${N} create-then-find, every find sees its row, >= 90% on replicas`,
      () =>
        Effect.gen(function*() {
          const { Items } = yield* fixture(b)
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* router.resetStats
          const misses: Array<unknown> = []
          const started = Date.now()
          for (let i = 0; i < N; i++) {
            const created = yield* Items.create({ label: `running-${i}` })
            const found = yield* Items.find(created.id)
            if (Option.isNone(found) || found.value.id !== created.id || found.value.label !== `running-${i}`) {
              misses.push({ i, created, found })
            }
          }
          const stats = yield* router.stats
          const onReplicas = sum(replicaNames.map((r) => stats.byNode[r]))
          const writes = sum([
            stats.byNodeAndReason[`${primary}|write`],
            stats.byNodeAndReason[`${primary}|transaction`]
          ])
          const findsOnPrimary = (stats.byNode[primary] ?? 0) - writes
          const figures = {
            iterations: N,
            misses: misses.length,
            ms: Date.now() - started,
            findsOnReplicas: onReplicas,
            findsOnPrimary,
            shareOnReplicas: onReplicas / N,
            routed: stats.byNodeAndReason
          }
          yield* report(`${b.name} find, replay running`, figures)
          expect(misses).toEqual([])
          // Every find was routed exactly once (no retries hidden in the share).
          expect(onReplicas + findsOnPrimary).toBe(N)
          expect(onReplicas).toBeGreaterThanOrEqual(Math.ceil(0.9 * N))
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b))),
      60_000
    )

    it.scopedLive(
      "ordinary finds (no session) spread over both replicas, none on the primary; forceWrite finds run on the primary",
      () =>
        Effect.gen(function*() {
          const { Items, Who } = yield* fixture(b)
          const read = yield* ReadConnection
          const write = yield* WriteConnection
          const router = yield* ConnectionRouter.ConnectionRouter
          // The path under test: both routed clients run compiled statements directly.
          expect(CompiledStatement.runnerOf(read)).toBeDefined()
          expect(CompiledStatement.runnerOf(write)).toBeDefined()
          const rows = yield* noSession(
            Items.createMany(Array.from({ length: 20 }, (_, i) => ({ label: `ordinary-${i}` })))
          )
          yield* sync(b)
          yield* warmUp(b, read)
          yield* router.resetStats
          /** Who answered a find of `row`, by the server's word, and whether the row was the right one. */
          const answer = (row: Item, found: Option.Option<ItemWho>) =>
            Option.isSome(found) && found.value.id === row.id && found.value.label === row.label
              ? { node: nodeByPort(b, found.value.port).name, prepared: found.value.prepared }
              : { node: `wrong: ${JSON.stringify(found)}`, prepared: null }
          // Each find in a fresh fiber with no session token, like a new request.
          const answers = yield* Effect.forEach(Array.from({ length: 60 }, (_, i) => rows[i % rows.length]!), (row) =>
            Effect.flatMap(
              Effect.fork(noSession(Who.find(row.id))),
              (fiber) =>
                Effect.map(Fiber.join(fiber), (found) => answer(row, found))
            ))
          const absent = yield* noSession(Items.find(2_000_000_000))
          const ordinary = yield* router.stats
          yield* router.resetStats
          const forced = yield* Effect.forEach(
            rows.slice(0, 10),
            (row) =>
              Effect.map(noSession(Who.find(row.id, { forceWrite: true })), (found) => answer(row, found))
          )
          // A row written just now without a session token: a forced find sees it at once, on the primary.
          const fresh = yield* noSession(Items.create({ label: "fresh" }))
          const freshFound = yield* noSession(Items.find(fresh.id, { forceWrite: true }))
          const forcedStats = yield* router.stats
          const figures = {
            answeredBy: countBy(answers.map((a) => a.node)),
            preparedSeen: countBy(answers.concat(forced).map((a) => String(a.prepared))),
            routed: ordinary.byNodeAndReason,
            forcedAnsweredBy: countBy(forced.map((a) => a.node)),
            forcedRouted: forcedStats.byNodeAndReason
          }
          yield* report(`${b.name} ordinary and forced finds`, figures)
          // By the server's own word: every find got its row, from a replica, and both replicas served.
          expect(answers.map((a) => a.node).filter((n) => !replicaNames.includes(n))).toEqual([])
          for (const r of replicaNames) expect(figures.answeredBy[r] ?? 0).toBeGreaterThanOrEqual(20)
          expect(Option.isNone(absent)).toBe(true)
          // Every find ran as a prepared statement in the answering session (PostgreSQL: FastORM's named one).
          expect(answers.concat(forced).filter((a) => a.prepared === null || a.prepared < 1)).toEqual([])
          // By the router's count: 61 ordinary reads on the replicas, nothing on the primary.
          expect(ordinary.byNode[primary] ?? 0).toBe(0)
          expect(sum(replicaNames.map((r) => ordinary.byNodeAndReason[`${r}|ordinary`]))).toBe(61)
          for (const r of replicaNames) expect(ordinary.byNode[r] ?? 0).toBeGreaterThanOrEqual(20)
          // Forced finds: on the primary, by both counts.
          expect(forced.map((a) => a.node)).toEqual(rows.slice(0, 10).map(() => primary))
          expect(Option.map(freshFound, (f) => f.label)).toEqual(Option.some("fresh"))
          expect(forcedStats.byNodeAndReason[`${primary}|forceWrite`]).toBe(11)
          for (const r of replicaNames) expect(forcedStats.byNode[r] ?? 0).toBe(0)
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b))),
      60_000
    )

    it.scopedLive(
      "a replica killed during a 16-fiber find load: 0 failed finds, none on it 1 s later, back after restart",
      () =>
        Effect.gen(function*() {
          const { Items, Who } = yield* fixture(b)
          const read = yield* ReadConnection
          const router = yield* ConnectionRouter.ConnectionRouter
          const target = b.nodes.replicas[0]!
          const rows = yield* noSession(
            Items.createMany(Array.from({ length: 50 }, (_, i) => ({ label: `load-${i}` })))
          )
          yield* sync(b)
          // Registered after the fixture: the cluster is whole again before the table is dropped.
          yield* Effect.addFinalizer(() => restoreCluster(b))
          yield* warmUp(b, read)
          const load = yield* startFindLoad(b, Who, rows, 16)
          yield* Effect.sleep("500 millis")
          const { attemptsAfter1s, attemptsBeforeRestart, downAt, firstBack, startedAt, upAt } = yield* downAndBack(
            target,
            "kill",
            load,
            router
          )

          const failed = load.samples.filter((s) => s.error !== undefined)
          const served = load.samples.filter((s) => s.start >= downAt + 1_000 && s.start + s.ms < startedAt)
          const stats = yield* router.stats
          const figures = {
            finds: load.samples.length,
            failed: failed.length,
            failedKinds: countBy(failed.map((s) => s.error)),
            findsBeforeKillOnTarget: load.samples.filter((s) => s.node === target.name && s.start < downAt).length,
            findsAroundKill: load.samples.filter((s) => s.start >= downAt - 500 && s.start < downAt + 1_500).length,
            servedBy: countBy(load.samples.map((s) => s.node)),
            onTargetFrom1sAfterDownUntilRestart: served.filter((s) => s.node === target.name).length,
            servedFrom1sAfterDownUntilRestart: served.length,
            routedToTargetBetween1sAndRestart: attemptsBeforeRestart - attemptsAfter1s,
            restartTookMs: upAt - startedAt,
            servingAgainMsAfterRestart: firstBack - upAt,
            recoveryBoundPlusSlackMs: recoveryBoundMs + LOADED_MACHINE_SLACK_MS,
            routed: stats.byNodeAndReason,
            p99FindMs: quantile(load.samples.map((s) => s.ms), 0.99),
            maxFindMs: Math.max(...load.samples.map((s) => s.ms))
          }
          yield* report(`${b.name} replica killed under finds`, figures)
          expect(figures.failed).toBe(0)
          // The load was real: the target served finds before the kill, and the others kept serving after it.
          expect(figures.findsBeforeKillOnTarget).toBeGreaterThan(0)
          expect(figures.servedFrom1sAfterDownUntilRestart).toBeGreaterThan(100)
          expect(figures.onTargetFrom1sAfterDownUntilRestart).toBe(0)
          expect(figures.routedToTargetBetween1sAndRestart).toBe(0)
          expect(figures.servedBy[primary] ?? 0).toBe(0)
          expect(figures.servingAgainMsAfterRestart).toBeLessThanOrEqual(recoveryBoundMs + LOADED_MACHINE_SLACK_MS)
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b))),
      60_000
    )

    it.scopedLive(
      "inside Database.transaction a find sees the uncommitted update on the transaction's connection; outside, not until commit",
      () =>
        Effect.gen(function*() {
          const { Items, Who } = yield* fixture(b)
          const router = yield* ConnectionRouter.ConnectionRouter
          const created = yield* noSession(Items.create({ label: "before" }))
          yield* sync(b)
          const pidSql = b.name === "postgres" ? "SELECT pg_backend_pid() AS pid" : "SELECT CONNECTION_ID() AS pid"
          const labelOf = (found: Option.Option<{ readonly label: string }>) =>
            Option.match(found, { onNone: () => "none", onSome: (f) => f.label })

          // Another fiber, started before the transaction: it inherits nothing of it.
          const ask = yield* Deferred.make<void>()
          const answer = yield* Deferred.make<{ readonly forced: ItemWho; readonly ordinary: string }>()
          const observer = yield* Effect.forkScoped(noSession(Effect.gen(function*() {
            yield* Deferred.await(ask)
            const forced = yield* Who.find(created.id, { forceWrite: true })
            const ordinary = yield* Items.find(created.id)
            yield* Deferred.succeed(answer, { forced: Option.getOrThrow(forced), ordinary: labelOf(ordinary) })
          })))

          yield* router.resetStats
          const inside = yield* Database.transaction(Effect.gen(function*() {
            const write = yield* WriteConnection
            const txPid = Number((yield* write.unsafe<{ pid: number }>(pidSql))[0]!.pid)
            const updated = yield* Items.update(created.id, { label: "after" })
            const found = yield* Items.find(created.id)
            const who = Option.getOrThrow(yield* Who.find(created.id))
            const outside = Option.getOrThrow(yield* Database.outsideTransaction(Who.find(created.id)))
            yield* Deferred.succeed(ask, undefined)
            const other = yield* Deferred.await(answer).pipe(
              Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the observer did not answer") })
            )
            return { txPid, updated: updated.label, found: labelOf(found), who, outside, other }
          }))
          yield* Fiber.join(observer)
          const inTransaction = yield* router.stats
          const afterForced = yield* noSession(Who.find(created.id, { forceWrite: true }))
          // The commit recorded this fiber's session token: its ordinary find reads its write, wherever it runs.
          const afterSession = yield* Items.find(created.id)
          yield* sync(b)
          const afterOrdinary = yield* noSession(Items.find(created.id))
          const figures = {
            inside: {
              updated: inside.updated,
              found: inside.found,
              who: { label: inside.who.label, node: nodeByPort(b, inside.who.port).name, pid: inside.who.pid },
              txPid: inside.txPid
            },
            outsideTransaction: {
              label: inside.outside.label,
              node: nodeByPort(b, inside.outside.port).name,
              pid: inside.outside.pid
            },
            otherFiber: {
              forced: inside.other.forced.label,
              node: nodeByPort(b, inside.other.forced.port).name,
              pid: inside.other.forced.pid,
              ordinary: inside.other.ordinary
            },
            routedDuringTransaction: inTransaction.byNodeAndReason,
            afterCommit: {
              forced: labelOf(afterForced),
              session: labelOf(afterSession),
              ordinaryAfterReplication: labelOf(afterOrdinary)
            }
          }
          yield* report(`${b.name} find in a transaction`, figures)
          // Inside: the uncommitted update, read on the transaction's own connection of the primary.
          expect(inside.updated).toBe("after")
          expect(inside.found).toBe("after")
          expect(inside.who.label).toBe("after")
          expect(nodeByPort(b, inside.who.port).name).toBe(primary)
          expect(inside.who.pid).toBe(inside.txPid)
          // Outside (Database.outsideTransaction, and a fiber that never was inside): the committed row only, on the
          // primary (forced) through another session, and on a replica.
          expect(inside.outside.label).toBe("before")
          expect(nodeByPort(b, inside.outside.port).name).toBe(primary)
          expect(inside.outside.pid).not.toBe(inside.txPid)
          expect(inside.other.forced.label).toBe("before")
          expect(nodeByPort(b, inside.other.forced.port).name).toBe(primary)
          expect(inside.other.forced.pid).not.toBe(inside.txPid)
          expect(inside.other.ordinary).toBe("before")
          // The forced finds outside were counted as such; the transaction's own finds never left its connection.
          expect(inTransaction.byNodeAndReason[`${primary}|forceWrite`]).toBe(2)
          expect(sum(replicaNames.map((r) => inTransaction.byNodeAndReason[`${r}|ordinary`]))).toBe(1)
          expect(inTransaction.byNodeAndReason[`${primary}|transaction`] ?? 0).toBeGreaterThanOrEqual(4)
          // After the commit every reader sees it.
          expect(figures.afterCommit).toEqual({ forced: "after", session: "after", ordinaryAfterReplication: "after" })
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b))),
      60_000
    )
  })
}
