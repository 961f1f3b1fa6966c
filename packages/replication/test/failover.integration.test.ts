/**
 * Failover under load on the real clusters (issue 5, "Done when"): a replica stopped, killed or frozen in the middle
 * of a read load, every replica down, the primary killed, a replica lagging. Every fault is undone in a finalizer:
 * other test files share these clusters.
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import {
  admin,
  control,
  killNode,
  LOADED_MACHINE_SLACK_MS,
  pauseReplay,
  resumeReplay,
  stopNode,
  waitReplicated,
  waitUntil
} from "@fastorm/test-support"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { readFileSync, statSync } from "node:fs"
import { ConnectionRouter, RouterError } from "../src/index.js"
import type { Backend, Sample } from "./support/cluster.js"
import {
  backends,
  countBy,
  describeError,
  downAndBack,
  fastOrm,
  frozenUnderLoad,
  noSession,
  quantile,
  recoveryBoundMs,
  report,
  restoreCluster,
  slowMarker,
  startLoad,
  warmUp,
  who,
  whoMany
} from "./support/cluster.js"

const statementTimeoutMs = 1_000
const connectTimeoutMs = 1_000
// A read on a frozen replica is cut at statementTimeout and retried once elsewhere; plus a loaded machine's slack.
// Without the cut it would wait for the server's default (30 s) or forever; two cuts in a row would exceed it too.
const frozenReadBoundMs = statementTimeoutMs + LOADED_MACHINE_SLACK_MS
// A write to a dead primary fails within connectTimeout, plus the slack; a driver's default wait is 10 s or none.
const deadPrimaryWriteBoundMs = connectTimeoutMs + LOADED_MACHINE_SLACK_MS
// A write sent on a pooled connection before the driver saw the crash may end WriteOutcomeUnknown; one started later
// than this after the kill must be PrimaryUnavailable (the slack covers a loaded machine seeing the close late).
const racedWindowMs = LOADED_MACHINE_SLACK_MS

const failures = (samples: ReadonlyArray<Sample>) => samples.filter((s) => s.error !== undefined)

// Every test body is scoped inside the layer it is given: its load fibers and cluster repairs end before the
// layer's pools close (a load outliving its pools would spin on "pool closed" errors).

/** A replica stopped or killed during a 20-fiber read load, then restarted. */
const replicaLost = (b: Backend, fault: "stop" | "kill") =>
  Effect.gen(function*() {
    const read = yield* ReadConnection
    const router = yield* ConnectionRouter.ConnectionRouter
    const target = b.nodes.replicas[0]!
    yield* Effect.addFinalizer(() => restoreCluster(b))
    yield* warmUp(b, read)
    const load = yield* startLoad(b, read, 20)
    yield* Effect.sleep("500 millis")
    const { attemptsAfter1s, attemptsBeforeRestart, downAt, firstBack, startedAt, upAt } = yield* downAndBack(
      target,
      fault,
      load,
      router
    )

    const served = load.samples.filter((s) => s.start >= downAt + 1_000 && s.start + s.ms < startedAt)
    const figures = {
      reads: load.samples.length,
      failed: failures(load.samples).length,
      failedKinds: countBy(failures(load.samples).map((s) => s.error)),
      servedBy: countBy(load.samples.map((s) => s.node)),
      onTargetFrom1sAfterDownUntilRestart: served.filter((s) => s.node === target.name).length,
      routedToTargetBetween1sAndRestart: attemptsBeforeRestart - attemptsAfter1s,
      restartTookMs: upAt - startedAt,
      servingAgainMsAfterRestart: firstBack - upAt,
      recoveryBoundPlusSlackMs: recoveryBoundMs + LOADED_MACHINE_SLACK_MS,
      p99ReadMs: quantile(load.samples.map((s) => s.ms), 0.99),
      maxReadMs: Math.max(...load.samples.map((s) => s.ms))
    }
    yield* report(`${b.name} replica ${fault}`, figures)
    expect(figures.failed).toBe(0)
    expect(figures.onTargetFrom1sAfterDownUntilRestart).toBe(0)
    expect(figures.routedToTargetBetween1sAndRestart).toBe(0)
    expect(figures.servingAgainMsAfterRestart).toBeLessThanOrEqual(recoveryBoundMs + LOADED_MACHINE_SLACK_MS)
  })

for (const b of backends()) {
  describe(`failover on ${b.name}`, () => {
    it.scopedLive(
      "a replica stopped in the middle of a 20-fiber read load: 0 failed reads, none on it 1 s later, back after restart",
      () => replicaLost(b, "stop").pipe(Effect.scoped, Effect.provide(fastOrm(b))),
      60_000
    )

    it.scopedLive(
      "a replica killed in the middle of a 20-fiber read load: 0 failed reads, none on it 1 s later, back after restart",
      () => replicaLost(b, "kill").pipe(Effect.scoped, Effect.provide(fastOrm(b))),
      60_000
    )

    it.scopedLive(
      "a replica frozen (SIGSTOP) during the load: no read waits longer than statementTimeout (+ slack), none fails",
      () =>
        Effect.gen(function*() {
          const read = yield* ReadConnection
          const { frozenAt, load, thawedAt } = yield* frozenUnderLoad(b, read, 3_000)
          yield* Effect.sleep("1 second")
          yield* load.stop
          const during = load.samples.filter((s) => s.start >= frozenAt && s.start < thawedAt)
          const figures = {
            reads: load.samples.length,
            readsDuringFreeze: during.length,
            failed: failures(load.samples).length,
            failedKinds: countBy(failures(load.samples).map((s) => s.error)),
            servedDuringFreeze: countBy(during.map((s) => s.node)),
            slowerThanTimeout: load.samples.filter((s) => s.ms > statementTimeoutMs).map((s) => s.ms),
            maxReadMs: Math.max(...load.samples.map((s) => s.ms)),
            p99ReadMs: quantile(load.samples.map((s) => s.ms), 0.99),
            boundMs: frozenReadBoundMs
          }
          yield* report(`${b.name} replica frozen`, figures)
          expect(figures.failed).toBe(0)
          expect(figures.maxReadMs).toBeLessThanOrEqual(frozenReadBoundMs)
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b, { statementTimeout: `${statementTimeoutMs} millis` }))),
      60_000
    )

    it.scopedLive(
      "every replica down: 100% of the reads succeed on the primary, never more than maxFallbackConcurrency at once",
      () =>
        Effect.gen(function*() {
          const read = yield* ReadConnection
          const router = yield* ConnectionRouter.ConnectionRouter
          const cap = 3
          // Sessions of the app running the load's statement on the primary, right now (the sampler excluded).
          const activeSql = b.name === "postgres"
            ? `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%${slowMarker}%'`
            : `SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE '%${slowMarker}%'`
          yield* Effect.addFinalizer(() => restoreCluster(b))
          yield* warmUp(b, read)
          yield* Effect.forEach(b.nodes.replicas, (r) => control(() => stopNode(r)), {
            concurrency: "unbounded",
            discard: true
          })
          yield* router.resetStats
          const load = yield* startLoad(b, read, 20, b.slowWhoSql(20))
          const samples: Array<number> = []
          const until = Date.now() + 3_000
          while (Date.now() < until) {
            const rows = yield* admin<{ n: unknown }>(b.nodes.primary, activeSql)
            samples.push(Number(rows[0]!.n))
            yield* Effect.sleep("5 millis")
          }
          yield* load.stop
          const stats = yield* router.stats
          const figures = {
            reads: load.samples.length,
            failed: failures(load.samples).length,
            failedKinds: countBy(failures(load.samples).map((s) => s.error)),
            servedBy: countBy(load.samples.map((s) => s.node)),
            routed: stats.byNodeAndReason,
            serverSamples: samples.length,
            maxConcurrentOnPrimary: Math.max(...samples),
            cap,
            p99ReadMs: quantile(load.samples.map((s) => s.ms), 0.99)
          }
          yield* report(`${b.name} all replicas down`, figures)
          expect(figures.failed).toBe(0)
          expect(figures.servedBy).toEqual({ [b.nodes.primary.name]: load.samples.length })
          expect(figures.maxConcurrentOnPrimary).toBeLessThanOrEqual(cap)
          // The sampler does see the load (the cap is reached, not just respected by an idle primary).
          expect(figures.maxConcurrentOnPrimary).toBeGreaterThanOrEqual(cap - 1)
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b, { maxFallbackConcurrency: 3 }))),
      60_000
    )

    it.scopedLive(
      "the primary killed: every write fails with PrimaryUnavailable within the deadline; reads go on on the replicas",
      () =>
        Effect.gen(function*() {
          const read = yield* ReadConnection
          const write = yield* WriteConnection
          const router = yield* ConnectionRouter.ConnectionRouter
          const primary = b.nodes.primary
          yield* write.unsafe(b.createTable)
          yield* Effect.promise(() => waitReplicated(b.nodes))
          yield* Effect.addFinalizer(() => restoreCluster(b))
          // What a write reaching a replica would leave behind: MariaDB counts every INSERT/UPDATE a client sent
          // (replicated rows are applied as row events, not counted); PostgreSQL logs the refused statement.
          const writesSeen = Effect.forEach(b.nodes.replicas, (r) =>
            b.name === "mariadb"
              ? Effect.map(
                admin<{ n: unknown }>(
                  r,
                  "SELECT SUM(VARIABLE_VALUE) AS n FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('COM_INSERT', 'COM_UPDATE', 'COM_DELETE')"
                ),
                (rows) => Number(rows[0]!.n)
              )
              : Effect.sync(() => statSync(r.logFile).size))
          const before = yield* writesSeen
          yield* warmUp(b, read)
          yield* router.resetStats
          const load = yield* startLoad(b, read, 5)
          yield* Effect.sleep("300 millis")
          yield* control(() => killNode(primary))
          const killedAt = Date.now()
          const writes: Array<
            { readonly start: number; readonly ms: number; readonly outcome: string; readonly via: string }
          > = []
          const until = killedAt + 3_000
          for (let i = 0; Date.now() < until; i++) {
            const via = i % 2 === 0 ? "write" : "read"
            const client = via === "write" ? write : read
            const start = Date.now()
            const exit = yield* Effect.exit(
              RouterError.refine(client.unsafe(`INSERT INTO ${b.table} (label) VALUES (${b.param(1)})`, [`w-${i}`]))
            )
            writes.push({
              start,
              ms: Date.now() - start,
              via,
              outcome: exit._tag === "Success"
                ? "applied"
                : Option.match(Cause.failureOption(exit.cause), {
                  onNone: () => "defect",
                  onSome: (e) => e._tag === "SqlError" ? describeError(e) : e._tag
                })
            })
            yield* Effect.sleep("50 millis")
          }
          // The replicas have lost their primary (PG: no WAL receiver; MariaDB: Slave_running OFF), and the monitor
          // has had time to see it: reads must still be served by them.
          const lostPrimary = Effect.forEach(b.nodes.replicas, (r) =>
            Effect.map(
              admin<{ n: unknown }>(
                r,
                b.name === "postgres"
                  ? "SELECT count(*)::int AS n FROM pg_stat_wal_receiver WHERE status = 'streaming'"
                  : "SELECT VARIABLE_VALUE AS n FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING'"
              ),
              (rows) => String(rows[0]!.n)
            ))
          const lost = yield* lostPrimary
          yield* Effect.sleep("500 millis")
          const lostStill = yield* lostPrimary
          yield* load.stop
          const after = load.samples.filter((s) => s.start >= killedAt)
          const stats = yield* router.stats
          const seen = yield* writesSeen
          const refused = b.name === "postgres"
            ? b.nodes.replicas.map((r, i) =>
              readFileSync(r.logFile, "utf8").slice(before[i]!).split("\n").filter((l) =>
                /read-only transaction/.test(l)
              ).length
            )
            : seen.map((n, i) => n - before[i]!)
          const figures = {
            writes: writes.length,
            outcomes: countBy(writes.map((w) => w.outcome)),
            racedMsAfterKill: writes.filter((w) => w.outcome !== "PrimaryUnavailable").map((w) => w.start - killedAt),
            maxWriteMs: Math.max(...writes.map((w) => w.ms)),
            deadlineMs: deadPrimaryWriteBoundMs,
            readsAfterKill: after.length,
            failedReadsAfterKill: failures(after).length,
            failedKinds: countBy(failures(after).map((s) => s.error)),
            servedAfterKill: countBy(after.map((s) => s.node)),
            replicasReplicationState: [lost, lostStill],
            routed: stats.byNodeAndReason,
            writesOnReplicasServerSide: refused
          }
          yield* report(`${b.name} primary killed`, figures)
          // A write that races the crash on a pooled connection the driver has not yet seen closed is sent, and the
          // router cannot know whether it was applied: WriteOutcomeUnknown is the honest answer there, and only there.
          const raced = writes.filter((w) => w.outcome === "WriteOutcomeUnknown")
          expect(raced.every((w) => w.start - killedAt < racedWindowMs)).toBe(true)
          expect(writes.filter((w) => w.outcome !== "PrimaryUnavailable" && w.outcome !== "WriteOutcomeUnknown"))
            .toEqual([])
          expect(
            writes.filter((w) => w.start - killedAt >= racedWindowMs).every((w) => w.outcome === "PrimaryUnavailable")
          )
            .toBe(true)
          expect(figures.maxWriteMs).toBeLessThanOrEqual(deadPrimaryWriteBoundMs)
          expect(figures.failedReadsAfterKill).toBe(0)
          expect(figures.servedAfterKill[primary.name] ?? 0).toBe(0)
          expect(after.length).toBeGreaterThan(100)
          for (const r of b.nodes.replicas) {
            expect(stats.byNodeAndReason[`${r.name}|write`] ?? 0).toBe(0)
          }
          expect(refused).toEqual(b.nodes.replicas.map(() => 0))
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b, { connectTimeout: `${connectTimeoutMs} millis` }))),
      90_000
    )

    it.scopedLive(
      "a replica lagging past maxReplicationLag gets no ordinary reads, and gets them again once it caught up",
      () =>
        Effect.gen(function*() {
          const read = yield* ReadConnection
          const write = yield* WriteConnection
          const target = b.nodes.replicas[0]!
          yield* write.unsafe(b.createTable)
          yield* Effect.promise(() => waitReplicated(b.nodes))
          yield* warmUp(b, read)
          yield* Effect.addFinalizer(() => control(() => resumeReplay(target)))
          yield* control(() => pauseReplay(target))
          const pausedAt = Date.now()
          // Changes keep arriving: the paused replica receives them and falls behind.
          const writer = yield* Effect.forkScoped(
            noSession(Effect.forever(
              Effect.zipRight(
                write.unsafe(`INSERT INTO ${b.table} (label) VALUES (${b.param(1)})`, ["lag"]),
                Effect.sleep("50 millis")
              )
            ))
          )
          yield* waitUntil(
            whoMany(b, read, 20),
            (names) => !names.includes(target.name),
            { what: `${target.name} excluded from 20 reads in a row`, timeoutMs: 10_000 }
          )
          const excludedAfterMs = Date.now() - pausedAt
          const whileLagging = yield* whoMany(b, read, 200)
          // Why it is out: PostgreSQL still streams (it receives, replays nothing: lag past the bound); MariaDB's
          // stopped SQL thread reads as "not replicating" (the app user cannot see Seconds_Behind_Master).
          const replicationState = yield* Effect.map(
            admin<{ s: unknown }>(
              target,
              b.name === "postgres"
                ? "SELECT status || CASE WHEN pg_is_wal_replay_paused() THEN ', replay paused' ELSE '' END AS s FROM pg_stat_wal_receiver"
                : "SELECT VARIABLE_VALUE AS s FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING'"
            ),
            (rows) => String(rows[0]?.s)
          )
          const resumedAt = Date.now()
          yield* control(() => resumeReplay(target))
          const backAfterMs = yield* waitUntil(
            who(b, read),
            (name) => name === target.name,
            { what: `${target.name} serving reads again`, timeoutMs: 10_000 }
          )
          yield* Fiber.interrupt(writer)
          const afterCatchUp = yield* whoMany(b, read, 100)
          const figures = {
            excludedMsAfterPause: excludedAfterMs,
            pausedForMs: resumedAt - pausedAt,
            readsWhileLagging: countBy(whileLagging),
            replicationState,
            backMsAfterResume: backAfterMs,
            readsAfterCatchUp: countBy(afterCatchUp)
          }
          yield* report(`${b.name} lagging replica`, figures)
          expect(replicationState).toBe(b.name === "postgres" ? "streaming, replay paused" : "OFF")
          expect(whileLagging.filter((n) => n === target.name)).toEqual([])
          expect(whileLagging.filter((n) => n === b.nodes.primary.name)).toEqual([])
          expect(afterCatchUp.filter((n) => n === target.name).length).toBeGreaterThanOrEqual(40)
        }).pipe(Effect.scoped, Effect.provide(fastOrm(b, { maxReplicationLag: "1 second" }))),
      60_000
    )
  })
}
