import { describe, expect, it } from "@effect/vitest"
import type { NodeInfo } from "@fastorm/test-support"
import {
  adminQuery,
  appQuery,
  control,
  freezeNode,
  loadCluster,
  pauseReplay,
  resumeReplay,
  startNode,
  stopNode,
  unfreezeNode,
  waitUntil
} from "@fastorm/test-support"
import { DelayProxy } from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HealthMonitor from "../src/HealthMonitor.js"
import type { FaultCase } from "./support/faults.js"
import { DETECTION_BOUND_MS, FAST, frozenReplica, stoppedReplica, TIMEOUT_BOUND_MS } from "./support/faults.js"
import { timedProbe } from "./support/live.js"

const cluster = loadCluster()
const { primary, replicas } = cluster.postgres
// Faults only ever on replica-2: other test files share these servers.
const victim = replicas[1]!

const asNode = (n: NodeInfo) => ({ name: n.name, role: n.role, url: n.url })
const allNodes = [primary, ...replicas].map(asNode)
const appName = (tag: string) => `fastorm-health-${tag}-${process.pid}`

const faultCase: FaultCase = {
  label: "pg",
  nodes: allNodes,
  victim,
  bystander: primary.name
}

/**
 * A monitor of every node, all HEALTHY, and a write into a table of the test's own (dropped with the scope), after
 * which the victim was seen caught up.
 */
const caughtUpVictim = (tag: string) =>
  Effect.gen(function*() {
    const monitor = yield* HealthMonitor.make({ ...FAST, nodes: allNodes })
    yield* waitUntil(monitor.snapshot, (s) => s.every((n) => n.status === "HEALTHY"), {
      what: "every node HEALTHY",
      timeoutMs: 5_000
    })
    const table = `health_${tag}_${process.pid}`
    yield* Effect.addFinalizer(() =>
      control(() => appQuery(primary, `DROP TABLE IF EXISTS ${table}`).catch(() => undefined))
    )
    yield* control(() =>
      appQuery(primary, `CREATE TABLE IF NOT EXISTS ${table} (id serial PRIMARY KEY, at timestamptz)`)
    )
    const write = control(() => appQuery(primary, `INSERT INTO ${table} (at) VALUES (now())`))
    yield* write
    yield* waitUntil(monitor.health(victim.name), (h) => h.lagSeconds === 0, {
      what: `${victim.name} caught up`,
      timeoutMs: 5_000
    })
    return { monitor, write }
  })

describe("HealthMonitor on the PostgreSQL cluster", () => {
  it.scopedLive("sees every node HEALTHY with its role, position and lag", () =>
    Effect.gen(function*() {
      const monitor = yield* HealthMonitor.make({ ...FAST, nodes: allNodes })
      yield* waitUntil(monitor.snapshot, (s) => s.every((n) => n.status === "HEALTHY"), {
        what: "every node HEALTHY",
        timeoutMs: 5_000
      })
      const [p, r1] = yield* monitor.snapshot
      expect(p).toMatchObject({ role: "primary", roleMismatch: false, lagSeconds: 0 })
      expect(p!.position).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
      expect(r1).toMatchObject({ role: "replica", roleMismatch: false, replicating: true })
      expect(r1!.lagSeconds).toBeGreaterThanOrEqual(0)
      expect(r1!.position).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
    }))

  it.scopedLive("reports a node whose role differs from its configuration", () =>
    Effect.gen(function*() {
      const monitor = yield* HealthMonitor.make({
        ...FAST,
        nodes: [{ name: "thinks-primary", role: "primary", url: replicas[0]!.url }]
      })
      yield* waitUntil(monitor.health("thinks-primary"), (h) => h.roleMismatch, {
        what: "thinks-primary role mismatch",
        timeoutMs: 5_000
      })
      expect(yield* monitor.health("thinks-primary")).toMatchObject({ configuredRole: "primary", role: "replica" })
    }))

  it.scopedLive("a wrong password is an authentication failure, UNHEALTHY at once, password never shown", () =>
    Effect.gen(function*() {
      const secret = "wrong-secret-pw"
      const monitor = yield* HealthMonitor.make({
        ...FAST,
        nodes: [{ name: "bad-login", role: "replica", url: replicas[0]!.url.replace(":app-pw@", `:${secret}@`) }]
      })
      yield* waitUntil(monitor.status("bad-login"), (s) => s === "UNHEALTHY", {
        what: "bad-login UNHEALTHY",
        timeoutMs: 3_000
      })
      const h = yield* monitor.health("bad-login")
      expect(h.lastError).toMatchObject({ tag: "AuthenticationFailed", code: "28P01" })
      expect(JSON.stringify(h)).not.toContain(secret)
      expect(h.consecutiveFailures).toBe(1)
    }))

  it.scopedLive(
    "a replica stopped immediately is UNHEALTHY within failureThreshold x interval + timeout, HEALTHY after restart",
    () => stoppedReplica(faultCase),
    60_000
  )

  it.scopedLive(
    "a frozen replica (SIGSTOP) is UNHEALTHY within the same bound and no probe waits past its timeout",
    () => frozenReplica(faultCase),
    60_000
  )

  it.scopedLive(
    "after a quiet spell, a write not yet replayed reads as the time since the replica was caught up, not the spell",
    () =>
      Effect.gen(function*() {
        const { monitor, write } = yield* caughtUpVictim("quiet")
        yield* Effect.gen(function*() {
          // The quiet spell: no transaction of this test for 3 s (the files run one at a time).
          yield* Effect.sleep("3 seconds")
          // Received and held unreplayed: what a replica shows in the moment before it replays a first write.
          yield* control(() => pauseReplay(victim))
          yield* write
          const paused = Date.now()
          yield* waitUntil(monitor.health(victim.name), (h) => (h.lagSeconds ?? 0) > 0, {
            what: `${victim.name} lag > 0`,
            timeoutMs: 5_000
          })
          const first = (yield* monitor.health(victim.name)).lagSeconds!
          const sincePause = (Date.now() - paused) / 1000
          console.log(`pg first write after 3 s of quiet, replay paused: lag ${first.toFixed(2)} s`)
          // PostgreSQL's own figure is the age of the last replayed commit: the whole spell, 3 s or more.
          expect(first).toBeLessThan(Math.min(2, sincePause + 1))
          // Still a lag that grows while replay stays paused.
          yield* Effect.sleep("1500 millis")
          expect((yield* monitor.health(victim.name)).lagSeconds!).toBeGreaterThan(first + 1)
          yield* control(() => resumeReplay(victim))
        }).pipe(Effect.ensuring(control(() => resumeReplay(victim)).pipe(Effect.ignore)))
      }),
    60_000
  )

  it.scopedLive(
    "paused replay makes the replica's lag grow; it returns to ~0 after resume",
    () =>
      Effect.gen(function*() {
        const { monitor, write } = yield* caughtUpVictim("lag")
        yield* Effect.gen(function*() {
          yield* control(() => pauseReplay(victim))
          yield* write
          yield* waitUntil(monitor.health(victim.name), (h) => (h.lagSeconds ?? 0) > 0, {
            what: `${victim.name} lag > 0`,
            timeoutMs: 5_000
          })
          const first = (yield* monitor.health(victim.name)).lagSeconds!
          yield* Effect.sleep("1200 millis")
          yield* write
          yield* Effect.sleep("300 millis")
          const later = yield* monitor.health(victim.name)
          console.log(`pg replay paused: lag ${first.toFixed(2)} s, then ${later.lagSeconds?.toFixed(2)} s 1.5 s later`)
          expect(later.lagSeconds!).toBeGreaterThan(first + 1)
          // Paused replay is lag, not a dead replica: still receiving.
          expect(later.replicating).toBe(true)
          yield* control(() => resumeReplay(victim))
          yield* write
          yield* waitUntil(monitor.health(victim.name), (h) => h.lagSeconds === 0, {
            what: `${victim.name} caught up again`,
            timeoutMs: 5_000
          })
        }).pipe(Effect.ensuring(control(() => resumeReplay(victim)).pipe(Effect.ignore)))
      }),
    60_000
  )

  it.scopedLive(
    "a slow path to a node (TCP proxy) is DEGRADED, HEALTHY again when fast; a blackhole is cut at the timeout",
    () =>
      Effect.gen(function*() {
        const target = replicas[0]!
        const proxy = yield* Effect.acquireRelease(
          Effect.promise(() => DelayProxy.start({ host: target.host, port: target.port })),
          (p) => Effect.promise(() => p.close())
        )
        const url = target.url.replace(`:${target.port}/`, `:${proxy.port}/`)
        const timing = timedProbe()
        const monitor = yield* HealthMonitor.make({
          ...FAST,
          nodes: [{ name: "via-proxy", role: "replica", url }],
          probe: timing.factory
        })
        yield* waitUntil(monitor.status("via-proxy"), (s) => s === "HEALTHY", {
          what: "via-proxy HEALTHY",
          timeoutMs: 5_000
        })
        // 150 ms each way: a 300 ms round trip, between degradedAfter (200) and unhealthyAfter (450).
        proxy.setDelay(150)
        const degraded = yield* waitUntil(monitor.status("via-proxy"), (s) => s === "DEGRADED", {
          what: "via-proxy DEGRADED",
          timeoutMs: 5_000
        })
        const h = yield* monitor.health("via-proxy")
        console.log(
          `slow proxy: DEGRADED after ${degraded} ms, probe latency ${Math.round(Duration.toMillis(h.lastLatency!))} ms`
        )
        proxy.setDelay(0)
        yield* waitUntil(monitor.status("via-proxy"), (s) => s === "HEALTHY", {
          what: "via-proxy HEALTHY again",
          timeoutMs: 5_000
        })
        proxy.setBlackhole(true)
        const detected = yield* waitUntil(monitor.status("via-proxy"), (s) => s === "UNHEALTHY", {
          what: "via-proxy UNHEALTHY",
          timeoutMs: 5_000
        })
        expect(detected).toBeLessThanOrEqual(DETECTION_BOUND_MS)
        // Later probes connect afresh into the blackhole: the monitor's timeout, not a driver's, ends each one.
        yield* waitUntil(monitor.health("via-proxy"), (h) => h.consecutiveFailures >= 3, {
          what: "via-proxy 3 failures",
          timeoutMs: 5_000
        })
        expect((yield* monitor.health("via-proxy")).lastError?.tag).toBe("Timeout")
        expect(Math.max(...timing.durations.get("via-proxy")!)).toBeLessThan(TIMEOUT_BOUND_MS)
        // Every timed-out probe closed its connection: at most the one being tried is open.
        expect(proxy.openConnections()).toBeLessThanOrEqual(1)
      }),
    60_000
  )

  it.scopedLive(
    "after 100 probe rounds with faults, at most one monitor session per node",
    () =>
      Effect.gen(function*() {
        const applicationName = appName("sessions")
        const monitor = yield* HealthMonitor.make({
          ...FAST,
          interval: "10 millis",
          backoffBase: "10 millis",
          backoffCap: "50 millis",
          timeout: "300 millis",
          applicationName,
          nodes: allNodes
        })
        const sessions = (node: NodeInfo) =>
          Effect.promise(() =>
            adminQuery<{ n: number }>(
              node,
              "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
              [applicationName]
            )
          ).pipe(Effect.map((rows) => rows[0]!.n))
        const maxSeen = new Map<string, number>()
        const sample = (nodes: ReadonlyArray<NodeInfo>) =>
          Effect.forEach(nodes, (node) =>
            Effect.map(sessions(node), (n) => {
              maxSeen.set(node.name, Math.max(maxSeen.get(node.name) ?? 0, n))
            }), { discard: true })
        const healthy = [primary, replicas[0]!]
        yield* Effect.gen(function*() {
          for (let round = 0; round < 100; round++) {
            yield* monitor.check
            // Faults along the way: passive reports, a crash and a freeze of replica-2.
            if (round % 7 === 0) yield* monitor.reportFailure(victim.name, { code: "ECONNRESET" })
            if (round === 20) yield* control(() => stopNode(victim))
            if (round === 40) yield* control(() => startNode(victim, { waitReplicating: false }))
            if (round === 60) yield* control(() => freezeNode(victim))
            if (round === 80) yield* control(() => unfreezeNode(victim))
            if (round % 10 === 0) yield* sample(round >= 20 && round < 90 ? healthy : [...healthy, victim])
          }
          yield* control(() => unfreezeNode(victim))
          yield* waitUntil(monitor.status(victim.name), (s) => s === "HEALTHY", {
            what: `${victim.name} HEALTHY`,
            timeoutMs: 10_000
          })
          yield* sample([...healthy, victim])
          // Sessions of probes cut on the frozen server go away once it runs again: poll until they have.
          yield* waitUntil(sessions(victim), (n) => n <= 1, {
            what: `at most one monitor session on ${victim.name}`,
            timeoutMs: 5_000
          })
        }).pipe(
          Effect.ensuring(control(() => unfreezeNode(victim)).pipe(Effect.zipRight(control(() => startNode(victim)))))
        )
        console.log(`pg sessions from the monitor, max per node: ${JSON.stringify(Object.fromEntries(maxSeen))}`)
        for (const n of maxSeen.values()) expect(n).toBeLessThanOrEqual(1)
        for (const node of [primary, ...replicas]) expect(yield* sessions(node)).toBe(1)
      }),
    90_000
  )
})
