/**
 * Which node is the primary now, from every node's observed role: a pure function of the monitor's snapshot and the
 * primary it named last (ARCHITECTURE.md, "Topology"). The monitor applies it after every observation and writes the
 * verdict into each node's `routing`; the router writes to the node whose routing is `primary`, and to no other.
 *
 * - Configured roles (`write` / `read`): the configured primary takes the writes unless it answers as a replica (it
 *   was demoted: no node takes them); a configured replica that answers as a writable primary is fenced.
 * - Learnt roles (`nodes`): the one writable node that answers is the primary. When several answer as writable (an
 *   old primary came back after another node was promoted), the newest generation wins: PostgreSQL's highest
 *   timeline, MariaDB's node that most replicas replicate from (seen with the SLAVE MONITOR privilege); failing that,
 *   the primary named before keeps the role; failing that, none is named (a conflict: writes wait, never guess).
 *   When no node answers as writable, the primary named before keeps the role (writes to it fail fast until it
 *   answers or another node is promoted).
 */
import type { NodeHealth, Routing } from "./NodeHealth.js"

/** The verdict on a cluster. */
export interface Resolution {
  /** The node that takes the writes now; undefined while none can be named. */
  readonly primary: string | undefined
  /** Writable nodes that are not the primary: they get no statement at all. */
  readonly fenced: ReadonlyArray<string>
  /** Why no primary is named: none is writable, several are and nothing tells them apart, or it was demoted. */
  readonly unresolved?: "none" | "conflict" | "demoted" | undefined
}

/** The node answers probes now (its observed role is current, not a memory of a node that went away). */
const live = (h: NodeHealth): boolean => h.role !== undefined && h.status !== "UNHEALTHY" && h.status !== "UNKNOWN"

const writable = (h: NodeHealth): boolean => live(h) && h.role === "primary"

/** The one candidate with the strictly highest score, if there is one. */
const best = (candidates: ReadonlyArray<NodeHealth>, score: (h: NodeHealth) => number | undefined) => {
  let top: NodeHealth | undefined
  let topScore = -Infinity
  let tie = false
  for (const h of candidates) {
    const s = score(h)
    if (s === undefined) return undefined
    if (s > topScore) {
      top = h
      topScore = s
      tie = false
    } else if (s === topScore) {
      tie = true
    }
  }
  return tie ? undefined : top
}

const learnt = (snapshot: ReadonlyArray<NodeHealth>, incumbent: string | undefined): Resolution => {
  const candidates = snapshot.filter(writable)
  if (candidates.length === 0) {
    const previous = snapshot.find((h) => h.name === incumbent)
    // The primary went quiet and nobody took over: it stays the primary until it answers as a replica.
    return previous !== undefined && previous.role === "primary"
      ? { primary: previous.name, fenced: [] }
      : { primary: undefined, fenced: [], unresolved: "none" }
  }
  const replicas = snapshot.filter((h) => live(h) && h.role === "replica")
  const votes = (h: NodeHealth) =>
    h.serverId === undefined ? undefined : replicas.filter((r) => r.sourceServerId === h.serverId).length
  const winner = candidates.length === 1
    ? candidates[0]
    : best(candidates, (h) => h.timeline) ??
      (candidates.some((h) => (votes(h) ?? 0) > 0) ? best(candidates, votes) : undefined) ??
      candidates.find((h) => h.name === incumbent)
  if (winner === undefined) return { primary: undefined, fenced: [], unresolved: "conflict" }
  return { primary: winner.name, fenced: candidates.filter((h) => h !== winner).map((h) => h.name) }
}

const configured = (snapshot: ReadonlyArray<NodeHealth>): Resolution => {
  const fenced = snapshot.filter((h) => h.configuredRole === "replica" && writable(h)).map((h) => h.name)
  const primary = snapshot.find((h) => h.configuredRole === "primary")
  if (primary === undefined) return { primary: undefined, fenced, unresolved: "none" }
  if (live(primary) && primary.role === "replica") return { primary: undefined, fenced, unresolved: "demoted" }
  return { primary: primary.name, fenced }
}

/** Names the primary of a cluster (roles learnt when any node is configured as `any`). */
export const resolve = (snapshot: ReadonlyArray<NodeHealth>, incumbent: string | undefined): Resolution =>
  snapshot.some((h) => h.configuredRole === "any") ? learnt(snapshot, incumbent) : configured(snapshot)

/** Each node's routing under a resolution. */
export const routingOf = (h: NodeHealth, resolution: Resolution): Routing | undefined => {
  if (h.name === resolution.primary) return "primary"
  if (resolution.fenced.includes(h.name)) return "fenced"
  if (h.configuredRole === "replica") return "replica"
  if (h.configuredRole === "any" && h.role === "replica") return "replica"
  return undefined
}

/** The snapshot with every node's routing set from the resolution. */
export const annotate = (
  snapshot: ReadonlyArray<NodeHealth>,
  resolution: Resolution
): ReadonlyArray<NodeHealth> =>
  snapshot.map((h) => {
    const routing = routingOf(h, resolution)
    return h.routing === routing ? h : { ...h, routing }
  })
