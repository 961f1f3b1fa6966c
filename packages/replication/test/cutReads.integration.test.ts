/**
 * Reads waiting on a replica the health monitor finds down end at once and run on another node (ARCHITECTURE.md,
 * "Deadlines"): a replica frozen (SIGSTOP) for 6 s under a 20-fiber read load, with a statement timeout of 20 s.
 * Without the cut, every read in flight on it when it froze waits until it thaws (measured: 4.0 s for a 4 s freeze);
 * with it, no read waits longer than the monitor takes to find the node down (measured: 1.2-1.4 s). A stream reading
 * the frozen replica fails then, and a session read waiting for it to replay the session's write reads the primary
 * then (measured: 1.14-1.20 s, against the whole 20 s wait when the wait was not cut). On PostgreSQL, MariaDB, and
 * PostgreSQL behind PgBouncer (where the pooler stays up and a read waits in it for a server that will not answer).
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import {
  admin,
  captureLogs,
  control,
  freezeNode,
  loadCluster,
  LOADED_MACHINE_SLACK_MS,
  throughPgBouncer,
  unfreezeNode,
  waitReplicated
} from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Backend } from "./support/cluster.js"
import {
  backends,
  countBy,
  fastOrm,
  frozenUnderLoad,
  health,
  nodeByPort,
  noSession,
  quantile,
  report,
  restoreCluster
} from "./support/cluster.js"

const statementTimeoutMs = 20_000
// The monitor finds a frozen node down after `failureThreshold` probes that time out, each started at most a backoff
// after the last; the read then runs elsewhere. Plus a loaded machine's slack: far below the statement timeout.
const cutBoundMs = health.failureThreshold * (500 + 400) + LOADED_MACHINE_SLACK_MS

const postgres = backends().find((x) => x.name === "postgres")!
const viaPgBouncer: Backend = { ...postgres, nodes: throughPgBouncer(loadCluster().postgres, loadCluster().pgbouncer) }
const cases = [
  ...backends().map((b) => ({ label: b.name, b })),
  { label: "postgres via PgBouncer", b: viaPgBouncer }
]

for (const { b, label } of cases) {
  describe(`reads waiting on a replica found down, on ${label}`, () => {
    it.scopedLive(
      "a replica frozen under a 20-fiber load, statement timeout 20 s: no read waits past the monitor's verdict, none fails",
      () => {
        const logs = captureLogs()
        return Effect.gen(function*() {
          const read = yield* ReadConnection
          const { load, target } = yield* frozenUnderLoad(b, read, 6_000)
          yield* Effect.sleep("500 millis")
          yield* load.stop
          const failed = load.samples.filter((s) => s.error !== undefined)
          const cut = logs.lines.filter((line) => String(line.message).includes("was found down"))
          const figures = {
            reads: load.samples.length,
            failed: failed.length,
            failedKinds: countBy(failed.map((s) => s.error)),
            servedBy: countBy(load.samples.map((s) => s.node)),
            maxReadMs: Math.max(...load.samples.map((s) => s.ms)),
            p99ReadMs: quantile(load.samples.map((s) => s.ms), 0.99),
            boundMs: cutBoundMs,
            cutLines: cut.map((line) => line.annotations["ended"])
          }
          yield* report(`${label} replica frozen, reads cut`, figures)
          expect(figures.failed).toBe(0)
          expect(figures.maxReadMs).toBeLessThanOrEqual(cutBoundMs)
          // Reads were in flight on the node when it froze: the router ended them, and said so once, on that node.
          expect(cut.map((line) => line.annotations["node"])).toEqual([target.name])
          expect(Number(cut[0]!.annotations["ended"])).toBeGreaterThan(0)
        }).pipe(
          Effect.scoped,
          Effect.provide(fastOrm(b, { statementTimeout: `${statementTimeoutMs} millis` })),
          Effect.provide(logs.layer)
        )
      },
      60_000
    )

    it.scopedLive(
      "a stream reading a replica that freezes, statement timeout 20 s: it fails once the monitor finds the node down",
      () =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => restoreCluster(b))
          const read = yield* ReadConnection
          const rows = b.name === "postgres"
            ? "SELECT g FROM generate_series(1, 5000000) AS g"
            : "SELECT seq FROM seq_1_to_5000000"
          const pull = yield* Stream.toPull(read.unsafe(rows).stream)
          expect((yield* pull).length).toBeGreaterThan(0)
          yield* control(() => freezeNode(target(b)))
          const started = performance.now()
          // The rows already on their way (socket buffers) come first; then the pull waits, until the cut.
          const outcome = yield* Effect.gen(function*() {
            for (;;) {
              const next = yield* Effect.either(pull)
              if (next._tag === "Left") return next.left
            }
          }).pipe(Effect.ensuring(control(() => unfreezeNode(target(b)))))
          const ms = performance.now() - started
          const error = Option.getOrUndefined(outcome)
          yield* report(`${label} replica frozen under a stream`, { ms: Math.round(ms), boundMs: cutBoundMs })
          expect(error?.message).toMatch(/was ended: the node was found down/)
          expect(ms).toBeLessThanOrEqual(cutBoundMs)
        }).pipe(
          // The stream's connection goes back before the layer's pools close.
          Effect.scoped,
          Effect.provide(
            fastOrm(b, { statementTimeout: `${statementTimeoutMs} millis` }, [{
              url: target(b).url,
              name: target(b).name
            }])
          )
        ),
      60_000
    )

    it.scopedLive(
      "a session read waiting for a replica that freezes, session wait 20 s: it reads the primary once the monitor finds the node down",
      () => {
        const table = `cut_wait_${process.pid}_${Date.now().toString(36)}`
        // What the monitor decided and the router cut, in the figures: a wait past the bound says why it was not cut.
        const logs = captureLogs()
        return Effect.gen(function*() {
          const write = yield* WriteConnection
          const read = yield* ReadConnection
          yield* noSession(write.unsafe(`CREATE TABLE ${table} (id INT PRIMARY KEY)`))
          yield* Effect.addFinalizer(() => Effect.orDie(admin(b.nodes.primary, `DROP TABLE IF EXISTS ${table}`)))
          yield* Effect.addFinalizer(() => restoreCluster(b))
          yield* Effect.promise(() => waitReplicated(b.nodes, { timeoutMs: 20_000 }))
          // A connection to the replica is open before it freezes: the wait is not a connect that times out.
          yield* noSession(read.unsafe(`SELECT id FROM ${table}`))
          yield* control(() => freezeNode(target(b)))
          // The session's write: the frozen replica, the only one, cannot have replayed it, and the monitor still
          // finds it healthy for a while, so the session read waits on it.
          yield* write.unsafe(`INSERT INTO ${table} (id) VALUES (1)`)
          const started = performance.now()
          const startedAt = Date.now()
          const rows = yield* read.unsafe<{ id: number; port: number }>(
            `SELECT id, ${b.name === "postgres" ? "inet_server_port()" : "@@port"} AS port FROM ${table}`
          ).pipe(Effect.ensuring(control(() => unfreezeNode(target(b)))))
          const ms = performance.now() - started
          const monitor = logs.lines
            .filter((line) => line.annotations["component"] === "health" || String(line.message).includes("found down"))
            .map((line) =>
              `${line.at - startedAt} ms: ${String(line.message)} (${String(line.annotations["reason"] ?? "")})`
            )
          yield* report(`${label} session read waiting on a frozen replica`, {
            ms: Math.round(ms),
            boundMs: cutBoundMs,
            monitor
          })
          expect(rows.map((row) => [Number(row.id), nodeByPort(b, row.port).name])).toEqual([[
            1,
            b.nodes.primary.name
          ]])
          expect(ms, monitor.join("; ")).toBeLessThanOrEqual(cutBoundMs)
        }).pipe(
          Effect.scoped,
          Effect.provide(
            fastOrm(b, {
              statementTimeout: `${statementTimeoutMs} millis`,
              connectTimeout: `${statementTimeoutMs} millis`,
              sessionWaitTimeout: `${statementTimeoutMs} millis`
            }, [{
              url: target(b).url,
              name: target(b).name
            }])
          ),
          Effect.provide(logs.layer)
        )
      },
      60_000
    )
  })
}

/** The replica the stream reads, and the one frozen. */
const target = (b: Backend) => b.nodes.replicas[0]!
