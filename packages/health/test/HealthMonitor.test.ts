import { TransactionConnection } from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as HealthMonitor from "../src/HealthMonitor.js"
import * as Metrics from "../src/internal/metrics.js"
import type { StatusChange } from "../src/NodeHealth.js"
import type { ProbeFactory } from "../src/Probe.js"
import { ProbeError } from "../src/Probe.js"
import * as Scripted from "./support/ScriptedProbe.js"

// Every duration in milliseconds: interval 100, timeout 300, DEGRADED from 50, UNHEALTHY from 150.
const base = {
  interval: "100 millis",
  timeout: "300 millis",
  degradedAfter: "50 millis",
  unhealthyAfter: "150 millis",
  failureThreshold: 3,
  recoveryThreshold: 2,
  backoffBase: "100 millis",
  backoffCap: "400 millis",
  authBackoffBase: "1 second",
  authBackoffCap: "4 seconds"
} satisfies Partial<HealthMonitor.HealthMonitorConfig>

const nodes = (...names: ReadonlyArray<string>) =>
  names.map((name) => ({ name, role: name.startsWith("p") ? "primary" as const : "replica" as const }))

const start = (
  script: Scripted.Scripted,
  names: ReadonlyArray<string>,
  overrides: Partial<HealthMonitor.HealthMonitorConfig> = {}
) => HealthMonitor.make({ ...base, ...overrides, nodes: nodes(...names), probe: script.factory })

const { advance } = Scripted

/** Moves the clock in 1 ms steps until the condition holds; returns the elapsed milliseconds. */
const advanceUntil = <E>(condition: Effect.Effect<boolean, E>, limitMs: number) =>
  Effect.gen(function*() {
    for (let ms = 0; ms <= limitMs; ms++) {
      if (yield* condition) return ms
      yield* advance(1)
    }
    return yield* Effect.dieMessage(`condition not met within ${limitMs} ms`)
  })

const drain = (queue: Queue.Dequeue<StatusChange>) =>
  Effect.map(
    Queue.takeAll(queue),
    (changes) => Chunk.toReadonlyArray(changes).map((c) => `${c.node} ${c.from}->${c.to} @${c.at}`)
  )

describe("HealthMonitor (TestClock, scripted probe)", () => {
  it.scoped("probes every node concurrently from the start: UNKNOWN -> HEALTHY, published on changes", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("5 millis"))
      const monitor = yield* start(script, ["p", "r1", "r2"])
      const changes = yield* monitor.subscribe
      expect((yield* monitor.snapshot).map((n) => n.status)).toEqual(["UNKNOWN", "UNKNOWN", "UNKNOWN"])
      yield* advance(5)
      const snapshot = yield* monitor.snapshot
      expect(snapshot.map((n) => n.status)).toEqual(["HEALTHY", "HEALTHY", "HEALTHY"])
      expect(Duration.toMillis(snapshot[1]!.lastLatency!)).toBe(5)
      expect([...yield* drain(changes)].sort()).toEqual([
        "p UNKNOWN->HEALTHY @5",
        "r1 UNKNOWN->HEALTHY @5",
        "r2 UNKNOWN->HEALTHY @5"
      ])
      expect(monitor.nodes).toEqual([
        { name: "p", role: "primary" },
        { name: "r1", role: "replica" },
        { name: "r2", role: "replica" }
      ])
      // Then every interval after each probe ends.
      yield* advance(105)
      expect(script.calls("r1")).toBe(2)
    }))

  it.scoped("changes is a Stream of the same transitions", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("5 millis"))
      const monitor = yield* start(script, ["s1"])
      const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(monitor.changes, 2)))
      yield* Effect.yieldNow()
      yield* advance(5)
      script.set("s1", Scripted.answer("80 millis"))
      yield* advance(100 + 80)
      const collected = Chunk.toReadonlyArray(yield* fiber.await.pipe(Effect.flatten))
      expect(collected.map((c) => `${c.from}->${c.to}`)).toEqual(["UNKNOWN->HEALTHY", "HEALTHY->DEGRADED"])
    }))

  it.scoped("a slow probe is DEGRADED, a very slow one UNHEALTHY (TooSlow)", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("80 millis"))
      const monitor = yield* start(script, ["a"])
      yield* advance(80)
      expect(yield* monitor.status("a")).toBe("DEGRADED")
      script.set("a", Scripted.answer("200 millis"))
      yield* advance(100 + 200)
      const a = yield* monitor.health("a")
      expect(a.status).toBe("UNHEALTHY")
      expect(a.lastError?.tag).toBe("TooSlow")
    }))

  it.scoped("UNHEALTHY after failureThreshold failures, within failureThreshold x interval + timeout", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("5 millis"))
      const monitor = yield* start(script, ["r"])
      const changes = yield* monitor.subscribe
      yield* advance(5)
      script.set("r", Scripted.failWith("Connection", "ECONNREFUSED"))
      const took = yield* advanceUntil(Effect.map(monitor.status("r"), (s) => s === "UNHEALTHY"), 1000)
      expect(took).toBeLessThanOrEqual(3 * 100 + 300)
      expect(yield* drain(changes)).toEqual([
        "r UNKNOWN->HEALTHY @5",
        "r HEALTHY->DEGRADED @105",
        "r DEGRADED->UNHEALTHY @305"
      ])
      const r = yield* monitor.health("r")
      expect(r.consecutiveFailures).toBe(3)
      expect(r.lastError).toMatchObject({ tag: "ConnectionFailed", code: "ECONNREFUSED", source: "probe", at: 305 })
    }))

  it.scoped("a hanging probe is cut at the timeout (interrupted); timeout >= unhealthyAfter: UNHEALTHY at once", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("5 millis"))
      const monitor = yield* start(script, ["f"])
      yield* advance(5)
      script.set("f", Scripted.hang)
      // The next probe starts at 105 and waits exactly the timeout (300 ms).
      yield* advance(100 + 299)
      expect(script.interrupted("f")).toBe(0)
      expect(yield* monitor.status("f")).toBe("HEALTHY")
      yield* advance(1)
      expect(script.interrupted("f")).toBe(1)
      expect(yield* monitor.health("f")).toMatchObject({
        status: "UNHEALTHY",
        lastError: { tag: "Timeout", at: 405 }
      })
      expect(script.maxConcurrent("f")).toBe(1)
    }))

  it.scoped("with a timeout below unhealthyAfter, timeouts count toward failureThreshold", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("5 millis"))
      const monitor = yield* start(script, ["g"], { unhealthyAfter: "400 millis" })
      yield* advance(5)
      script.set("g", Scripted.hang)
      yield* advance(400)
      expect(yield* monitor.health("g")).toMatchObject({ status: "DEGRADED", lastError: { tag: "Timeout", at: 405 } })
      const took = yield* advanceUntil(Effect.map(monitor.status("g"), (s) => s === "UNHEALTHY"), 2000)
      // Two more probes, each 100 ms apart and 300 ms long.
      expect(took).toBe(2 * (100 + 300))
      expect(script.interrupted("g")).toBe(3)
      expect(script.maxConcurrent("g")).toBe(1)
    }))

  it.scoped("backs off exponentially while UNHEALTHY, up to the cap", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.failWith("Connection", "ECONNREFUSED"))
      const monitor = yield* start(script, ["d"])
      // Failing probes take no time: at 0, 100, 200 -> UNHEALTHY at 200.
      yield* advance(0)
      yield* advance(200)
      expect(yield* monitor.status("d")).toBe("UNHEALTHY")
      expect(script.calls("d")).toBe(3)
      const times: Array<number> = []
      let seen = script.calls("d")
      for (let ms = 200; ms < 2200; ms += 10) {
        yield* advance(10)
        if (script.calls("d") !== seen) {
          seen = script.calls("d")
          times.push(ms + 10)
        }
      }
      // Delays 100, 200, 400, then the 400 cap.
      expect(times).toEqual([300, 500, 900, 1300, 1700, 2100])
    }))

  it.scoped("recovers only after recoveryThreshold successes, probing at interval while recovering", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.failWith("Connection", "ECONNRESET"))
      const monitor = yield* start(script, ["x"])
      const changes = yield* monitor.subscribe
      yield* advance(0)
      yield* advance(200)
      expect(yield* monitor.status("x")).toBe("UNHEALTHY")
      script.set("x", Scripted.answer("5 millis"))
      // Next probe at 300 (backoff 100) succeeds: still UNHEALTHY; then at 405 + 5: HEALTHY.
      yield* advance(105)
      expect(yield* monitor.health("x")).toMatchObject({ status: "UNHEALTHY", consecutiveSuccesses: 1 })
      const took = yield* advanceUntil(Effect.map(monitor.status("x"), (s) => s === "HEALTHY"), 1000)
      expect(305 + took).toBe(410)
      expect(yield* drain(changes)).toEqual(["x UNKNOWN->UNHEALTHY @200", "x UNHEALTHY->HEALTHY @410"])
    }))

  it.scoped("authentication failures: UNHEALTHY at once, retried on the slower auth backoff", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.failWith("Authentication", "28P01"))
      const monitor = yield* start(script, ["auth"])
      yield* advance(0)
      const h = yield* monitor.health("auth")
      expect(h.status).toBe("UNHEALTHY")
      expect(h.lastError).toMatchObject({ tag: "AuthenticationFailed", code: "28P01" })
      const times: Array<number> = []
      let seen = script.calls("auth")
      for (let ms = 0; ms < 12_000; ms += 50) {
        yield* advance(50)
        if (script.calls("auth") !== seen) {
          seen = script.calls("auth")
          times.push(ms + 50)
        }
      }
      // 1 s, 2 s, 4 s, then the 4 s cap: never a tight loop of refused logins.
      expect(times).toEqual([1000, 3000, 7000, 11000])
    }))

  it.scoped("reportFailure: a connection-class error makes the node suspect at once and probes it now", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("5 millis"))
      const monitor = yield* start(script, ["p1", "r1"])
      yield* advance(5)
      expect(script.calls("r1")).toBe(1)
      script.set("r1", Scripted.failWith("Connection", "ECONNREFUSED"))
      const verdict = yield* monitor.reportFailure("r1", {
        _tag: "SqlError",
        cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
      })
      expect(verdict).toEqual({ _tag: "Connection", code: "ECONNREFUSED" })
      expect(yield* monitor.health("r1")).toMatchObject({
        status: "DEGRADED",
        lastError: { tag: "ConnectionFailed", source: "report" }
      })
      // The probe runs now, not at the next interval.
      yield* advance(0)
      expect(script.calls("r1")).toBe(2)
      expect(yield* monitor.status("r1")).toBe("DEGRADED")
      // The probe confirms: UNHEALTHY after the threshold of probe failures.
      yield* advanceUntil(Effect.map(monitor.status("r1"), (s) => s === "UNHEALTHY"), 1000)
      // While UNHEALTHY, reports do not wake the loop: no tight loop of probes at the application's rate.
      const calls = script.calls("r1")
      for (let i = 0; i < 20; i++) {
        yield* monitor.reportFailure("r1", Object.assign(new Error("x"), { code: "ECONNRESET" }))
      }
      yield* advance(0)
      expect(script.calls("r1")).toBe(calls)
      // The primary was never touched by any of it.
      expect(yield* monitor.status("p1")).toBe("HEALTHY")
    }))

  it.scoped("reportFailure ignores statement errors; an authentication failure is UNHEALTHY at once", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("5 millis"))
      const monitor = yield* start(script, ["n"])
      yield* advance(5)
      const dup = yield* monitor.reportFailure("n", { _tag: "SqlError", cause: { code: "23505", message: "dup" } })
      expect(dup._tag).toBe("Statement")
      expect(yield* monitor.status("n")).toBe("HEALTHY")
      const auth = yield* monitor.reportFailure("n", { cause: { code: "ER_ACCESS_DENIED_ERROR", errno: 1045 } })
      expect(auth._tag).toBe("Authentication")
      expect(yield* monitor.health("n")).toMatchObject({
        status: "UNHEALTHY",
        lastError: { tag: "AuthenticationFailed", source: "report" }
      })
    }))

  it.scoped("reportSuccess clears a suspicion and counts toward recovery", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("5 millis"))
      const monitor = yield* start(script, ["q"], { interval: "10 seconds" })
      yield* advance(5)
      yield* monitor.reportFailure("q", { code: "ECONNRESET" })
      expect(yield* monitor.status("q")).toBe("DEGRADED")
      yield* monitor.reportSuccess("q", "12 millis")
      expect(yield* monitor.status("q")).toBe("HEALTHY")
      const q = yield* monitor.health("q")
      expect(Duration.toMillis(q.lastLatency!)).toBe(5)
      expect(Duration.toMillis(q.smoothedLatency!)).toBeCloseTo(0.3 * 12 + 0.7 * 5)
    }))

  it.scoped("check probes every node now and returns the snapshot; checkNode one node", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("0 millis"))
      const monitor = yield* start(script, ["c1", "c2"], { interval: "1 hour" })
      yield* advance(0)
      expect(script.calls("c1")).toBe(1)
      script.set("c2", Scripted.failWith("Connection"))
      const snapshot = yield* monitor.check
      expect(script.calls("c1")).toBe(2)
      expect(snapshot.map((n) => n.status)).toEqual(["HEALTHY", "DEGRADED"])
      const c2 = yield* monitor.checkNode("c2")
      expect(c2.consecutiveFailures).toBe(2)
      expect(script.calls("c1")).toBe(2)
    }))

  it.scoped("a probe and a check never run at the same time on one node", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("50 millis"))
      const monitor = yield* start(script, ["one"])
      const fiber = yield* Effect.fork(monitor.check)
      yield* advance(200)
      yield* fiber.await
      expect(script.calls("one")).toBeGreaterThanOrEqual(2)
      expect(script.maxConcurrent("one")).toBe(1)
    }))

  it.scoped("unknown node names fail with UnknownNode", () =>
    Effect.gen(function*() {
      const monitor = yield* start(Scripted.make(), ["k"])
      const error = yield* Effect.flip(monitor.status("nope"))
      expect(error._tag).toBe("UnknownNode")
      expect(error.message).toContain("nope")
      expect((yield* Effect.flip(monitor.reportFailure("nope", new Error("x"))))._tag).toBe("UnknownNode")
    }))

  it.scoped("publishes status, latency and lag gauges per node", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("7 millis", { role: "replica", replicating: true, lagSeconds: 2 }))
      const monitor = yield* start(script, ["gauge-p", "gauge-r"])
      const m = Metrics.forNode("gauge-r")
      expect((yield* Metric.value(m.status)).value).toBe(0)
      yield* advance(7)
      expect((yield* Metric.value(m.status)).value).toBe(1)
      expect((yield* Metric.value(m.latency)).value).toBe(7)
      expect((yield* Metric.value(m.lag)).value).toBe(2)
      script.set("gauge-r", Scripted.answer("1 millis", { role: "replica", replicating: false }))
      yield* advance(101)
      expect(yield* monitor.status("gauge-r")).toBe("UNHEALTHY")
      expect((yield* Metric.value(m.status)).value).toBe(3)
      expect((yield* Metric.value(m.lag)).value).toBe(-1)
    }))

  it.scoped("reports a role mismatch on changes", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("1 millis", { role: "replica", replicating: true, lagSeconds: 0 }))
      const monitor = yield* start(script, ["primary-node"])
      const changes = yield* monitor.subscribe
      yield* advance(1)
      const [change] = Chunk.toReadonlyArray(yield* Queue.takeAll(changes))
      expect(change!.health).toMatchObject({ configuredRole: "primary", role: "replica", roleMismatch: true })
    }))

  it.scoped("probes never see a caller's transaction connection", () =>
    Effect.gen(function*() {
      const seen: Array<boolean> = []
      const probe: ProbeFactory = () =>
        Effect.succeed({
          run: Effect.map(Effect.serviceOption(TransactionConnection), (tx) => {
            seen.push(Option.isSome(tx))
            return { role: "primary" as const, lagSeconds: 0 }
          })
        })
      const fakeTx = [{} as Connection, 0] as const
      // Built and checked from inside a "transaction": neither the loops nor check may inherit it.
      const monitor = yield* HealthMonitor.make({ ...base, nodes: nodes("t"), probe }).pipe(
        Effect.provideService(TransactionConnection, fakeTx)
      )
      yield* monitor.check.pipe(Effect.provideService(TransactionConnection, fakeTx))
      yield* advance(0)
      expect(seen.length).toBeGreaterThanOrEqual(2)
      expect(seen.every((inTx) => !inTx)).toBe(true)
    }))

  it.effect("closing the scope stops the loops and releases every probe", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("1 millis"))
      const scope = yield* Scope.make()
      yield* Scope.extend(start(script, ["z1", "z2"]), scope)
      yield* advance(1)
      yield* Scope.close(scope, Exit.void)
      expect(script.released("z1") && script.released("z2")).toBe(true)
      const calls = script.calls("z1")
      yield* advance(1000)
      expect(script.calls("z1")).toBe(calls)
    }))

  it.scoped("rejects a configuration that makes no sense", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        start(Scripted.make(), ["a", "a"], { failureThreshold: 0, smoothing: 2, interval: 0 })
      )
      expect(error._tag).toBe("InvalidHealthConfig")
      if (error._tag !== "InvalidHealthConfig") return
      expect(error.problems).toEqual([
        "interval must be positive",
        "failureThreshold must be an integer >= 1",
        "smoothing must be in (0, 1]",
        "node name \"a\" is used twice"
      ])
    }))

  it.scoped("a probe defect is a failed probe, not a dead monitor", () =>
    Effect.gen(function*() {
      let n = 0
      const probe: ProbeFactory = () =>
        Effect.succeed({
          run: Effect.suspend(() => {
            n++
            return n === 1 ? Effect.die(new Error("boom")) : Effect.succeed({ role: "primary" as const })
          })
        })
      const monitor = yield* HealthMonitor.make({ ...base, nodes: nodes("d"), probe })
      yield* advance(0)
      expect(yield* monitor.health("d")).toMatchObject({ status: "UNKNOWN", lastError: { tag: "StatementFailed" } })
      yield* advance(100)
      expect(yield* monitor.status("d")).toBe("HEALTHY")
    }))

  it.effect("layer provides the service and starts probing when built", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("2 millis"))
      const status = yield* Effect.gen(function*() {
        const monitor = yield* HealthMonitor.HealthMonitor
        yield* advance(2)
        return yield* monitor.status("l1")
      }).pipe(Effect.provide(HealthMonitor.layer({ ...base, nodes: nodes("l1"), probe: script.factory })))
      expect(status).toBe("HEALTHY")
      // The layer's scope closed with the program: its probes were released.
      expect(script.released("l1")).toBe(true)
    }))

  it.scoped("a node URL the adapters reject fails the constructor with their typed error, password-free", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        HealthMonitor.make({ ...base, nodes: [{ role: "primary", url: "oracle://u:s3cret@h/db" }] })
      )
      expect(error._tag).toBe("UnsupportedScheme")
      expect(String(error)).not.toContain("s3cret")
    }))

  it.scoped("ProbeError messages name the node and reason", () =>
    Effect.sync(() => {
      const e = new ProbeError({ node: "n", reason: "Timeout", detail: "no answer within 300 millis" })
      expect(e.message).toBe("Health probe of \"n\" failed (Timeout): no answer within 300 millis")
    }))
})
