/**
 * The routing decision as a table: one row per row of the README's routing table (and the cases around it), each
 * a statement's situation and the cluster's state, and where the decision sends it. No server, no clock, no fiber.
 */
import { describe, expect, it } from "@effect/vitest"
import { HealthState, Topology } from "@fastorm/health"
import type { NodeHealth } from "@fastorm/health"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type { Request, Route } from "../src/internal/decision.js"
import { decide } from "../src/internal/decision.js"
import type { Topology as RouterTopology } from "../src/internal/eligibility.js"
import * as Selection from "../src/internal/selection.js"
import type { ReadWriteConfig } from "../src/ReadWriteConfig.js"
import { resolve } from "../src/ReadWriteConfig.js"
import type { Position } from "../src/SessionToken.js"

const topology: RouterTopology = {
  roles: "configured",
  replicas: [{ name: "replica-1", weight: 1 }, { name: "replica-2", weight: 1 }],
  positionKind: "lsn"
}

const node = (
  name: string,
  role: "primary" | "replica",
  over: Partial<NodeHealth.NodeHealth> = {}
): NodeHealth.NodeHealth => ({
  ...HealthState.initial(name, role),
  status: "HEALTHY",
  role,
  lagSeconds: 0,
  replicating: role === "replica" ? true : undefined,
  position: role === "primary" ? "0/100" : "0/80",
  consecutiveSuccesses: 1,
  ...over
})

type Health = Partial<Record<"primary" | "replica-1" | "replica-2", Partial<NodeHealth.NodeHealth>>>

/** The monitor's snapshot, with each node's routing as the monitor resolves it. */
const snapshotOf = (health: Health = {}): ReadonlyArray<NodeHealth.NodeHealth> => {
  const nodes = [
    node("primary", "primary", health.primary),
    node("replica-1", "replica", health["replica-1"]),
    node("replica-2", "replica", health["replica-2"])
  ]
  return Topology.annotate(nodes, Topology.resolve(nodes, undefined))
}

const lsn = (value: string): Position => ({ kind: "lsn", value })

/** What the monitor records for a replica that answers but no longer replicates. */
const notReplicating: NodeHealth.LastError = {
  tag: "NotReplicating",
  message: "not replicating",
  at: 0,
  source: "probe"
}

/** A route in one line: `primary:write`, `replicas:ordinary:replica-1,replica-2`, `wait:replica-1|primary:session`. */
const show = (route: Route): string => {
  switch (route._tag) {
    case "Transaction":
      return "transaction"
    case "Primary":
      return `${route.node}:${route.reason}${route.write ? ":write" : ""}`
    case "NoPrimary":
      return `no primary (${route.why})`
    case "Replicas":
      return `replicas:${route.reason}:${route.order.map((c) => c.name).join(",")}`
    case "Wait":
      return `wait:${route.replica.name}|${show(route.otherwise)}`
    case "Fallback":
      return `fallback:${route.node}`
    case "Refuse":
      return "refuse"
  }
}

interface Row {
  readonly situation: string
  readonly request?: Partial<Request>
  readonly config?: ReadWriteConfig
  readonly health?: Health
  readonly topology?: RouterTopology
  /** Replay positions the router learnt from its own waits. */
  readonly known?: Record<string, string>
  /** The primary each replica was last seen replicating from; default: both from "primary". */
  readonly upstream?: Record<string, string>
  readonly expected: string
}

const read: Request = { client: "read", kind: "read", writeOnly: false, inTransaction: false, token: undefined }

const rows: ReadonlyArray<Row> = [
  // Statements that are not plain reads.
  {
    situation: "a write (INSERT/UPDATE/DELETE/DDL, unknown)",
    request: { kind: "write" },
    expected: "primary:write:write"
  },
  {
    situation: "a write through WriteConnection",
    request: { client: "write", kind: "write" },
    expected: "primary:write:write"
  },
  { situation: "a locking read", request: { kind: "locking" }, expected: "primary:locking:write" },
  // Transactions.
  { situation: "a read inside a transaction", request: { inTransaction: true }, expected: "transaction" },
  {
    situation: "a write inside a transaction",
    request: { kind: "write", inTransaction: true },
    expected: "transaction"
  },
  // Forced and primary-only reads.
  { situation: "a read with WriteOnly (forceWrite)", request: { writeOnly: true }, expected: "primary:forceWrite" },
  { situation: "a read through WriteConnection", request: { client: "write" }, expected: "primary:primary" },
  {
    situation: "a forced read through WriteConnection",
    request: { client: "write", writeOnly: true },
    expected: "primary:forceWrite"
  },
  { situation: "enableReadWriteSplit: false", config: { enableReadWriteSplit: false }, expected: "primary:primary" },
  { situation: "readPreference: primary", config: { readPreference: "primary" }, expected: "primary:primary" },
  { situation: "consistency: strong", config: { consistency: "strong" }, expected: "primary:primary" },
  {
    situation: "no replica configured (the primary serves every read, uncapped)",
    topology: { ...topology, replicas: [] },
    expected: "primary:primary"
  },
  // Ordinary reads.
  { situation: "an ordinary read", expected: "replicas:ordinary:replica-1,replica-2" },
  {
    situation: "not yet probed (UNKNOWN) replicas get reads",
    health: { "replica-1": { status: "UNKNOWN" }, "replica-2": { status: "UNKNOWN" } },
    expected: "replicas:ordinary:replica-1,replica-2"
  },
  {
    situation: "an UNHEALTHY replica gets none",
    health: { "replica-1": { status: "UNHEALTHY" } },
    expected: "replicas:ordinary:replica-2"
  },
  {
    situation: "a replica lagging past maxReplicationLag gets none",
    health: { "replica-1": { lagSeconds: 60 } },
    expected: "replicas:ordinary:replica-2"
  },
  {
    situation: "a lagging replica whose replay covers the primary's position is caught up",
    health: { "replica-1": { lagSeconds: 60, position: "0/100" } },
    expected: "replicas:ordinary:replica-1,replica-2"
  },
  {
    situation: "a replica that is not replicating gets none",
    health: { "replica-1": { replicating: false } },
    expected: "replicas:ordinary:replica-2"
  },
  {
    situation: "a replica in the wrong role gets none",
    health: { "replica-1": { role: "primary", roleMismatch: true } },
    expected: "replicas:ordinary:replica-2"
  },
  {
    situation: "a suspect replica (a connection error the application saw) gets none",
    health: { "replica-1": { suspectSince: 1 } },
    expected: "replicas:ordinary:replica-2"
  },
  {
    situation: "no eligible replica, preferReplica: the fallback",
    health: { "replica-1": { status: "UNHEALTHY" }, "replica-2": { status: "UNHEALTHY" } },
    expected: "fallback:primary"
  },
  {
    situation: "no eligible replica, replicaOnly: refused",
    config: { readPreference: "replicaOnly" },
    health: { "replica-1": { status: "UNHEALTHY" }, "replica-2": { status: "UNHEALTHY" } },
    expected: "refuse"
  },
  {
    situation: "the primary down, a replica that only lost it serves (stale but available)",
    health: {
      primary: { status: "UNHEALTHY", consecutiveFailures: 3 },
      "replica-1": { replicating: false },
      "replica-2": { status: "UNHEALTHY" }
    },
    expected: "replicas:ordinary:replica-1"
  },
  {
    situation: "the primary down, a replica re-pointed and replicating again, still recovering: it serves",
    health: {
      primary: { status: "UNHEALTHY", consecutiveFailures: 3 },
      "replica-1": { status: "UNHEALTHY", consecutiveFailures: 0, lastError: notReplicating },
      "replica-2": { status: "UNHEALTHY", consecutiveFailures: 0, lastError: { ...notReplicating, tag: "Timeout" } }
    },
    expected: "replicas:ordinary:replica-1"
  },
  {
    situation: "the primary up, a replica re-pointed and still recovering gets none",
    health: {
      "replica-1": { status: "UNHEALTHY", consecutiveFailures: 0, lastError: notReplicating },
      "replica-2": { status: "UNHEALTHY" }
    },
    expected: "fallback:primary"
  },
  {
    situation: "the primary up, a replica that lost replication gets none",
    health: { "replica-1": { replicating: false }, "replica-2": { status: "UNHEALTHY" } },
    expected: "fallback:primary"
  },
  // Session reads.
  {
    situation: "a session read, a replica has replayed the write",
    request: { token: lsn("0/50") },
    expected: "replicas:session:replica-1,replica-2"
  },
  {
    situation: "a session read, only the router's own wait saw replica-2 replay it",
    request: { token: lsn("0/90") },
    known: { "replica-2": "0/90" },
    expected: "replicas:session:replica-2"
  },
  {
    situation: "a session read, no replica known to have it: wait on one, else the primary",
    request: { token: lsn("0/90") },
    expected: "wait:replica-1|primary:session"
  },
  {
    situation: "a session read with replicaOnly: wait on one, else refused",
    request: { token: lsn("0/90") },
    config: { readPreference: "replicaOnly" },
    expected: "wait:replica-1|refuse"
  },
  {
    situation:
      "a session read, the replicas stopped replicating from the primary (a switchover) but replayed it: they serve",
    request: { token: lsn("0/50") },
    health: { "replica-1": { replicating: false }, "replica-2": { replicating: false, lagSeconds: 60 } },
    expected: "replicas:session:replica-1,replica-2"
  },
  {
    situation:
      "a session read, replicas last seen replicating from another node than the primary (maybe diverged): the primary",
    request: { token: lsn("0/50") },
    health: { "replica-1": { replicating: false }, "replica-2": { replicating: false, lagSeconds: 60 } },
    upstream: { "replica-1": "old-primary", "replica-2": "old-primary" },
    expected: "primary:session"
  },
  {
    situation:
      "a session read, a replica never seen replicating and not replicating: never, while a node is the primary",
    request: { token: lsn("0/50") },
    health: { "replica-1": { replicating: false, status: "UNHEALTHY", lastError: notReplicating } },
    upstream: { "replica-2": "primary" },
    expected: "replicas:session:replica-2"
  },
  {
    situation: "a session read, no primary answers (a switchover), the replicas stopped replicating: they serve it",
    request: { token: lsn("0/50") },
    health: {
      primary: { status: "UNHEALTHY", consecutiveFailures: 1 },
      "replica-1": { replicating: false },
      "replica-2": { replicating: false, lagSeconds: 60 }
    },
    expected: "replicas:session:replica-1,replica-2"
  },
  {
    situation:
      "a session read during a failover: replicas UNHEALTHY only as not replicating, having replayed it, serve it",
    request: { token: lsn("0/50") },
    health: {
      primary: { status: "UNHEALTHY", consecutiveFailures: 3 },
      "replica-1": { replicating: false, status: "UNHEALTHY", lastError: notReplicating },
      "replica-2": { replicating: false, status: "UNHEALTHY", lastError: notReplicating }
    },
    expected: "replicas:session:replica-1,replica-2"
  },
  {
    situation:
      "a session read during a failover: a replica that lacks the write gets a bounded wait (it may be re-pointed)",
    request: { token: lsn("0/90") },
    health: {
      primary: { status: "UNHEALTHY", consecutiveFailures: 3 },
      "replica-1": { replicating: false, status: "UNHEALTHY", lastError: notReplicating },
      "replica-2": { status: "UNHEALTHY" }
    },
    expected: "wait:replica-1|primary:session"
  },
  {
    situation: "a session read, a replica UNHEALTHY for another reason is never asked, even if it had the write",
    request: { token: lsn("0/50") },
    health: {
      "replica-1": {
        replicating: false,
        status: "UNHEALTHY",
        lastError: { ...notReplicating, tag: "ConnectionFailed" }
      },
      "replica-2": { status: "UNHEALTHY" }
    },
    expected: "primary:session"
  },
  {
    situation: "a session read, no eligible replica: the primary",
    request: { token: lsn("0/50") },
    health: { "replica-1": { status: "UNHEALTHY" }, "replica-2": { status: "UNHEALTHY" } },
    expected: "primary:session"
  },
  {
    situation: "a session whose last write's position is unknown: the primary, no wait",
    request: { token: { kind: "unknown", value: "" } },
    expected: "primary:session"
  },
  {
    situation: "consistency: eventual ignores the session's writes",
    request: { token: lsn("0/90") },
    config: { consistency: "eventual" },
    expected: "replicas:ordinary:replica-1,replica-2"
  },
  {
    situation: "a position of another kind (made by another cluster) changes nothing",
    request: { token: { kind: "gtid", value: "0-1-999" } },
    expected: "replicas:ordinary:replica-1,replica-2"
  },
  {
    situation: "SQLite (no positions): a session read is an ordinary read",
    request: { token: lsn("0/90") },
    topology: { ...topology, positionKind: undefined },
    expected: "replicas:ordinary:replica-1,replica-2"
  }
]

/** Three nodes whose roles are learnt (`FastOrm.layer({ nodes })`), each as the monitor saw it last. */
const learntTopology: RouterTopology = {
  roles: "learnt",
  replicas: [{ name: "a", weight: 1 }, { name: "b", weight: 1 }, { name: "c", weight: 1 }],
  positionKind: "lsn"
}
const learntSnapshot = (
  roles: Record<"a" | "b" | "c", Partial<NodeHealth.NodeHealth>>,
  incumbent?: string
): ReadonlyArray<NodeHealth.NodeHealth> => {
  const nodes = (["a", "b", "c"] as const).map((name) => ({
    ...HealthState.initial(name, "any"),
    status: "HEALTHY" as const,
    lagSeconds: 0,
    consecutiveSuccesses: 1,
    ...roles[name]
  }))
  return Topology.annotate(nodes, Topology.resolve(nodes, incumbent))
}

const learntRows: ReadonlyArray<{
  readonly situation: string
  readonly request?: Partial<Request>
  readonly snapshot: ReadonlyArray<NodeHealth.NodeHealth>
  readonly expected: string
}> = [
  {
    situation: "learnt roles: writes go to the node that answers as the primary",
    request: { kind: "write" },
    snapshot: learntSnapshot({
      a: { role: "replica", replicating: true },
      b: { role: "primary" },
      c: { role: "replica", replicating: true }
    }),
    expected: "b:write:write"
  },
  {
    situation: "learnt roles: reads go to the nodes that answer as replicas, never the primary",
    snapshot: learntSnapshot({
      a: { role: "replica", replicating: true },
      b: { role: "primary" },
      c: { role: "replica", replicating: true }
    }),
    expected: "replicas:ordinary:a,c"
  },
  {
    situation: "learnt roles: no node answers as the primary (a switchover): a write fails fast, reads go on",
    request: { kind: "write" },
    snapshot: learntSnapshot({
      a: { role: "replica", replicating: true },
      b: { role: "replica", replicating: true },
      c: { role: "replica", replicating: true }
    }),
    expected: "no primary (none)"
  },
  {
    situation: "learnt roles: an old primary back writable on an older timeline is fenced: no reads, no writes",
    snapshot: learntSnapshot({
      a: { role: "primary", timeline: 1 },
      b: { role: "primary", timeline: 2 },
      c: { role: "replica", replicating: true }
    }, "a"),
    expected: "replicas:ordinary:c"
  },
  {
    situation: "learnt roles: the writes follow the newer timeline",
    request: { kind: "write" },
    snapshot: learntSnapshot({
      a: { role: "primary", timeline: 1 },
      b: { role: "primary", timeline: 2 },
      c: { role: "replica", replicating: true }
    }, "a"),
    expected: "b:write:write"
  },
  {
    situation: "learnt roles: two writable nodes nothing tells apart: a conflict, writes wait",
    request: { kind: "write" },
    snapshot: learntSnapshot({
      a: { role: "primary" },
      b: { role: "primary" },
      c: { role: "replica", replicating: true }
    }),
    expected: "no primary (conflict)"
  },
  {
    situation: "configured roles: the primary answers as a replica (demoted): a write fails fast",
    request: { kind: "write" },
    snapshot: snapshotOf({ primary: { role: "replica" } }),
    expected: "no primary (demoted)"
  }
]

describe("the routing decision with roles learnt from the servers", () => {
  for (const row of learntRows) {
    it(row.situation, () => {
      const route = decide({ ...read, ...row.request }, {
        topology: row.snapshot[0]!.configuredRole === "any" ? learntTopology : topology,
        config: Either.getOrThrow(resolve({})),
        snapshot: row.snapshot,
        learnt: { known: new Map(), outstanding: new Map(), upstream: new Map() },
        selection: Selection.makeState(3)
      })
      expect(show(route)).toBe(row.expected)
    })
  }
})

describe("the routing decision (the README's routing table)", () => {
  for (const row of rows) {
    it(row.situation, () => {
      const config = Either.getOrThrow(resolve({ maxReplicationLag: Duration.seconds(10), ...row.config }))
      const route = decide({ ...read, ...row.request }, {
        topology: row.topology ?? topology,
        config,
        snapshot: snapshotOf(row.health),
        learnt: {
          known: new Map(Object.entries(row.known ?? {})),
          outstanding: new Map(),
          upstream: new Map(Object.entries(row.upstream ?? { "replica-1": "primary", "replica-2": "primary" }))
        },
        selection: Selection.makeState(2)
      })
      expect(show(route)).toBe(row.expected)
    })
  }

  it("each decision that picks a replica advances the strategy: round robin alternates the first choice", () => {
    const config = Either.getOrThrow(resolve({}))
    const selection = Selection.makeState(2)
    const firsts = Array.from({ length: 4 }, () => {
      const route = decide(read, {
        topology,
        config,
        snapshot: snapshotOf(),
        learnt: { known: new Map(), outstanding: new Map(), upstream: new Map() },
        selection
      })
      return route._tag === "Replicas" ? route.order[0]!.name : show(route)
    })
    expect(firsts).toEqual(["replica-1", "replica-2", "replica-1", "replica-2"])
  })

  it("a DEGRADED replica keeps degradedWeight of the traffic", () => {
    const config = Either.getOrThrow(resolve({ degradedWeight: 0.25 }))
    const selection = Selection.makeState(2)
    const counts: Record<string, number> = {}
    for (let i = 0; i < 100; i++) {
      const route = decide(read, {
        topology,
        config,
        snapshot: snapshotOf({ "replica-1": { status: "DEGRADED" } }),
        learnt: { known: new Map(), outstanding: new Map(), upstream: new Map() },
        selection
      })
      if (route._tag === "Replicas") counts[route.order[0]!.name] = (counts[route.order[0]!.name] ?? 0) + 1
    }
    expect(counts).toEqual({ "replica-1": 20, "replica-2": 80 })
  })
})
