/**
 * The published snapshot gives every node's state one object shape, whatever the node went through: the router reads
 * these states on every statement, and states whose keys depend on their history make its reads polymorphic.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as HealthMonitor from "../src/HealthMonitor.js"
import type { NodeHealth } from "../src/NodeHealth.js"
import * as Scripted from "./support/ScriptedProbe.js"

const { advance } = Scripted

const keysOf = (snapshot: ReadonlyArray<NodeHealth>) => snapshot.map((h) => Object.keys(h).join(","))

describe("published snapshot", () => {
  it.scoped("every node's state has the same keys in the same order, through probes, failures and reports", () =>
    Effect.gen(function*() {
      const script = Scripted.make(Scripted.answer("5 millis"))
      script.set("p", Scripted.answer("5 millis", { role: "primary", lagSeconds: 0, position: "0/1", timeline: 1 }))
      script.set("lagging", Scripted.answer("5 millis", { role: "replica", replicating: true, lagSeconds: 3 }))
      script.set("down", Scripted.failWith("Connection", "ECONNREFUSED"))
      const monitor = yield* HealthMonitor.make({
        interval: "100 millis",
        timeout: "300 millis",
        failureThreshold: 2,
        nodes: [
          { name: "p", role: "primary" },
          { name: "lagging", role: "replica" },
          { name: "down", role: "replica" },
          { name: "reported", role: "replica" }
        ],
        probe: script.factory
      })
      const snapshot = () => monitor.snapshotNow!()
      const initial = keysOf(snapshot())
      yield* advance(5)
      yield* monitor.reportFailure("reported", Object.assign(new Error("reset"), { code: "ECONNRESET" }))
      yield* advance(250)
      const after = snapshot()
      // The histories differ: a primary with a timeline, a lagging replica, a failing node, a suspect one.
      expect(after.map((h) => h.status)).toEqual(["HEALTHY", "HEALTHY", "UNHEALTHY", "HEALTHY"])
      expect(after[0]!.timeline).toBe(1)
      expect(after[0]!.routing).toBe("primary")
      expect(after[1]!.lagSeconds).toBe(3)
      expect(after[2]!.lastError?.code).toBe("ECONNREFUSED")
      expect(after[3]!.lastError?.source).toBe("report")
      // One shape: the same keys, in one order, for every node and from the start.
      expect(new Set([...initial, ...keysOf(after)]).size).toBe(1)
      expect(Object.keys(after[0]!)).toContain("suspectSince")
    }))
})
