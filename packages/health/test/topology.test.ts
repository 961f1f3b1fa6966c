/**
 * Which node is the primary now, as a table: every case of `Topology.resolve` with configured and learnt roles,
 * promotions, a primary that went quiet, and old primaries that came back writable (fencing).
 */
import { describe, expect, it } from "@effect/vitest"
import type { NodeHealth } from "../src/index.js"
import { HealthState, Topology } from "../src/index.js"

type Over = Partial<NodeHealth.NodeHealth>

const node = (name: string, configured: NodeHealth.ConfiguredRole, over: Over = {}): NodeHealth.NodeHealth => ({
  ...HealthState.initial(name, configured),
  status: "HEALTHY",
  consecutiveSuccesses: 1,
  ...over
})
const primary = (over: Over = {}): Over => ({ role: "primary", ...over })
const replica = (over: Over = {}): Over => ({ role: "replica", ...over })
const down: Over = { status: "UNHEALTHY", consecutiveFailures: 3 }

interface Row {
  readonly situation: string
  readonly nodes: ReadonlyArray<NodeHealth.NodeHealth>
  readonly incumbent?: string
  readonly primary: string | undefined
  readonly fenced?: ReadonlyArray<string>
  readonly unresolved?: Topology.Resolution["unresolved"]
}

const rows: ReadonlyArray<Row> = [
  // Configured roles (write / read).
  {
    situation: "configured: the primary answers as a primary",
    nodes: [node("p", "primary", primary()), node("r1", "replica", replica())],
    primary: "p"
  },
  {
    situation: "configured: the primary is down (writes still go to it, and fail fast)",
    nodes: [node("p", "primary", { ...primary(), ...down }), node("r1", "replica", replica())],
    primary: "p"
  },
  {
    situation: "configured: the primary was demoted (answers as a replica): nobody takes writes",
    nodes: [node("p", "primary", replica()), node("r1", "replica", replica())],
    primary: undefined,
    unresolved: "demoted"
  },
  {
    situation: "configured: a replica was promoted (writable): fenced, the configured primary keeps the writes",
    nodes: [node("p", "primary", primary()), node("r1", "replica", primary({ roleMismatch: true }))],
    primary: "p",
    fenced: ["r1"]
  },
  {
    situation: "configured: not probed yet: the configured primary",
    nodes: [node("p", "primary", { status: "UNKNOWN" }), node("r1", "replica", { status: "UNKNOWN" })],
    primary: "p"
  },
  // Learnt roles (nodes).
  {
    situation: "learnt: one writable node",
    nodes: [node("a", "any", primary()), node("b", "any", replica()), node("c", "any", replica())],
    primary: "a"
  },
  {
    situation: "learnt: not probed yet: none",
    nodes: [node("a", "any", { status: "UNKNOWN" }), node("b", "any", { status: "UNKNOWN" })],
    primary: undefined,
    unresolved: "none"
  },
  {
    situation: "learnt: the primary went quiet and nobody took over: it keeps the role",
    nodes: [node("a", "any", { ...primary(), ...down }), node("b", "any", replica())],
    incumbent: "a",
    primary: "a"
  },
  {
    situation: "learnt: the primary went quiet, a replica was promoted: the writes follow it",
    nodes: [node("a", "any", { ...primary(), ...down }), node("b", "any", primary()), node("c", "any", replica())],
    incumbent: "a",
    primary: "b"
  },
  {
    situation: "learnt: every node answers as a replica (a switchover in progress): none",
    nodes: [node("a", "any", replica()), node("b", "any", replica())],
    incumbent: "a",
    primary: undefined,
    unresolved: "none"
  },
  {
    situation: "learnt: PostgreSQL, the old primary back writable on an older timeline: fenced",
    nodes: [
      node("a", "any", primary({ timeline: 1 })),
      node("b", "any", primary({ timeline: 2 })),
      node("c", "any", replica())
    ],
    incumbent: "a",
    primary: "b",
    fenced: ["a"]
  },
  {
    situation: "learnt: MariaDB, two writable nodes, the replicas replicate from one: the other is fenced",
    nodes: [
      node("a", "any", primary({ serverId: 1 })),
      node("b", "any", primary({ serverId: 2 })),
      node("c", "any", replica({ serverId: 3, sourceServerId: 2 }))
    ],
    incumbent: "a",
    primary: "b",
    fenced: ["a"]
  },
  {
    situation: "learnt: two writable nodes and nothing tells them apart: the one named before keeps the role",
    nodes: [node("a", "any", primary({ serverId: 1 })), node("b", "any", primary({ serverId: 2 }))],
    incumbent: "b",
    primary: "b",
    fenced: ["a"]
  },
  {
    situation: "learnt: two writable nodes, nothing tells them apart, none named before: a conflict, no writes",
    nodes: [node("a", "any", primary({ serverId: 1 })), node("b", "any", primary({ serverId: 2 }))],
    primary: undefined,
    unresolved: "conflict"
  },
  {
    situation: "learnt: equal timelines: the one named before keeps the role",
    nodes: [node("a", "any", primary({ timeline: 3 })), node("b", "any", primary({ timeline: 3 }))],
    incumbent: "a",
    primary: "a",
    fenced: ["b"]
  }
]

describe("Topology.resolve: which node is the primary now", () => {
  for (const row of rows) {
    it(row.situation, () => {
      const resolution = Topology.resolve(row.nodes, row.incumbent)
      expect(resolution.primary).toBe(row.primary)
      expect(resolution.fenced).toEqual(row.fenced ?? [])
      expect(resolution.unresolved).toBe(row.unresolved)
    })
  }

  it("annotate: the primary, the replicas and the fenced node each get their routing", () => {
    const nodes = [
      node("a", "any", primary({ timeline: 1 })),
      node("b", "any", primary({ timeline: 2 })),
      node("c", "any", replica()),
      node("d", "any", { status: "UNKNOWN" })
    ]
    const annotated = Topology.annotate(nodes, Topology.resolve(nodes, "a"))
    expect(annotated.map((h) => [h.name, h.routing])).toEqual([
      ["a", "fenced"],
      ["b", "primary"],
      ["c", "replica"],
      ["d", undefined]
    ])
  })
})
