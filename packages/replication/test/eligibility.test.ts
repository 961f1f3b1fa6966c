/**
 * Which replicas may serve, as pure functions: the weight a replica that is slow among its peers keeps. No server,
 * no clock.
 */
import { describe, expect, it } from "@effect/vitest"
import { HealthState, Topology } from "@fastorm/health"
import type { NodeHealth } from "@fastorm/health"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type { Topology as RouterTopology } from "../src/internal/eligibility.js"
import { readCandidates, sessionCandidates, slowShare } from "../src/internal/eligibility.js"
import { resolve } from "../src/ReadWriteConfig.js"

const topology: RouterTopology = {
  roles: "configured",
  replicas: [{ name: "replica-1", weight: 1 }, { name: "replica-2", weight: 1 }, { name: "replica-3", weight: 2 }],
  positionKind: "lsn"
}

const node = (name: string, role: "primary" | "replica", over: Partial<NodeHealth.NodeHealth> = {}) => ({
  ...HealthState.initial(name, role),
  status: "HEALTHY" as const,
  role,
  lagSeconds: 0,
  replicating: role === "replica" ? true : undefined,
  position: role === "primary" ? "0/100" : "0/100",
  consecutiveSuccesses: 1,
  ...over
})

/** Replica latencies in milliseconds (undefined: not measured yet), plus any other health. */
const snapshotOf = (
  latencies: readonly [number | undefined, number | undefined, number | undefined],
  over: Partial<Record<string, Partial<NodeHealth.NodeHealth>>> = {}
): ReadonlyArray<NodeHealth.NodeHealth> => {
  const nodes = [
    node("primary", "primary", over.primary),
    ...latencies.map((ms, i) =>
      node(`replica-${i + 1}`, "replica", {
        ...(ms === undefined ? {} : { smoothedLatency: Duration.millis(ms) }),
        ...over[`replica-${i + 1}`]
      })
    )
  ]
  return Topology.annotate(nodes, Topology.resolve(nodes, undefined))
}

const learnt = () => ({
  known: new Map<string, string>(),
  outstanding: new Map<string, number>(),
  upstream: new Map<string, string>()
})

const weights = (candidates: ReadonlyArray<{ readonly name: string; readonly weight: number }>) =>
  Object.fromEntries(candidates.map((c) => [c.name, c.weight]))

describe("slowShare", () => {
  const rows: ReadonlyArray<[number | undefined, number | undefined, number | undefined, string]> = [
    [800, 2, 0.01, "800 ms beside 2 ms"],
    [240, 2, 8 / 240, "the first smoothed sample of an 800 ms replica"],
    [99, 2, undefined, "under the floor: noise, not a fault"],
    [100, 2, 0.08, "at the floor"],
    [300, 100, undefined, "three times the fastest"],
    [400, 100, 1, "four times the fastest: slow, and keeps all of it"],
    [800, 100, 0.5, "eight times the fastest"],
    [2, 2, undefined, "the fastest itself"],
    [400, 0.2, 0.01, "a fastest under a millisecond counts as one"],
    [undefined, 2, undefined, "not measured"],
    [800, undefined, undefined, "no peer measured"]
  ]
  for (const [latency, fastest, share, why] of rows) {
    it(`${why}: ${share ?? "not slow"}`, () => {
      const got = slowShare(latency, fastest)
      if (share === undefined) expect(got).toBeUndefined()
      else expect(got).toBeCloseTo(share, 9)
    })
  }
})

describe("readCandidates: a replica slow among its peers", () => {
  const config = Either.getOrThrow(resolve({}))

  it("keeps degradedWeight times its latency share of its weight; the others keep theirs", () => {
    const got = readCandidates(topology, config, snapshotOf([2, 800, 3]), learnt())
    expect(weights(got)).toEqual({ "replica-1": 1, "replica-2": 0.2 * 0.01, "replica-3": 2 })
  })

  it("keeps degradedWeight of its weight when only just slow among its peers", () => {
    const got = readCandidates(topology, config, snapshotOf([50, 200, 60]), learnt())
    expect(weights(got)).toEqual({ "replica-1": 1, "replica-2": 0.2, "replica-3": 2 })
  })

  it("keeps its full weight when every replica is as slow", () => {
    const got = readCandidates(topology, config, snapshotOf([700, 800, 900]), learnt())
    expect(weights(got)).toEqual({ "replica-1": 1, "replica-2": 1, "replica-3": 2 })
  })

  it("gets degradedWeight once when the monitor already has it DEGRADED", () => {
    const got = readCandidates(
      topology,
      config,
      snapshotOf([2, 1600, 3], { "replica-2": { status: "DEGRADED" } }),
      learnt()
    )
    expect(weights(got)).toEqual({ "replica-1": 1, "replica-2": 0.2 * 0.005, "replica-3": 2 })
  })

  it("is left out with degradedWeight 0, as a DEGRADED one is", () => {
    const got = readCandidates(
      topology,
      Either.getOrThrow(resolve({ degradedWeight: 0 })),
      snapshotOf([2, 800, 3]),
      learnt()
    )
    expect(weights(got)).toEqual({ "replica-1": 1, "replica-3": 2 })
  })

  it("is judged only against measured peers: not yet probed replicas keep weight 1", () => {
    const got = readCandidates(topology, config, snapshotOf([undefined, 800, undefined]), learnt())
    expect(weights(got)).toEqual({ "replica-1": 1, "replica-2": 1, "replica-3": 2 })
  })

  it("is judged against the replicas that may serve, not against one that may not", () => {
    const got = readCandidates(
      topology,
      config,
      snapshotOf([2, 800, 900], { "replica-1": { status: "UNHEALTHY" } }),
      learnt()
    )
    expect(weights(got)).toEqual({ "replica-2": 1, "replica-3": 2 })
  })
})

describe("sessionCandidates: a replica slow among its peers", () => {
  it("is weighed for session reads too", () => {
    const got = sessionCandidates(
      topology,
      Either.getOrThrow(resolve({})),
      snapshotOf([2, 800, 3]),
      learnt(),
      "primary"
    )
    expect(weights(got)).toEqual({ "replica-1": 1, "replica-2": 0.2 * 0.01, "replica-3": 2 })
  })
})
