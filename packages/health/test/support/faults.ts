/**
 * The live fault scenarios every server's health tests run alike (a replica stopped, a replica frozen), with the
 * monitor timings they share and the bounds those timings imply.
 */
import { expect } from "@effect/vitest"
import type { NodeInfo } from "@fastorm/test-support"
import {
  control,
  freezeNode,
  LOADED_MACHINE_SLACK_MS,
  startNode,
  stopNode,
  unfreezeNode,
  waitUntil
} from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as HealthMonitor from "../../src/HealthMonitor.js"
import { timedProbe } from "./live.js"

/** Monitor timings short enough for a test to see every transition within seconds. */
export const FAST = {
  interval: "100 millis",
  timeout: "500 millis",
  degradedAfter: "200 millis",
  // Not above the timeout: a probe that times out was slower than this, so a frozen node is UNHEALTHY at once.
  unhealthyAfter: "450 millis",
  failureThreshold: 3,
  recoveryThreshold: 2,
  backoffBase: "100 millis",
  backoffCap: "400 millis"
} as const

/**
 * failureThreshold x interval + timeout, plus a loaded machine's slack; without the monitor's own timeout a frozen
 * node's probe would hang and a stopped one's wait for a driver's default connect timeout (10 s or none).
 */
export const DETECTION_BOUND_MS = FAST.failureThreshold * 100 + 500 + LOADED_MACHINE_SLACK_MS

/**
 * Worst case once the node is back: one capped backoff wait, then recoveryThreshold probes an interval apart (and the
 * slack); an uncapped backoff would wait seconds.
 */
export const RECOVERY_BOUND_MS = 400 + FAST.recoveryThreshold * (100 + 500) + LOADED_MACHINE_SLACK_MS

/** A probe or check ends at the monitor's timeout (500 ms) plus the slack; on a frozen node it would otherwise hang. */
export const TIMEOUT_BOUND_MS = 500 + LOADED_MACHINE_SLACK_MS

/** One cluster's side of a scenario: its nodes as the monitor sees them, and the replica the fault hits. */
export interface FaultCase {
  /** Names the cluster in the measured figures the scenario prints. */
  readonly label: string
  readonly nodes: ReadonlyArray<HealthMonitor.NodeUrlConfig>
  readonly victim: NodeInfo
  /** A node the fault must leave HEALTHY. */
  readonly bystander: string
}

const allHealthy = (monitor: HealthMonitor.HealthMonitorShape) =>
  waitUntil(monitor.snapshot, (s) => s.every((n) => n.status === "HEALTHY"), {
    what: "every node HEALTHY",
    timeoutMs: 5_000
  })

/**
 * After `fault` (named `what`) hit the victim: UNHEALTHY within `DETECTION_BOUND_MS`, its last error tagged `tag`, the
 * bystander untouched.
 */
const detected = (
  monitor: HealthMonitor.HealthMonitorShape,
  c: FaultCase,
  what: string,
  tag: string
) =>
  Effect.gen(function*() {
    const ms = yield* waitUntil(monitor.status(c.victim.name), (s) => s === "UNHEALTHY", {
      what: `${c.victim.name} UNHEALTHY`,
      timeoutMs: 10_000
    })
    console.log(`${c.label} replica ${what}: UNHEALTHY after ${ms} ms (bound ${DETECTION_BOUND_MS} ms)`)
    expect(ms).toBeLessThanOrEqual(DETECTION_BOUND_MS)
    expect((yield* monitor.health(c.victim.name)).lastError?.tag).toBe(tag)
    expect(yield* monitor.status(c.bystander)).toBe("HEALTHY")
  })

/**
 * A replica stopped at once: UNHEALTHY within `DETECTION_BOUND_MS` with a connection failure, the bystander untouched;
 * HEALTHY again within `RECOVERY_BOUND_MS` of its restart.
 */
export const stoppedReplica = (c: FaultCase): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const { victim } = c
    const monitor = yield* HealthMonitor.make({ ...FAST, nodes: c.nodes })
    yield* allHealthy(monitor)
    yield* Effect.gen(function*() {
      yield* control(() => stopNode(victim))
      yield* detected(monitor, c, "stopped", "ConnectionFailed")
      yield* control(() => startNode(victim, { waitReplicating: false }))
      const recovered = yield* waitUntil(monitor.status(victim.name), (s) => s === "HEALTHY", {
        what: `${victim.name} HEALTHY`,
        timeoutMs: 15_000
      })
      console.log(`${c.label} replica restarted: HEALTHY after ${recovered} ms (bound ${RECOVERY_BOUND_MS} ms)`)
      expect(recovered).toBeLessThanOrEqual(RECOVERY_BOUND_MS)
    }).pipe(Effect.ensuring(control(() => startNode(victim))))
  })

/**
 * A replica frozen (SIGSTOP): UNHEALTHY within `DETECTION_BOUND_MS` with a timeout; an immediate check of it and
 * every probe of it end within `TIMEOUT_BOUND_MS`; HEALTHY again once it runs.
 */
export const frozenReplica = (c: FaultCase): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const { victim } = c
    const timing = timedProbe()
    const monitor = yield* HealthMonitor.make({ ...FAST, nodes: c.nodes, probe: timing.factory })
    yield* allHealthy(monitor)
    yield* Effect.gen(function*() {
      yield* control(() => freezeNode(victim))
      yield* detected(monitor, c, "frozen", "Timeout")
      const t0 = Date.now()
      yield* monitor.checkNode(victim.name)
      const checkMs = Date.now() - t0
      expect(checkMs).toBeLessThan(TIMEOUT_BOUND_MS)
      const longest = Math.max(...timing.durations.get(victim.name)!)
      console.log(
        `${c.label} replica frozen: longest probe ${longest.toFixed(0)} ms, check ${checkMs} ms (timeout 500 ms)`
      )
      expect(longest).toBeLessThan(TIMEOUT_BOUND_MS)
      yield* control(() => unfreezeNode(victim))
      const recovered = yield* waitUntil(monitor.status(victim.name), (s) => s === "HEALTHY", {
        what: `${victim.name} HEALTHY`,
        timeoutMs: 10_000
      })
      console.log(`${c.label} replica unfrozen: HEALTHY after ${recovered} ms`)
    }).pipe(Effect.ensuring(control(() => unfreezeNode(victim))))
  })
