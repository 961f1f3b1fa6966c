import { describe, expect, it } from "@effect/vitest"
import type { NodeInfo } from "@fastorm/test-support"
import {
  adminQuery,
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
import * as Effect from "effect/Effect"
import * as Mysql from "mysql2/promise"
import * as HealthMonitor from "../src/HealthMonitor.js"
import type { FaultCase } from "./support/faults.js"
import { FAST, frozenReplica, stoppedReplica } from "./support/faults.js"

const cluster = loadCluster()
const { primary, replicas } = cluster.mariadb
// Faults only ever on replica-2: other test files share these servers.
const victim = replicas[1]!
const all = [primary, ...replicas]

// A monitoring user of this test run, with SLAVE MONITOR so SHOW SLAVE STATUS (and the lag) is readable. Created on
// the primary, it replicates to the replicas.
const monitorUser = `hmon_${process.pid}`
const monitorPassword = `hmon-pw-${process.pid}`
const withUser = (node: NodeInfo, user: string, password: string) =>
  node.url.replace(/^mysql:\/\/[^@]*@/, `mysql://${user}:${encodeURIComponent(password)}@`)
const appNodes = all.map((n) => ({ name: n.name, role: n.role, url: n.url }))
const monitorNodes = all.map((n) => ({ name: n.name, role: n.role, url: withUser(n, monitorUser, monitorPassword) }))

const canLogin = (node: NodeInfo) =>
  Effect.promise(async () => {
    try {
      const conn = await Mysql.createConnection({
        host: node.host,
        port: node.port,
        user: monitorUser,
        password: monitorPassword,
        connectTimeout: 2_000
      })
      await conn.end()
      return true
    } catch {
      return false
    }
  })

const createMonitorUser = Effect.gen(function*() {
  yield* Effect.acquireRelease(
    control(() =>
      adminQuery(primary, `CREATE USER IF NOT EXISTS '${monitorUser}'@'127.0.0.1' IDENTIFIED BY '${monitorPassword}'`)
    ),
    () => control(() => adminQuery(primary, `DROP USER IF EXISTS '${monitorUser}'@'127.0.0.1'`)).pipe(Effect.ignore)
  )
  yield* control(() => adminQuery(primary, `GRANT SLAVE MONITOR ON *.* TO '${monitorUser}'@'127.0.0.1'`))
  for (const node of all) {
    yield* waitUntil(canLogin(node), (ok) => ok, { what: `${monitorUser} on ${node.name}`, timeoutMs: 10_000 })
  }
})

const faultCase: FaultCase = {
  label: "mariadb",
  nodes: appNodes,
  victim,
  bystander: primary.name
}

describe("HealthMonitor on the MariaDB cluster", () => {
  it.scopedLive("sees every node HEALTHY; without SLAVE MONITOR a replica's lag is unknown, never 0", () =>
    Effect.gen(function*() {
      const monitor = yield* HealthMonitor.make({ ...FAST, nodes: appNodes })
      yield* waitUntil(monitor.snapshot, (s) => s.every((n) => n.status === "HEALTHY"), {
        what: "every node HEALTHY",
        timeoutMs: 5_000
      })
      const [p, r1] = yield* monitor.snapshot
      expect(p).toMatchObject({ role: "primary", roleMismatch: false, lagSeconds: 0 })
      expect(r1).toMatchObject({ role: "replica", roleMismatch: false, replicating: true, lagSeconds: undefined })
      expect(r1!.position).toMatch(/^\d+-\d+-\d+/)
    }))

  it.scopedLive("with SLAVE MONITOR the probe reads Seconds_Behind_Master", () =>
    Effect.gen(function*() {
      yield* createMonitorUser
      const monitor = yield* HealthMonitor.make({ ...FAST, nodes: monitorNodes })
      yield* waitUntil(monitor.snapshot, (s) => s.every((n) => n.status === "HEALTHY"), {
        what: "every node HEALTHY",
        timeoutMs: 5_000
      })
      const [p, r1, r2] = yield* monitor.snapshot
      expect(p).toMatchObject({ role: "primary", lagSeconds: 0 })
      for (const r of [r1!, r2!]) {
        expect(r).toMatchObject({ role: "replica", replicating: true })
        expect(r.lagSeconds).toBeGreaterThanOrEqual(0)
      }
    }), 30_000)

  it.scopedLive("a wrong password is an authentication failure, password never shown", () =>
    Effect.gen(function*() {
      const secret = "wrong-secret-pw"
      const monitor = yield* HealthMonitor.make({
        ...FAST,
        nodes: [{ name: "bad-login", role: "replica", url: withUser(replicas[0]!, "app", secret) }]
      })
      yield* waitUntil(monitor.status("bad-login"), (s) => s === "UNHEALTHY", {
        what: "bad-login UNHEALTHY",
        timeoutMs: 3_000
      })
      const h = yield* monitor.health("bad-login")
      expect(h.lastError).toMatchObject({ tag: "AuthenticationFailed", code: "ER_ACCESS_DENIED_ERROR" })
      expect(JSON.stringify(h)).not.toContain(secret)
    }))

  it.scopedLive(
    "a stopped SQL thread makes the replica UNHEALTHY with lag unknown (with and without SLAVE MONITOR)",
    () =>
      Effect.gen(function*() {
        yield* createMonitorUser
        const plain = yield* HealthMonitor.make({ ...FAST, nodes: appNodes })
        const privileged = yield* HealthMonitor.make({ ...FAST, nodes: monitorNodes })
        for (const m of [plain, privileged]) {
          yield* waitUntil(m.snapshot, (s) => s.every((n) => n.status === "HEALTHY"), {
            what: "every node HEALTHY",
            timeoutMs: 5_000
          })
        }
        yield* Effect.gen(function*() {
          yield* control(() => pauseReplay(victim))
          for (const [label, m] of [["app user", plain], ["monitor user", privileged]] as const) {
            const detected = yield* waitUntil(m.status(victim.name), (s) => s === "UNHEALTHY", {
              what: `${victim.name} UNHEALTHY`,
              timeoutMs: 5_000
            })
            console.log(`mariadb SQL thread stopped (${label}): UNHEALTHY after ${detected} ms`)
            expect(yield* m.health(victim.name)).toMatchObject({
              status: "UNHEALTHY",
              replicating: false,
              lagSeconds: undefined,
              lastError: { tag: "NotReplicating" }
            })
            expect(yield* m.status(replicas[0]!.name)).toBe("HEALTHY")
          }
          yield* control(() => resumeReplay(victim))
          for (const m of [plain, privileged]) {
            yield* waitUntil(m.status(victim.name), (s) => s === "HEALTHY", {
              what: `${victim.name} HEALTHY again`,
              timeoutMs: 5_000
            })
          }
          expect((yield* privileged.health(victim.name)).lagSeconds).toBeGreaterThanOrEqual(0)
        }).pipe(Effect.ensuring(control(() => resumeReplay(victim)).pipe(Effect.ignore)))
      }),
    30_000
  )

  it.scopedLive(
    "a frozen replica is UNHEALTHY within failureThreshold x interval + timeout; no probe waits past it",
    () => frozenReplica(faultCase),
    30_000
  )

  it.scopedLive(
    "a stopped replica is UNHEALTHY within the bound and HEALTHY after restart",
    () => stoppedReplica(faultCase),
    60_000
  )

  it.scopedLive(
    "after 100 probe rounds with faults, at most one monitor session per node",
    () =>
      Effect.gen(function*() {
        yield* createMonitorUser
        const monitor = yield* HealthMonitor.make({
          ...FAST,
          interval: "10 millis",
          backoffBase: "10 millis",
          backoffCap: "50 millis",
          timeout: "300 millis",
          unhealthyAfter: "300 millis",
          nodes: monitorNodes
        })
        const sessions = (node: NodeInfo) =>
          Effect.promise(() =>
            adminQuery<{ n: number }>(
              node,
              "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?",
              [monitorUser]
            )
          ).pipe(Effect.map((rows) => Number(rows[0]!.n)))
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
            if (round % 7 === 0) yield* monitor.reportFailure(victim.name, { code: "PROTOCOL_CONNECTION_LOST" })
            if (round === 10) yield* control(() => pauseReplay(victim))
            if (round === 20) yield* control(() => resumeReplay(victim))
            if (round === 30) yield* control(() => stopNode(victim))
            if (round === 50) yield* control(() => startNode(victim, { waitReplicating: false }))
            if (round === 60) yield* control(() => freezeNode(victim))
            if (round === 80) yield* control(() => unfreezeNode(victim))
            if (round % 10 === 0) yield* sample(round >= 30 && round < 90 ? healthy : [...healthy, victim])
          }
          yield* control(() => unfreezeNode(victim))
          yield* waitUntil(monitor.status(victim.name), (s) => s === "HEALTHY", {
            what: `${victim.name} HEALTHY`,
            timeoutMs: 15_000
          })
          yield* sample([...healthy, victim])
          // Connections cut while the server was frozen are noticed by it once it runs again: poll until gone.
          yield* waitUntil(sessions(victim), (n) => n <= 1, {
            what: `at most one monitor session on ${victim.name}`,
            timeoutMs: 10_000
          })
        }).pipe(
          Effect.ensuring(
            control(() => unfreezeNode(victim)).pipe(
              Effect.zipRight(control(() => startNode(victim))),
              Effect.zipRight(control(() => resumeReplay(victim))),
              Effect.ignore
            )
          )
        )
        console.log(`mariadb sessions from the monitor, max per node: ${JSON.stringify(Object.fromEntries(maxSeen))}`)
        for (const n of maxSeen.values()) expect(n).toBeLessThanOrEqual(1)
        for (const node of all) expect(yield* sessions(node)).toBe(1)
      }),
    90_000
  )
})
