/**
 * Which replicas may serve a read, from the monitor's snapshot: pure functions, no clock, no fiber
 * (ARCHITECTURE.md, "The routing decision").
 */
import type { NodeHealth as Health } from "@fastorm/health"
import { NodeHealth, Topology } from "@fastorm/health"
import * as Duration from "effect/Duration"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import * as SessionToken from "../SessionToken.js"
import type { Candidate } from "./selection.js"

/** The nodes of one cluster as the router knows them. */
export interface Topology {
  /**
   * `configured`: the primary and the replicas are the configured ones (`write` / `read`); `learnt`: every node may be
   * either, and the monitor's routing says which one is what now (`nodes`).
   */
  readonly roles: "configured" | "learnt"
  /** The nodes that may serve reads: the configured replicas, or every node when roles are learnt. */
  readonly replicas: ReadonlyArray<{ readonly name: string; readonly weight: number }>
  /** The kind of log position the cluster's primary reports; undefined for SQLite (no session positions). */
  readonly positionKind: "lsn" | "gtid" | undefined
}

/**
 * The snapshot with every node's routing: as the monitor wrote it, or (a monitor that does not, such as a test's
 * own) resolved here from the observed roles by the same function.
 */
export const withRouting = (snapshot: ReadonlyArray<Health.NodeHealth>): ReadonlyArray<Health.NodeHealth> => {
  for (const h of snapshot) if (h.routing !== undefined) return snapshot
  return Topology.annotate(snapshot, Topology.resolve(snapshot, undefined))
}

/** The node that takes the writes now, as the monitor's topology names it (ARCHITECTURE.md, "Topology"). */
export const primaryOf = (snapshot: ReadonlyArray<Health.NodeHealth>): Health.NodeHealth | undefined => {
  for (const h of snapshot) if (h.routing === "primary") return h
  return undefined
}

/**
 * What the router has learnt beyond the snapshot: replay positions seen by its own waits, statements in flight, and
 * the primary each replica was last seen replicating from (`noteUpstreams`).
 */
export interface Learnt {
  readonly known: ReadonlyMap<string, string>
  readonly outstanding: ReadonlyMap<string, number>
  readonly upstream: ReadonlyMap<string, string>
}

/** Notes, for each node replicating in `snapshot` (with routings), the snapshot's primary as what it replicates. */
export const noteUpstreams = (snapshot: ReadonlyArray<Health.NodeHealth>, upstream: Map<string, string>): void => {
  const primary = primaryOf(snapshot)?.name
  if (primary === undefined) return
  for (const h of snapshot) if (h.replicating === true) upstream.set(h.name, primary)
}

/** The health of `name` in the snapshot, if monitored. */
export const healthOf = (snapshot: ReadonlyArray<Health.NodeHealth>, name: string): Health.NodeHealth | undefined => {
  for (const h of snapshot) if (h.name === name) return h
  return undefined
}

/**
 * PostgreSQL's lag is `now() - pg_last_xact_replay_timestamp()` while receive and replay differ, which on an idle
 * primary is the age of its last transaction, not a lag (the monitor bounds it by the time since the replica was last
 * seen caught up, `HealthState.boundedLag`). A replica whose replay position already covers the primary's (both from
 * the monitor's probes) is caught up whatever that clock says.
 */
const caughtUp = (topology: Topology, h: Health.NodeHealth, primaryPosition: string | undefined): boolean =>
  topology.positionKind !== undefined && primaryPosition !== undefined &&
  SessionToken.covers(h.position, { kind: topology.positionKind, value: primaryPosition })

/** The replica replicates and is within `maxReplicationLag` (or provably caught up). */
export const lagOk = (
  topology: Topology,
  config: ResolvedReadWriteConfig,
  h: Health.NodeHealth,
  primaryPosition: string | undefined
): boolean =>
  h.replicating !== false &&
  (h.lagSeconds === undefined || h.lagSeconds * 1000 <= Duration.toMillis(config.maxReplicationLag) ||
    caughtUp(topology, h, primaryPosition))

/** A replica whose only fault is that it does not replicate (see `NodeHealth.isStaleOnly`). */
export const isStaleOnly = NodeHealth.isStaleOnly

/**
 * The primary failed its last probe or a statement of the application's, or no node is the primary now: reads
 * should not count on it.
 */
export const primaryDown = (snapshot: ReadonlyArray<Health.NodeHealth>): boolean => {
  const h = primaryOf(snapshot)
  return h === undefined || h.status === "UNHEALTHY" || h.consecutiveFailures > 0 || h.suspectSince !== undefined
}

const candidate = (
  topology: Topology,
  learnt: Learnt,
  index: number,
  h: Health.NodeHealth,
  factor: number
): Candidate => {
  const replica = topology.replicas[index]!
  return {
    index,
    name: replica.name,
    weight: replica.weight * factor,
    latencyMs: h.smoothedLatency === undefined ? undefined : Duration.toMillis(h.smoothedLatency),
    outstanding: learnt.outstanding.get(replica.name) ?? 0
  }
}

/** A replica at least this many times slower than the fastest candidate is slow among its peers... */
export const SLOW_FACTOR = 4
/** ...when it is also at least this slow (milliseconds): below it, latencies differ by noise, not by a fault. */
export const SLOW_FLOOR_MS = 100

/**
 * The share of its weight a replica slow among its peers keeps for its latency (smoothed probe latencies,
 * milliseconds): `SLOW_FACTOR × fastest / latency`, less the slower it is; undefined when it is not slow among them. Each read sent to a
 * replica holds its caller for that replica's round trip, so a replica at 800 ms beside one at 2 ms, picked even one
 * time in six, would hold most callers most of the time; weighed by its latency it holds them about as long as the
 * others do. The monitor's `degradedAfter` is an absolute bound and cannot see this (ARCHITECTURE.md, "The routing
 * decision").
 */
export const slowShare = (latencyMs: number | undefined, fastestMs: number | undefined): number | undefined =>
  latencyMs === undefined || fastestMs === undefined || latencyMs < SLOW_FLOOR_MS ||
    latencyMs < SLOW_FACTOR * fastestMs
    ? undefined
    : Math.min(1, SLOW_FACTOR * Math.max(fastestMs, 1) / latencyMs)

// Weighs the candidates by `slowShare`; one slow among its peers is DEGRADED to the router as well, so a replica
// the monitor still has HEALTHY also gets `degradedWeight` (a DEGRADED one has it already). The status is looked up
// only for a slow candidate: the common read, with none (the slowest is not slow), allocates nothing more.
const weighBySpeed = (
  out: Array<Candidate>,
  snapshot: ReadonlyArray<Health.NodeHealth>,
  degradedWeight: number
): Array<Candidate> => {
  if (out.length < 2) return out
  let fastest: number | undefined
  let slowest: number | undefined
  for (const c of out) {
    if (c.latencyMs === undefined) continue
    if (fastest === undefined || c.latencyMs < fastest) fastest = c.latencyMs
    if (slowest === undefined || c.latencyMs > slowest) slowest = c.latencyMs
  }
  if (slowShare(slowest, fastest) === undefined) return out
  const weighed: Array<Candidate> = []
  for (const c of out) {
    const share = slowShare(c.latencyMs, fastest)
    if (share === undefined) weighed.push(c)
    else {
      const degraded = healthOf(snapshot, c.name)?.status === "DEGRADED"
      const weight = c.weight * share * (degraded ? 1 : degradedWeight)
      if (weight > 0) weighed.push({ ...c, weight })
    }
  }
  return weighed
}

/**
 * The replicas that may serve a session read whose position they have replayed: every replica that answers (not
 * UNHEALTHY, not suspect, in its role), however far behind it is otherwise. Replay covering the session's position is
 * all a session read needs; a replica that stopped replicating (the primary died, or steps down in a switchover) still
 * serves it while the primary is the one it last replicated from, or no node is. Once another node is the primary
 * (a promotion), a replica that does not replicate from it serves none: it may have diverged (ahead of the promoted
 * node on the old timeline, until it is rewound), and its replay position can then look like it covers a position of
 * the new primary it does not hold (ARCHITECTURE.md, "Read-your-writes").
 */
export const sessionCandidates = (
  topology: Topology,
  config: ResolvedReadWriteConfig,
  snapshot: ReadonlyArray<Health.NodeHealth>,
  learnt: Learnt,
  /** The primary's name (`primaryOf`), which the caller has already looked up. */
  primary: string | undefined
): Array<Candidate> => {
  const out: Array<Candidate> = []
  for (let index = 0; index < topology.replicas.length; index++) {
    const h = healthOf(snapshot, topology.replicas[index]!.name)
    if (h === undefined || h.roleMismatch || h.suspectSince !== undefined) continue
    // The monitor marks a replica that stopped replicating UNHEALTHY at once; it still answers, and while its history
    // is the primary's, its replay position (kept by the probe) is what decides whether it has the session's write.
    if (h.replicating === false && primary !== undefined && learnt.upstream.get(h.name) !== primary) continue
    if (h.status === "UNHEALTHY" && !isStaleOnly(h)) continue
    if (h.routing === "primary" || h.routing === "fenced") continue
    if (topology.roles === "learnt" && h.routing !== "replica") continue
    const c = candidate(topology, learnt, index, h, h.status === "DEGRADED" ? config.degradedWeight : 1)
    if (c.weight > 0) out.push(c)
  }
  return weighBySpeed(out, snapshot, config.degradedWeight)
}

/**
 * The replicas that may serve an ordinary read: HEALTHY or not yet probed (weight 1: a failure there is retried
 * and reported), DEGRADED (weight × `degradedWeight`), slow among its peers (weight × `degradedWeight` × `slowShare`); never UNHEALTHY, suspect, in the wrong role, lagging or not
 * replicating. With `staleOnly`, only the replicas that merely lost their primary.
 */
export const replicaCandidates = (
  topology: Topology,
  config: ResolvedReadWriteConfig,
  snapshot: ReadonlyArray<Health.NodeHealth>,
  learnt: Learnt,
  staleOnly = false
): Array<Candidate> => {
  const out: Array<Candidate> = []
  const primaryPosition = primaryOf(snapshot)?.position
  for (let index = 0; index < topology.replicas.length; index++) {
    const h = healthOf(snapshot, topology.replicas[index]!.name)
    if (h === undefined || h.roleMismatch || h.suspectSince !== undefined) continue
    // The primary and a fenced node serve no reads; with learnt roles, only a node seen as a replica does.
    if (h.routing === "primary" || h.routing === "fenced") continue
    if (topology.roles === "learnt" && h.routing !== "replica") continue
    if (staleOnly) {
      if (isStaleOnly(h)) out.push(candidate(topology, learnt, index, h, 1))
      continue
    }
    const factor = h.status === "HEALTHY" || h.status === "UNKNOWN"
      ? 1
      : h.status === "DEGRADED"
      ? config.degradedWeight
      : 0
    if (factor === 0 || !lagOk(topology, config, h, primaryPosition)) continue
    const c = candidate(topology, learnt, index, h, factor)
    if (c.weight > 0) out.push(c)
  }
  return staleOnly ? out : weighBySpeed(out, snapshot, config.degradedWeight)
}

/** Ordinary candidates; when there are none and the primary is down, the replicas that only lost it. */
export const readCandidates = (
  topology: Topology,
  config: ResolvedReadWriteConfig,
  snapshot: ReadonlyArray<Health.NodeHealth>,
  learnt: Learnt
): Array<Candidate> => {
  const eligible = replicaCandidates(topology, config, snapshot, learnt)
  return eligible.length === 0 && primaryDown(snapshot)
    ? replicaCandidates(topology, config, snapshot, learnt, true)
    : eligible
}

/** The candidates known (from the monitor's probes or the router's own waits) to have replayed `token`. */
export const coveringCandidates = (
  eligible: ReadonlyArray<Candidate>,
  token: SessionToken.Position,
  snapshot: ReadonlyArray<Health.NodeHealth>,
  learnt: Learnt
): Array<Candidate> =>
  eligible.filter((c) =>
    SessionToken.covers(learnt.known.get(c.name), token) ||
    SessionToken.covers(healthOf(snapshot, c.name)?.position, token)
  )
