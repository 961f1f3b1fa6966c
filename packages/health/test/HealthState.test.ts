import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import { resolveThresholds } from "../src/HealthMonitor.js"
import * as HealthState from "../src/HealthState.js"
import type { NodeHealth } from "../src/NodeHealth.js"
import type { ProbeResult } from "../src/Probe.js"

const t = resolveThresholds({
  interval: "100 millis",
  // Shorter than unhealthyAfter: a timeout counts like any failure (see the test for the other case).
  timeout: "500 millis",
  degradedAfter: "1 second",
  unhealthyAfter: "3 seconds",
  failureThreshold: 3,
  recoveryThreshold: 2,
  backoffBase: "100 millis",
  backoffCap: "1 second",
  authBackoffBase: "2 seconds",
  authBackoffCap: "10 seconds",
  smoothing: 0.5
})

const replicaOk: ProbeResult = { role: "replica", replicating: true, lagSeconds: 0.2, position: "0/3000000" }

const ok = (latencyMs: number, result: ProbeResult = replicaOk, at = 0): HealthState.Observation => ({
  _tag: "ProbeSucceeded",
  latency: Duration.millis(latencyMs),
  result,
  at
})
const failed = (
  tag: "ConnectionFailed" | "Timeout" | "StatementFailed" | "AuthenticationFailed" = "ConnectionFailed",
  source: "probe" | "report" = "probe",
  at = 0
): HealthState.Observation => ({ _tag: "Failed", source, tag, message: "x", at })
const reportedOk = (latencyMs: number, at = 0): HealthState.Observation => ({
  _tag: "SuccessReported",
  latency: Duration.millis(latencyMs),
  at
})

const run = (observations: ReadonlyArray<HealthState.Observation>, from = HealthState.initial("r1", "replica")) =>
  observations.reduce((s, o) => HealthState.step(s, o, t), from)

const statuses = (
  observations: ReadonlyArray<HealthState.Observation>,
  from = HealthState.initial("r1", "replica")
) => {
  const out: Array<string> = []
  let s: NodeHealth = from
  for (const o of observations) {
    s = HealthState.step(s, o, t)
    out.push(s.status)
  }
  return out
}

describe("HealthState", () => {
  it("starts UNKNOWN", () => {
    const s = HealthState.initial("r1", "replica")
    expect(s.status).toBe("UNKNOWN")
    expect(HealthState.nextDelay(s, t)).toEqual(t.interval)
  })

  it("UNKNOWN -> HEALTHY on a fast probe, recording latency, lag, role and position", () => {
    const s = run([ok(20, replicaOk, 1000)])
    expect(s).toMatchObject({
      status: "HEALTHY",
      role: "replica",
      roleMismatch: false,
      lagSeconds: 0.2,
      replicating: true,
      position: "0/3000000",
      consecutiveSuccesses: 1,
      consecutiveFailures: 0,
      lastCheckedAt: 1000,
      lastChangeAt: 1000
    })
    expect(Duration.toMillis(s.lastLatency!)).toBe(20)
  })

  it("DEGRADED between degradedAfter and unhealthyAfter, UNHEALTHY at once above", () => {
    expect(statuses([ok(20), ok(1500), ok(999), ok(1000)])).toEqual(["HEALTHY", "DEGRADED", "HEALTHY", "DEGRADED"])
    const slow = run([ok(20), ok(3200)])
    expect(slow.status).toBe("UNHEALTHY")
    expect(slow.lastError?.tag).toBe("TooSlow")
  })

  it("smooths latency exponentially", () => {
    const s = run([ok(100), ok(300)])
    expect(Duration.toMillis(s.smoothedLatency!)).toBe(200)
    expect(Duration.toMillis(s.lastLatency!)).toBe(300)
  })

  it("a HEALTHY node is suspect (DEGRADED) after a failure and UNHEALTHY after failureThreshold", () => {
    expect(statuses([ok(10), failed(), failed("Timeout"), failed()])).toEqual([
      "HEALTHY",
      "DEGRADED",
      "DEGRADED",
      "UNHEALTHY"
    ])
    const s = run([ok(10), failed(), failed(), failed("Timeout")])
    expect(s.consecutiveFailures).toBe(3)
    expect(s.lastError?.tag).toBe("Timeout")
    expect(s.lagSeconds).toBeUndefined()
  })

  it("a timeout is UNHEALTHY at once when the timeout is at least unhealthyAfter", () => {
    const long = { ...t, timeout: Duration.seconds(3) }
    const s = [ok(10), failed("Timeout")].reduce(
      (acc, o) => HealthState.step(acc, o, long),
      HealthState.initial("r1", "replica")
    )
    expect(s).toMatchObject({ status: "UNHEALTHY", consecutiveFailures: 1, lastError: { tag: "Timeout" } })
    // Backoff as for any failure.
    expect(Duration.toMillis(HealthState.nextDelay(s, long))).toBe(100)
  })

  it("an UNKNOWN node that never answered stays UNKNOWN until failureThreshold, then UNHEALTHY", () => {
    expect(statuses([failed(), failed(), failed()])).toEqual(["UNKNOWN", "UNKNOWN", "UNHEALTHY"])
  })

  it("a success in between resets the failure count", () => {
    expect(statuses([ok(10), failed(), failed(), ok(10), failed(), failed()])).toEqual([
      "HEALTHY",
      "DEGRADED",
      "DEGRADED",
      "HEALTHY",
      "DEGRADED",
      "DEGRADED"
    ])
  })

  it("recovers only after recoveryThreshold consecutive successes", () => {
    const down = run([ok(10), failed(), failed(), failed()])
    expect(statuses([ok(10), ok(10)], down)).toEqual(["UNHEALTHY", "HEALTHY"])
    expect(statuses([ok(10), failed(), ok(10), ok(10)], down)).toEqual([
      "UNHEALTHY",
      "UNHEALTHY",
      "UNHEALTHY",
      "HEALTHY"
    ])
    // Recovering into a slow node lands in DEGRADED.
    expect(statuses([ok(10), ok(1500)], down)).toEqual(["UNHEALTHY", "DEGRADED"])
  })

  it("backs off exponentially while UNHEALTHY, capped; probes at interval while recovering", () => {
    let s = run([failed(), failed(), failed()])
    const delays: Array<number> = []
    for (let i = 0; i < 6; i++) {
      delays.push(Duration.toMillis(HealthState.nextDelay(s, t)))
      s = HealthState.step(s, failed(), t)
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000])
    s = HealthState.step(s, ok(10), t)
    expect(s.status).toBe("UNHEALTHY")
    expect(Duration.toMillis(HealthState.nextDelay(s, t))).toBe(100)
  })

  it("a suspect node is probed at the normal interval", () => {
    expect(Duration.toMillis(HealthState.nextDelay(run([ok(10), failed()]), t))).toBe(100)
  })

  it("an authentication failure is UNHEALTHY at once, with its own slower backoff", () => {
    let s = run([ok(10), failed("AuthenticationFailed")])
    expect(s.status).toBe("UNHEALTHY")
    expect(s.lastError?.tag).toBe("AuthenticationFailed")
    const delays: Array<number> = []
    for (let i = 0; i < 5; i++) {
      delays.push(Duration.toMillis(HealthState.nextDelay(s, t)))
      s = HealthState.step(s, failed("AuthenticationFailed"), t)
    }
    expect(delays).toEqual([2000, 4000, 8000, 10000, 10000])
    // From UNKNOWN too: a refused login is not a flaky network.
    expect(run([failed("AuthenticationFailed")]).status).toBe("UNHEALTHY")
    // Fixed credentials: recovery as usual.
    expect(statuses([ok(10), ok(10)], s)).toEqual(["UNHEALTHY", "HEALTHY"])
  })

  it("a replica that is not replicating is UNHEALTHY at once with lag unknown, and recovers like any other", () => {
    const stopped = run([ok(10), ok(10, { role: "replica", replicating: false, lagSeconds: 0 })])
    expect(stopped.status).toBe("UNHEALTHY")
    expect(stopped.lagSeconds).toBeUndefined()
    expect(stopped.replicating).toBe(false)
    expect(stopped.lastError?.tag).toBe("NotReplicating")
    // It answers: probed at the normal interval, not on backoff.
    expect(HealthState.nextDelay(stopped, t)).toEqual(t.interval)
    expect(statuses([ok(10), ok(10)], stopped)).toEqual(["UNHEALTHY", "HEALTHY"])
  })

  it("reports a role mismatch without changing the status", () => {
    const promoted = run([ok(10), ok(10, { role: "primary", lagSeconds: 0 })])
    expect(promoted).toMatchObject({
      status: "HEALTHY",
      role: "primary",
      roleMismatch: true,
      configuredRole: "replica"
    })
    const demoted = run([ok(10, replicaOk)], HealthState.initial("p", "primary"))
    expect(demoted).toMatchObject({ status: "HEALTHY", role: "replica", roleMismatch: true })
    expect(run([ok(10, replicaOk), ok(10)]).roleMismatch).toBe(false)
  })

  it("marks a replica DEGRADED above maxLag", () => {
    const tl = { ...t, maxLag: Duration.seconds(5) }
    const s = HealthState.step(
      HealthState.initial("r", "replica"),
      ok(10, { role: "replica", replicating: true, lagSeconds: 7 }),
      tl
    )
    expect(s.status).toBe("DEGRADED")
    expect(HealthState.step(s, ok(10, { role: "replica", replicating: true, lagSeconds: 1 }), tl).status).toBe(
      "HEALTHY"
    )
  })

  it("bounds a replica's lag by the time since a probe last found it caught up", () => {
    const tl = { ...t, maxLag: Duration.seconds(5) }
    const replica = (lagSeconds: number | undefined, at: number): HealthState.Observation =>
      ok(10, { role: "replica", replicating: true, lagSeconds }, at)
    const step = (s: NodeHealth, o: HealthState.Observation) => HealthState.step(s, o, tl)
    const caughtUp = step(HealthState.initial("r", "replica"), replica(0, 1_000))
    expect(caughtUp.caughtUpAt).toBe(1_000)
    // A record with no transaction after 30 s of quiet: PostgreSQL says 30 s until it is replayed; 0.2 s at most.
    const afterQuiet = step(caughtUp, replica(30, 1_200))
    expect([afterQuiet.lagSeconds, afterQuiet.status, afterQuiet.caughtUpAt]).toEqual([0.2, "HEALTHY", 1_000])
    // Behind for longer than maxLag since it was last caught up: the lag is what it says, bounded, DEGRADED.
    const stuck = step(afterQuiet, replica(30, 8_000))
    expect([stuck.lagSeconds, stuck.status]).toEqual([7, "DEGRADED"])
    // Never seen caught up: nothing bounds it. Unknown stays unknown.
    expect(step(HealthState.initial("r", "replica"), replica(30, 1_200)).lagSeconds).toBe(30)
    expect(step(caughtUp, replica(undefined, 1_200)).lagSeconds).toBeUndefined()
  })

  it("reported failures make a node suspect but never UNHEALTHY by themselves", () => {
    expect(statuses([ok(10), failed("ConnectionFailed", "report"), failed("ConnectionFailed", "report")])).toEqual([
      "HEALTHY",
      "DEGRADED",
      "DEGRADED"
    ])
    const s = run([ok(10), ...Array.from({ length: 10 }, () => failed("ConnectionFailed", "report"))])
    expect(s.consecutiveFailures).toBe(t.failureThreshold - 1)
    expect(s.lastError).toMatchObject({ tag: "ConnectionFailed", source: "report" })
    // ...but the probe that confirms them does.
    expect(HealthState.step(s, failed(), t).status).toBe("UNHEALTHY")
  })

  it("a reported authentication failure is UNHEALTHY at once", () => {
    expect(run([ok(10), failed("AuthenticationFailed", "report")]).status).toBe("UNHEALTHY")
  })

  it("a reported success clears suspicion and counts toward recovery", () => {
    expect(statuses([ok(10), failed(), reportedOk(50)])).toEqual(["HEALTHY", "DEGRADED", "HEALTHY"])
    const down = run([ok(10), failed(), failed(), failed()])
    expect(statuses([reportedOk(5), reportedOk(5)], down)).toEqual(["UNHEALTHY", "HEALTHY"])
    // Reported latency feeds the smoothed figure, not the probe latency.
    const s = run([ok(100), reportedOk(300)])
    expect(Duration.toMillis(s.lastLatency!)).toBe(100)
    expect(Duration.toMillis(s.smoothedLatency!)).toBe(200)
  })

  it("a reported success cannot clear what only a probe sees (not replicating, too slow)", () => {
    const stopped = run([ok(10), ok(10, { role: "replica", replicating: false })])
    expect(statuses([reportedOk(5), reportedOk(5), reportedOk(5)], stopped)).toEqual([
      "UNHEALTHY",
      "UNHEALTHY",
      "UNHEALTHY"
    ])
    const slow = run([ok(3500)])
    expect(run([reportedOk(5), reportedOk(5)], slow).status).toBe("UNHEALTHY")
  })

  it("lastChangeAt moves only when the status does", () => {
    const s = run([ok(10, replicaOk, 100), ok(10, replicaOk, 200)])
    expect(s.lastChangeAt).toBe(100)
    expect(s.lastCheckedAt).toBe(200)
  })
})

describe("boundedLag", () => {
  const rows: ReadonlyArray<[number | undefined, number | undefined, number, number | undefined, string]> = [
    [30, 1_000, 1_200, 0.2, "caught up 200 ms ago: at most 0.2 s"],
    [0.1, 1_000, 5_000, 0.1, "a lag below the bound is the lag"],
    [30, undefined, 5_000, 30, "never seen caught up: unbounded"],
    [undefined, 1_000, 5_000, undefined, "unknown stays unknown"],
    [30, 5_000, 4_000, 0, "a clock that went back bounds at 0, not below"],
    [0, 1_000, 9_000, 0, "caught up now: 0"]
  ]
  for (const [lag, caughtUpAt, at, expected, why] of rows) {
    it(why, () => expect(HealthState.boundedLag(lag, caughtUpAt, at)).toBe(expected))
  }
})
