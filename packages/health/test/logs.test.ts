/**
 * The monitor's log lines are structured: a transition is one Effect `Logger` line, at info (HEALTHY, DEGRADED) or
 * warning (UNHEALTHY), annotated with the cluster, the node, from, to, and the failure's tag and driver code.
 */
import { describe, expect, it } from "@effect/vitest"
import { captureLogs } from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import * as HealthMonitor from "../src/HealthMonitor.js"
import * as Scripted from "./support/ScriptedProbe.js"

describe("HealthMonitor log lines", () => {
  it.scoped("a transition: one line with cluster, node, from, to, reason and code; no URL", () => {
    const { layer, lines } = captureLogs()
    return Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("5 millis"))
      yield* HealthMonitor.make({
        cluster: "orders",
        interval: "100 millis",
        timeout: "300 millis",
        failureThreshold: 2,
        backoffCap: "400 millis",
        nodes: [{ name: "p", role: "primary" }, { name: "r", role: "replica" }],
        probe: script.factory
      })
      yield* Effect.yieldNow()
      yield* TestClock.adjust(Duration.millis(5))
      script.set("r", Scripted.failWith("Connection", "ECONNREFUSED"))
      for (let i = 0; i < 10; i++) {
        yield* Effect.yieldNow()
        yield* TestClock.adjust(Duration.millis(100))
      }
      const ofR = lines.filter((l) => l.annotations.node === "r")
      expect(ofR.map((l) => [l.level, l.annotations.from, l.annotations.to])).toEqual([
        ["INFO", "UNKNOWN", "HEALTHY"],
        ["INFO", "HEALTHY", "DEGRADED"],
        ["WARN", "DEGRADED", "UNHEALTHY"]
      ])
      expect(ofR[2]!.annotations).toMatchObject({
        component: "health",
        cluster: "orders",
        reason: "ConnectionFailed",
        code: "ECONNREFUSED"
      })
      expect(ofR[2]!.message).toBe("node r DEGRADED -> UNHEALTHY")
    }).pipe(Effect.provide(layer), Logger.withMinimumLogLevel(LogLevel.All))
  })
})
