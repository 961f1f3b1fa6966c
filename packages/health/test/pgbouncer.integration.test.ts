/**
 * The HealthMonitor through the test cluster's PgBouncers (transaction pooling, stock settings): the PostgreSQL probe
 * connects although PgBouncer refuses its `statement_timeout` startup parameter, its one statement reads role,
 * position and lag on whichever server connection runs it, a server PgBouncer cannot reach is a connection failure,
 * and a pooler with no connection free does not count against the node.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  control,
  loadCluster,
  LOADED_MACHINE_SLACK_MS,
  startNode,
  stopNode,
  throughPgBouncer,
  waitUntil
} from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as HealthMonitor from "../src/HealthMonitor.js"

const cluster = loadCluster()
const nodes = throughPgBouncer(cluster.postgres, cluster.pgbouncer)
// Faults only ever on replica-2: other test files share these servers.
const victim = nodes.replicas[1]!

const fast = {
  interval: "100 millis",
  timeout: "500 millis",
  failureThreshold: 3,
  recoveryThreshold: 2,
  backoffBase: "100 millis",
  backoffCap: "400 millis"
} as const

const all = [nodes.primary, ...nodes.replicas].map((n) => ({ name: n.name, role: n.role, url: n.url }))

describe("HealthMonitor through PgBouncer", () => {
  it.scopedLive("sees every node HEALTHY with its role, position and lag", () =>
    Effect.gen(function*() {
      const monitor = yield* HealthMonitor.make({ ...fast, nodes: all })
      yield* waitUntil(monitor.snapshot, (s) => s.every((n) => n.status === "HEALTHY"), {
        what: "every node HEALTHY through PgBouncer",
        timeoutMs: 5_000
      })
      const [p, r1, r2] = yield* monitor.snapshot
      expect(p).toMatchObject({ role: "primary", roleMismatch: false, lagSeconds: 0 })
      for (const r of [r1, r2]) {
        expect(r).toMatchObject({ role: "replica", roleMismatch: false, replicating: true })
        expect(r!.position).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
      }
    }))

  it.scopedLive(
    "a replica stopped behind its PgBouncer is UNHEALTHY (connection-class), and HEALTHY once back",
    () =>
      Effect.gen(function*() {
        const monitor = yield* HealthMonitor.make({ ...fast, nodes: all })
        yield* waitUntil(monitor.status(victim.name), (s) => s === "HEALTHY", {
          what: `${victim.name} HEALTHY`,
          timeoutMs: 5_000
        })
        yield* Effect.addFinalizer(() => control(() => startNode(victim, { timeoutMs: 60_000 })))
        yield* control(() => stopNode(victim))
        const stoppedAt = Date.now()
        yield* waitUntil(monitor.status(victim.name), (s) => s === "UNHEALTHY", {
          what: `${victim.name} UNHEALTHY behind PgBouncer`,
          timeoutMs: 10_000
        })
        const detectedMs = Date.now() - stoppedAt
        const down = yield* monitor.health(victim.name)
        // PgBouncer's own answer (08P01: the server connection crashed, or its login keeps failing), never "Busy".
        expect(down.lastError).toMatchObject({ tag: "ConnectionFailed", code: "08P01" })
        yield* control(() => startNode(victim, { timeoutMs: 60_000 }))
        const startedAt = Date.now()
        yield* waitUntil(monitor.status(victim.name), (s) => s === "HEALTHY", {
          what: `${victim.name} HEALTHY again behind PgBouncer`,
          timeoutMs: 15_000
        })
        const recoveredMs = Date.now() - startedAt
        console.log(`[figures] health behind PgBouncer ${JSON.stringify({ detectedMs, recoveredMs })}`)
        // failureThreshold probes; back: PgBouncer's server_login_retry (1 s), a capped backoff, recoveryThreshold probes.
        expect(detectedMs).toBeLessThanOrEqual(3 * 100 + 500 + LOADED_MACHINE_SLACK_MS)
        expect(recoveredMs).toBeLessThanOrEqual(1_000 + 400 + 2 * 600 + LOADED_MACHINE_SLACK_MS)
      }),
    60_000
  )

  it.scopedLive("a pooler's \"no connection free\" reported by the application does not make the node suspect", () =>
    Effect.gen(function*() {
      const monitor = yield* HealthMonitor.make({ ...fast, nodes: all })
      const busy = Object.assign(new Error("no more connections allowed (max_client_conn)"), { code: "08P01" })
      expect(yield* monitor.reportFailure(victim.name, busy)).toEqual({ _tag: "Busy", code: "08P01" })
      expect((yield* monitor.health(victim.name)).suspectSince).toBeUndefined()
      const unreachable = Object.assign(new Error("server login has been failing, try again later"), { code: "08P01" })
      expect((yield* monitor.reportFailure(victim.name, unreachable))._tag).toBe("Connection")
      expect((yield* monitor.health(victim.name)).suspectSince).toBeDefined()
    }))
})
