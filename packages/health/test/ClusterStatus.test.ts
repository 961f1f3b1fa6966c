import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import { readiness, toReport } from "../src/ClusterStatus.js"
import type { NodeHealth, Role, Routing, Status } from "../src/NodeHealth.js"

const node = (
  name: string,
  configuredRole: "primary" | "replica" | "any",
  status: Status,
  routing?: Routing,
  role?: Role
): NodeHealth => ({
  name,
  configuredRole,
  status,
  roleMismatch: false,
  consecutiveFailures: 0,
  consecutiveSuccesses: 0,
  ...(routing === undefined ? {} : { routing }),
  ...(role === undefined ? {} : { role })
})

describe("ClusterStatus.readiness", () => {
  const rows: ReadonlyArray<{
    readonly name: string
    readonly snapshot: ReadonlyArray<NodeHealth>
    readonly readTolerant: boolean
    readonly ready: boolean
    readonly primary: string | null
  }> = [
    {
      name: "primary healthy",
      snapshot: [node("p", "primary", "HEALTHY", "primary"), node("r", "replica", "UNHEALTHY", "replica")],
      readTolerant: false,
      ready: true,
      primary: "p"
    },
    {
      name: "primary degraded still serves",
      snapshot: [node("p", "primary", "DEGRADED", "primary")],
      readTolerant: false,
      ready: true,
      primary: "p"
    },
    {
      name: "primary down",
      snapshot: [node("p", "primary", "UNHEALTHY", "primary"), node("r", "replica", "HEALTHY", "replica")],
      readTolerant: false,
      ready: false,
      primary: "p"
    },
    {
      name: "primary down, read-tolerant, a replica answers",
      snapshot: [node("p", "primary", "UNHEALTHY", "primary"), node("r", "replica", "HEALTHY", "replica")],
      readTolerant: true,
      ready: true,
      primary: "p"
    },
    {
      name: "primary down, read-tolerant, no replica answers",
      snapshot: [node("p", "primary", "UNHEALTHY", "primary"), node("r", "replica", "UNHEALTHY", "replica")],
      readTolerant: true,
      ready: false,
      primary: "p"
    },
    {
      name: "not probed yet",
      snapshot: [node("p", "primary", "UNKNOWN"), node("r", "replica", "UNKNOWN")],
      readTolerant: true,
      ready: false,
      primary: "p"
    },
    {
      name: "learnt roles: the node routed as primary",
      snapshot: [
        node("n1", "any", "HEALTHY", "replica", "replica"),
        node("n2", "any", "HEALTHY", "primary", "primary")
      ],
      readTolerant: false,
      ready: true,
      primary: "n2"
    },
    {
      name: "learnt roles, no primary named, a fenced node does not serve reads",
      snapshot: [node("n1", "any", "HEALTHY", "fenced", "primary")],
      readTolerant: true,
      ready: false,
      primary: null
    }
  ]
  for (const row of rows) {
    it(row.name, () => {
      const verdict = readiness(row.snapshot, { readTolerant: row.readTolerant })
      expect([verdict.ready, verdict.primary]).toEqual([row.ready, row.primary])
    })
  }

  it("says why the primary is down", () => {
    const down: NodeHealth = {
      ...node("p", "primary", "UNHEALTHY", "primary"),
      lastError: { tag: "ConnectionFailed", code: "ECONNREFUSED", message: "refused", at: 1, source: "probe" }
    }
    expect(readiness([down]).reason).toBe("primary p is UNHEALTHY: ConnectionFailed ECONNREFUSED")
  })
})

describe("ClusterStatus.toReport", () => {
  it("is JSON-ready: durations in milliseconds, null for unknown", () => {
    const report = toReport({
      ...node("r", "replica", "HEALTHY", "replica", "replica"),
      lastLatency: Duration.micros(1500n),
      lagSeconds: 0.25,
      lastCheckedAt: 42
    })
    expect(report).toEqual({
      name: "r",
      configuredRole: "replica",
      role: "replica",
      routing: "replica",
      status: "HEALTHY",
      latencyMs: 1.5,
      lagSeconds: 0.25,
      lastError: null,
      lastCheckedAt: 42
    })
    expect(toReport(node("p", "primary", "UNKNOWN"))).toMatchObject({ role: null, latencyMs: null, lagSeconds: null })
  })
})
