/**
 * Primary faults under a mixed load (issue 6), on PostgreSQL and MariaDB: the primary crashes (kill -9) and comes
 * back; the primary is stopped and restarted. Every operation is recorded into a History; acknowledged writes must
 * all be present, failed ones absent, unknown ones either way. Ends with sessions back to their baseline. Figures are
 * printed with the `[scenario]` prefix. (Writes failing with PrimaryUnavailable within the deadline while the primary
 * is dead, and reads going on on the replicas, are proven in failover.integration.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import {
  History,
  killNode,
  LOADED_MACHINE_SLACK_MS,
  restorePrimary,
  startNode,
  stopNode,
  waitReplicated,
  waitUntil
} from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { ConnectionRouter } from "../../src/index.js"
import { mixedKeys, mixedLoad } from "./mixed.js"
import { PROBE_INTERVAL_MS } from "./monitored.js"
import type { Backend } from "./support.js"
import {
  backends,
  ensureTable,
  expectClean,
  expectSessionsBack,
  finalState,
  ormLayer,
  runId,
  sessionBaseline
} from "./support.js"

// Writes resume within two probe intervals of the server being back, plus a loaded machine's slack.
const RESUME_BOUND_MS = 2 * PROBE_INTERVAL_MS + LOADED_MACHINE_SLACK_MS

const okWritesAfter = (history: History.History, t: number) =>
  history.ops.filter((op) => op.kind === "write" && op.status === "ok" && op.invokedAt >= t)

const endedAfter = (history: History.History, t: number, kind: History.OpKind) =>
  history.ops.filter((op) => op.kind === kind && op.invokedAt >= t && op.completedAt !== undefined)

/**
 * The primary goes away (`fault`) under a mixed load of 4 writer and 4 reader sessions, and comes back with
 * `startNode`. Returns the figures; the History is checked against the final state read after the replicas caught up.
 */
const primaryOutage = (b: Backend, label: string, fault: () => Promise<void>) =>
  Effect.gen(function*() {
    yield* Effect.promise(() => ensureTable(b))
    const baseline = yield* Effect.promise(() => sessionBaseline(b))
    const history = History.make()
    const prefix = runId(label)
    const WRITERS = 4
    const figures = yield* Effect.gen(function*() {
      const router = yield* ConnectionRouter.ConnectionRouter
      yield* Effect.addFinalizer(() => Effect.promise(() => restorePrimary(b.nodes)))
      const stop = { stopped: false }
      const load = yield* Effect.fork(mixedLoad(b, { history, prefix, writers: WRITERS, readers: 4, stop }))
      yield* waitUntil(Effect.sync(() => okWritesAfter(history, 0).length >= 50), (ok) => ok, {
        what: "50 acknowledged writes",
        timeoutMs: 10_000
      })
      const downAt = performance.now()
      yield* Effect.promise(fault)
      const downMs = Math.round(performance.now() - downAt)
      // Down for as long as it takes the load to see it: writes end (failed or unknown) and reads go on.
      yield* waitUntil(
        Effect.sync(() =>
          endedAfter(history, downAt + downMs, "write").length >= 4 &&
          endedAfter(history, downAt + downMs, "read").filter((op) => op.status === "ok").length >= 20
        ),
        (ok) => ok,
        { what: "writes to fail and reads to go on while the primary is down", timeoutMs: 15_000 }
      )
      const startAt = performance.now()
      yield* Effect.promise(() => startNode(b.nodes.primary, { timeoutMs: 60_000 }))
      const backAt = performance.now()
      yield* waitUntil(
        Effect.sync(() => okWritesAfter(history, backAt).length > 0),
        (ok) => ok,
        { what: "a write acknowledged after the restart", timeoutMs: 10_000 }
      )
      const firstOk = okWritesAfter(history, backAt).reduce((m, op) => Math.min(m, op.completedAt!), Infinity)
      yield* waitUntil(Effect.sync(() => okWritesAfter(history, backAt).length >= 20), (ok) => ok, {
        what: "20 more writes acknowledged",
        timeoutMs: 10_000
      })
      stop.stopped = true
      yield* Fiber.join(load)
      yield* Effect.promise(() => waitReplicated(b.nodes, { timeoutMs: 30_000 }))
      const during = history.ops.filter((op) => op.invokedAt >= downAt && op.invokedAt < backAt)
      return {
        downAt,
        backAt,
        faultMs: downMs,
        downForMs: Math.round(backAt - downAt),
        startTookMs: Math.round(backAt - startAt),
        resumeMs: Math.round(firstOk - backAt),
        during: {
          writes: History.summarize({ ops: during.filter((op) => op.kind === "write"), now: history.now }).byStatus,
          reads: History.summarize({ ops: during.filter((op) => op.kind === "read"), now: history.now }).byStatus,
          errors: History.summarize({ ops: during, now: history.now }).byError
        },
        stats: yield* router.stats
      }
    }).pipe(Effect.scoped, Effect.provide(ormLayer(b)))
    const final = yield* Effect.promise(() => finalState(b, mixedKeys(prefix, WRITERS)))
    const verdicts = History.checkAll(history, {
      final,
      replicaWrites: { replicas: b.nodes.replicas.map((r) => r.name), routeStats: figures.stats }
    })
    const summary = expectClean(`${label} ${b.name}`, verdicts, history)
    const unknownWrites = history.ops.filter((op) => op.kind === "write" && op.status === "unknown")
    const appliedUnknown = unknownWrites.filter((op) => final.get(op.key)?.has(op.value!) ?? false).length
    console.log(
      `[${label} ${b.name}] down ${figures.downForMs} ms (fault ${figures.faultMs} ms, start ${figures.startTookMs} ms); ` +
        `first write acknowledged ${figures.resumeMs} ms after the server was back (bound ${RESUME_BOUND_MS} ms); while down: writes ${
          JSON.stringify(figures.during.writes)
        }, reads ${JSON.stringify(figures.during.reads)}, errors ${
          JSON.stringify(figures.during.errors)
        }; unknown writes ${unknownWrites.length} (applied ` +
        `${appliedUnknown}); total ops ${summary.total}, p99 ${summary.p99Ms} ms`
    )
    // A failed read: which session (writer = session-consistent, reader = ordinary), when, why.
    const failedReads = history.ops.filter((op) => op.kind === "read" && op.status !== "ok").map((op) => ({
      session: /-r\d+-\d+$/.test(op.session) ? "ordinary" : "session",
      error: op.error,
      msAfterDown: Math.round(op.invokedAt - figures.downAt),
      duringOutage: op.invokedAt >= figures.downAt && op.invokedAt < figures.backAt
    }))
    if (failedReads.length > 0) console.log(`[${label} ${b.name}] failed reads ${JSON.stringify(failedReads)}`)
    yield* expectSessionsBack(b, baseline)
    return { ...figures, summary, failedReads }
  })

for (const b of backends) {
  describe(`primary faults on ${b.name}`, () => {
    it.scopedLive(
      "primary crash (kill -9) during a mixed load: acknowledged writes all present, failed ones absent, no ordinary read fails",
      () =>
        Effect.gen(function*() {
          const r = yield* primaryOutage(b, "primary-crash", () => killNode(b.nodes.primary))
          // Ordinary reads never fail. A session-consistent read may: when no reachable replica has replayed the
          // session's last write (asynchronous replication: it may still be only on the crashed primary), the only
          // node that can serve it consistently is the primary, and the answer is a typed PrimaryUnavailable.
          expect(r.failedReads.filter((f) => f.session === "ordinary")).toEqual([])
          for (const f of r.failedReads) expect([f.error, f.duringOutage]).toEqual(["PrimaryUnavailable", true])
          expect(r.resumeMs).toBeLessThanOrEqual(RESUME_BOUND_MS)
        }),
      90_000
    )

    it.scopedLive(
      "primary restart: writes resume within two probe intervals of the server being back",
      () =>
        Effect.gen(function*() {
          const r = yield* primaryOutage(b, "primary-restart", () => stopNode(b.nodes.primary))
          expect(r.resumeMs).toBeLessThanOrEqual(RESUME_BOUND_MS)
          expect(r.failedReads.filter((f) => f.session === "ordinary")).toEqual([])
          for (const f of r.failedReads) expect([f.error, f.duringOutage]).toEqual(["PrimaryUnavailable", true])
        }),
      90_000
    )
  })
}
