/**
 * Replica faults that need the HealthMonitor in view (issue 6): a flapping replica, an authentication failure on one
 * replica, a slow replica. Each runs a mixed load recorded into a History and checked, on PostgreSQL and MariaDB,
 * and ends with the servers' app sessions and the proxies' connections back to their baseline. Figures are printed
 * with the `[scenario]` prefix.
 */
import { describe, expect, it } from "@effect/vitest"
import { HealthMonitor } from "@fastorm/health"
import {
  APP_USER,
  captureLogs,
  createUser,
  dropUser,
  FaultProxy,
  History,
  restoreAppPassword,
  setPassword,
  terminateSessions,
  waitReplicated,
  waitSessions,
  waitUntil
} from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { ConnectionRouter } from "../../src/index.js"
import type { ReadWriteConfig } from "../../src/index.js"
import { counts, mixedKeys, mixedLoad } from "./mixed.js"
import { HEALTH, monitoredLayer, Observed, PROBE_INTERVAL_MS } from "./monitored.js"
import type { Backend } from "./support.js"
import {
  backends,
  ensureTable,
  expectClean,
  expectProxyDrained,
  expectSessionsBack,
  finalState,
  KV_TABLE,
  primaryQuery,
  runId,
  sessionBaseline
} from "./support.js"

/** The pool of every node in these scenarios: poolSize 2 + maxOverflow 4. */
const POOL_MAX = 6

const statusOf = (node: string) => Effect.flatMap(HealthMonitor.HealthMonitor, (m) => Effect.orDie(m.health(node)))

const allHealthy = Effect.flatMap(
  HealthMonitor.HealthMonitor,
  (m) => Effect.map(m.snapshot, (s) => s.every((h) => h.status === "HEALTHY"))
)

const checked = (b: Backend, history: History.History, prefix: string, writers: number, stats: unknown) =>
  Effect.promise(() => finalState(b, mixedKeys(prefix, writers))).pipe(
    Effect.map((final) =>
      History.checkAll(history, {
        final,
        replicaWrites: {
          replicas: b.nodes.replicas.map((r) => r.name),
          routeStats: stats as History.RouteStatsLike
        }
      })
    )
  )

for (const b of backends) {
  const victim = b.nodes.replicas[0]!
  describe(`replica faults on ${b.name}`, () => {
    it.scopedLive(
      "a flapping replica (blackhole toggled every second for 10 s): bounded status changes, no reconnect storm, no failed read",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          const baseline = yield* Effect.promise(() => sessionBaseline(b))
          const proxy = yield* FaultProxy.forNode(victim)
          const history = History.make()
          const prefix = runId("flap")
          const TOGGLES = 10
          const logs = captureLogs()
          const figures = yield* Effect.gen(function*() {
            const observer = yield* Observed
            const router = yield* ConnectionRouter.ConnectionRouter
            yield* waitUntil(allHealthy, (ok) => ok, { what: "every node HEALTHY", timeoutMs: 10_000 })
            const stop = { stopped: false }
            const load = yield* Effect.fork(mixedLoad(b, { history, prefix, writers: 2, readers: 4, stop }))
            // The load's pools are warm before the window opens.
            yield* waitUntil(
              Effect.sync(() => history.ops.some((op) => op.node === victim.name)),
              (ok) => ok,
              { what: "reads served by the victim", timeoutMs: 10_000 }
            )
            const before = yield* proxy.stats
            const t0 = performance.now()
            // The fault schedule itself: one toggle a second.
            for (let i = 0; i < TOGGLES; i++) {
              yield* proxy.setMode(i % 2 === 0 ? FaultProxy.blackhole : FaultProxy.pass)
              yield* Effect.sleep("1 second")
            }
            yield* proxy.setMode(FaultProxy.pass)
            const t1 = performance.now()
            const after = yield* proxy.stats
            const backMs = yield* waitUntil(allHealthy, (ok) => ok, {
              what: "the victim HEALTHY again",
              timeoutMs: 15_000
            })
            stop.stopped = true
            yield* Fiber.join(load)
            const stats = yield* router.stats
            const inWindow = <A extends { readonly node: string }>(xs: ReadonlyArray<A>, at: (a: A) => number) =>
              xs.filter((x) => x.node === victim.name && at(x) >= t0 && at(x) <= t1)
            // Each read the router ended when it found the victim down closed its connection (cutReads.ts).
            const ended = logs.lines
              .filter((line) =>
                String(line.message).includes("was found down") && line.annotations["node"] === victim.name
              )
              .reduce((sum, line) => sum + Number(line.annotations["ended"]), 0)
            return {
              windowMs: Math.round(t1 - t0),
              accepted: after.accepted - before.accepted,
              probes: inWindow(observer.probes, (p) => p.startedAt).length,
              ended,
              changes: inWindow(observer.changes, (c) => c.seenAt).map((c) => `${c.from[0]}>${c.to[0]}`),
              backMs,
              stats
            }
          }).pipe(Effect.provide(monitoredLayer(b, { read: [proxy.url(victim)] })), Effect.provide(logs.layer))
          const verdicts = yield* checked(b, history, prefix, 2, figures.stats)
          const summary = expectClean(`flapping ${b.name}`, verdicts, history)
          const c = counts(history)
          const blackholes = TOGGLES / 2
          // No reconnect storm: each blackhole period may cost the pool every connection it has (reads ended when the
          // replica is found down, session waits and statements past their deadline each close theirs) and the pool
          // opens them again once, plus the probes' own. A storm (a reconnect per read or per probe) is hundreds.
          const connectionBound = POOL_MAX * (blackholes + 1) + figures.probes
          const changeBound = 5 * blackholes
          const connections = `new proxy connections ${figures.accepted}, bound pool max ${POOL_MAX} × ` +
            `${blackholes + 1} + probes ${figures.probes} = ${connectionBound} (reads ended ${figures.ended})`
          console.log(
            `[flapping ${b.name}] ${TOGGLES} toggles in ${figures.windowMs} ms: ${figures.changes.length} status ` +
              `changes (${figures.changes.join(" ")}), bound ${changeBound}; ${connections}; ops ${summary.total}, ` +
              `failed reads ${c.readsFailed}, p99 ${summary.p99Ms} ms; HEALTHY again ${figures.backMs} ms after the ` +
              `last toggle`
          )
          // At most five status changes per blackhole period: the outage itself (H>D suspicion, D>U confirmed, U>H
          // recovered) and one suspicion in the pass period that follows (a connection that broke in the blackhole
          // times out there: H>D, and the next probe clears it: D>H). One change per probe would be ~50 here.
          expect(figures.changes.length).toBeLessThanOrEqual(changeBound)
          // The fault is seen at all: most blackhole periods take the replica down and back.
          expect(figures.changes.length).toBeGreaterThanOrEqual(blackholes)
          expect(figures.accepted).toBeLessThanOrEqual(connectionBound)
          expect(c.readsFailed).toBe(0)
          yield* expectSessionsBack(b, baseline)
          yield* expectProxyDrained(proxy)
        }),
      60_000
    )

    it.scopedLive(
      "authentication failure on one replica: its own state (AuthenticationFailed), probe backoff, reads elsewhere with 0 failures",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          const prefix = runId("auth")
          // MariaDB: the app user's password is changed on the victim only (sql_log_bin = 0). PostgreSQL roles are
          // cluster-wide and replicate: the victim is reached as a dedicated role, whose password then changes
          // (on the primary, replicated) while the other nodes keep using the app role.
          const role = b.name === "postgres" ? `fo_auth_${Date.now().toString(36)}` : APP_USER
          const rolePassword = "auth-pw-1"
          let victimUrl = victim.url
          if (b.name === "postgres") {
            yield* Effect.promise(async () => {
              await createUser(b.nodes.primary, role, rolePassword)
              await primaryQuery(b, `GRANT SELECT ON ${KV_TABLE} TO "${role}"`)
              await waitReplicated(b.nodes)
            })
            const u = new URL(victim.url)
            u.username = role
            u.password = rolePassword
            victimUrl = u.toString()
          }
          const baseline = yield* Effect.promise(() => sessionBaseline(b))
          const breakLogin = () =>
            b.name === "postgres"
              ? setPassword(b.nodes.primary, role, "auth-pw-changed").then(() => waitReplicated(b.nodes))
              : setPassword(victim, APP_USER, "auth-pw-changed")
          const restore = () =>
            b.name === "postgres"
              ? primaryQuery(b, `REVOKE ALL ON ${KV_TABLE} FROM "${role}"`).then(() => dropUser(b.nodes.primary, role))
              : restoreAppPassword(victim)
          yield* Effect.addFinalizer(() => Effect.promise(() => restore().catch(() => undefined)))
          const history = History.make()
          const figures = yield* Effect.gen(function*() {
            const observer = yield* Observed
            const monitor = yield* HealthMonitor.HealthMonitor
            const router = yield* ConnectionRouter.ConnectionRouter
            yield* waitUntil(allHealthy, (ok) => ok, { what: "every node HEALTHY", timeoutMs: 10_000 })
            const stop = { stopped: false }
            const load = yield* Effect.fork(mixedLoad(b, { history, prefix, writers: 2, readers: 4, stop }))
            yield* waitUntil(
              Effect.sync(() => history.ops.some((op) => op.node === victim.name)),
              (ok) => ok,
              { what: "reads served by the victim", timeoutMs: 10_000 }
            )
            // The password changes; the sessions already logged in (pool and probe) are ended so that every new
            // session has to log in again.
            yield* Effect.promise(async () => {
              await breakLogin()
              await terminateSessions(victim, { user: role })
            })
            const brokenAt = performance.now()
            const detectedMs = yield* waitUntil(
              Effect.map(
                statusOf(victim.name),
                (h) => h.status === "UNHEALTHY" && h.lastError?.tag === "AuthenticationFailed"
              ),
              (ok) => ok,
              { what: "the victim UNHEALTHY with AuthenticationFailed", timeoutMs: 10_000 }
            )
            const detectedAt = performance.now()
            const servedBefore = history.ops.length
            // The observation window: the load goes on; the monitor must back off (default auth backoff 10 s).
            const WINDOW_MS = 5_000
            yield* Effect.sleep(Duration.millis(WINDOW_MS))
            const windowEnd = performance.now()
            const health = yield* statusOf(victim.name)
            stop.stopped = true
            yield* Fiber.join(load)
            const stats = yield* router.stats
            // Back: the password restored, two probes on demand bring it back without waiting out the backoff.
            yield* Effect.promise(() =>
              b.name === "postgres"
                ? setPassword(b.nodes.primary, role, rolePassword).then(() => waitReplicated(b.nodes))
                : restoreAppPassword(victim)
            )
            yield* Effect.orDie(monitor.checkNode(victim.name))
            const recovered = yield* Effect.orDie(monitor.checkNode(victim.name))
            const windowOps = history.ops.slice(servedBefore).filter((op) => op.invokedAt >= detectedAt)
            return {
              detectedMs,
              health,
              probesInWindow: observer.probes.filter((p) =>
                p.node === victim.name && p.startedAt >= detectedAt && p.startedAt <= windowEnd
              ).length,
              probesSinceBroken: observer.probes.filter((p) =>
                p.node === victim.name && p.startedAt >= brokenAt
              )
                .map((p) => `${p.ok ? "ok" : p.reason}@${Math.round(p.startedAt - brokenAt)}ms`),
              windowMs: Math.round(windowEnd - detectedAt),
              readsInWindow: windowOps.filter((op) => op.kind === "read").length,
              readsOnVictimInWindow: windowOps.filter((op) => op.kind === "read" && op.node === victim.name).length,
              recovered: recovered.status,
              stats
            }
          }).pipe(
            Effect.provide(monitoredLayer(b, { replicaUrls: [victimUrl], health: { ...HEALTH } }))
          )
          const verdicts = yield* checked(b, history, prefix, 2, figures.stats)
          const summary = expectClean(`auth-failure ${b.name}`, verdicts, history)
          const c = counts(history)
          console.log(
            `[auth-failure ${b.name}] detected ${figures.detectedMs} ms after the change: ${figures.health.status} ` +
              `${figures.health.lastError?.tag} (${figures.health.lastError?.code}); probes of the victim in the ` +
              `${figures.windowMs} ms after: ${figures.probesInWindow} (every ${PROBE_INTERVAL_MS} ms without ` +
              `backoff would be ${Math.floor(figures.windowMs / PROBE_INTERVAL_MS)}); probes since the change: ` +
              `${figures.probesSinceBroken.join(" ")}; reads in the window ${figures.readsInWindow}, on the victim ` +
              `${figures.readsOnVictimInWindow}; ops ${summary.total}, failed reads ${c.readsFailed}; after the ` +
              `password is back: ${figures.recovered}`
          )
          expect(figures.health.status).toBe("UNHEALTHY")
          expect(figures.health.lastError?.tag).toBe("AuthenticationFailed")
          expect(figures.probesInWindow).toBeLessThanOrEqual(2)
          expect(figures.readsInWindow).toBeGreaterThan(20)
          expect(figures.readsOnVictimInWindow).toBe(0)
          expect(c.readsFailed).toBe(0)
          expect(figures.recovered).toBe("HEALTHY")
          yield* expectSessionsBack(b, baseline)
          if (b.name === "postgres") {
            yield* Effect.promise(() => waitSessions(victim, (n) => n === 0, { user: role }))
          }
        }),
      60_000
    )

    const slowReplica = (strategy: ReadWriteConfig.Strategy | undefined) =>
      Effect.gen(function*() {
        yield* Effect.promise(() => ensureTable(b))
        const baseline = yield* Effect.promise(() => sessionBaseline(b))
        const proxy = yield* FaultProxy.forNode(victim)
        const history = History.make()
        const prefix = runId("slow")
        const figures = yield* Effect.gen(function*() {
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* waitUntil(allHealthy, (ok) => ok, { what: "every node HEALTHY", timeoutMs: 10_000 })
          const stop = { stopped: false }
          const load = yield* Effect.fork(mixedLoad(b, { history, prefix, writers: 2, readers: 6, stop }))
          // The replica becomes slow once its pool is warm (a slow network under established connections).
          yield* waitUntil(
            Effect.sync(() => history.ops.filter((op) => op.node === victim.name).length >= 20),
            (ok) => ok,
            { what: "20 reads served by the victim", timeoutMs: 10_000 }
          )
          // 400 ms each way: 800 ms per round trip through the proxy.
          yield* proxy.setMode(FaultProxy.latency({ toServer: 400, toClient: 400 }))
          const slowAt = performance.now()
          // Warm-up: until the monitor has measured the victim through the proxy.
          yield* waitUntil(
            Effect.map(statusOf(victim.name), (h) =>
              h.lastLatency !== undefined && Duration.toMillis(h.lastLatency) >= 700 &&
              h.lastCheckedAt !== undefined),
            (ok) =>
              ok,
            { what: "the victim's latency measured as slow", timeoutMs: 15_000 }
          )
          const warmAt = performance.now()
          yield* Effect.sleep("4 seconds")
          stop.stopped = true
          yield* Fiber.join(load)
          yield* proxy.setMode(FaultProxy.pass)
          const health = yield* statusOf(victim.name)
          const reads = history.ops.filter((op) =>
            op.kind === "read" && op.invokedAt >= warmAt
          )
          return {
            warmMs: Math.round(warmAt - slowAt),
            reads: reads.length,
            onVictim: reads.filter((op) => op.node === victim.name).length,
            health,
            stats: yield* router.stats
          }
        }).pipe(
          Effect.provide(
            monitoredLayer(b, {
              read: [proxy.url(victim)],
              readWrite: strategy === undefined ? {} : { strategy }
            })
          )
        )
        const verdicts = yield* checked(b, history, prefix, 2, figures.stats)
        const summary = expectClean(`slow-replica ${b.name}`, verdicts, history)
        const share = figures.onVictim / Math.max(1, figures.reads)
        console.log(
          `[slow-replica ${b.name} ${strategy ?? "default (roundRobin)"}] warm-up ${figures.warmMs} ms; after it ` +
            `${figures.onVictim}/${figures.reads} reads on the victim (${(100 * share).toFixed(1)}%); victim ` +
            `${figures.health.status}, smoothed latency ${
              Math.round(Duration.toMillis(figures.health.smoothedLatency ?? Duration.zero))
            } ms; ops ${summary.total}, p99 ${summary.p99Ms} ms, failed reads ${counts(history).readsFailed}`
        )
        yield* expectSessionsBack(b, baseline)
        yield* expectProxyDrained(proxy)
        return { share, readsFailed: counts(history).readsFailed, reads: figures.reads }
      })

    it.scopedLive(
      "a slow replica (800 ms round trip, warm pool), default settings: after warm-up under 10% of reads go to it",
      () =>
        Effect.gen(function*() {
          const r = yield* slowReplica(undefined)
          expect(r.reads).toBeGreaterThan(50)
          expect(r.share).toBeLessThan(0.1)
          expect(r.readsFailed).toBe(0)
        }),
      60_000
    )
  })
}
