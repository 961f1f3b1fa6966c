/**
 * The read-only view of a cluster's health that `FastOrm.layer` provides: every node's role, status, latency, lag
 * and last error, a `Stream` of changes, and whether the cluster is ready to serve (README, "Operating FastORM").
 * It cannot report failures or trigger probes: that stays with the router and the HealthMonitor.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import { HealthMonitor, type HealthMonitorShape } from "./HealthMonitor.js"
import type { ConfiguredRole, ErrorTag, NodeHealth, Role, Routing, Status, StatusChange } from "./NodeHealth.js"
import { isStaleOnly } from "./NodeHealth.js"

/** One node as an operator sees it, JSON-ready (durations in milliseconds, `null` for "not known"). */
export interface NodeReport {
  readonly name: string
  readonly configuredRole: ConfiguredRole
  readonly role: Role | null
  readonly routing: Routing | null
  readonly status: Status
  /** Round trip of the last successful probe. */
  readonly latencyMs: number | null
  readonly lagSeconds: number | null
  readonly lastError: {
    readonly tag: ErrorTag
    readonly code: string | null
    readonly message: string
    readonly at: number
  } | null
  /** Epoch milliseconds of the last completed probe. */
  readonly lastCheckedAt: number | null
}

/** Whether the cluster can serve the application now, and why. */
export interface Readiness {
  readonly ready: boolean
  /** The node that takes the writes, if one is named. */
  readonly primary: string | null
  readonly reason: string
}

/** Options of `readiness`. */
export interface ReadinessOptions {
  /** The application can serve reads without the primary: ready while a replica answers. Default false. */
  readonly readTolerant?: boolean | undefined
}

/** The ClusterStatus service. */
export interface ClusterStatusShape {
  /** The cluster's name (as in spans, logs and session tokens). */
  readonly cluster: string
  /** Every node's state, in configuration order. */
  readonly snapshot: Effect.Effect<ReadonlyArray<NodeHealth>>
  /** Every node's state as `NodeReport`s. */
  readonly nodes: Effect.Effect<ReadonlyArray<NodeReport>>
  /** Status transitions (and role mismatch changes) from the moment the stream is run. */
  readonly changes: Stream.Stream<StatusChange>
  /** Readiness now (see `readiness`). */
  readonly readiness: (options?: ReadinessOptions) => Effect.Effect<Readiness>
}

/** The ClusterStatus service tag. */
export class ClusterStatus extends Context.Tag("@fastorm/health/ClusterStatus")<ClusterStatus, ClusterStatusShape>() {}

const millis = (d: Duration.Duration | undefined): number | null =>
  d === undefined ? null : Math.round(Duration.toMillis(d) * 100) / 100

/** A node's state as a `NodeReport`. */
export const toReport = (h: NodeHealth): NodeReport => ({
  name: h.name,
  configuredRole: h.configuredRole,
  role: h.role ?? null,
  routing: h.routing ?? null,
  status: h.status,
  latencyMs: millis(h.lastLatency),
  lagSeconds: h.lagSeconds ?? null,
  lastError: h.lastError === undefined ? null : {
    tag: h.lastError.tag,
    code: h.lastError.code ?? null,
    message: h.lastError.message,
    at: h.lastError.at
  },
  lastCheckedAt: h.lastCheckedAt ?? null
})

const answers = (h: NodeHealth): boolean => h.status === "HEALTHY" || h.status === "DEGRADED"

const why = (h: NodeHealth): string =>
  h.lastError === undefined
    ? h.status
    : `${h.status}: ${h.lastError.tag}${h.lastError.code ? ` ${h.lastError.code}` : ""}`

/**
 * Readiness of a snapshot: ready when the primary (the node routed as primary, else the configured one) answers;
 * with `readTolerant`, also when a replica can serve reads (it answers, or only lost its primary: the router then
 * serves it stale reads). Pure: the decision behind `GET /health/ready`.
 */
export const readiness = (snapshot: ReadonlyArray<NodeHealth>, options: ReadinessOptions = {}): Readiness => {
  const primary = snapshot.find((h) => h.routing === "primary") ??
    snapshot.find((h) => h.configuredRole === "primary")
  const name = primary?.name ?? null
  if (primary !== undefined && answers(primary)) {
    return { ready: true, primary: name, reason: `primary ${primary.name} is ${primary.status}` }
  }
  const down = primary === undefined ? "no node is named the primary" : `primary ${primary.name} is ${why(primary)}`
  const reader = snapshot.find((h) =>
    h !== primary && h.routing !== "fenced" && (h.role ?? h.configuredRole) !== "primary" &&
    (answers(h) || isStaleOnly(h))
  )
  if (options.readTolerant === true && reader !== undefined) {
    return { ready: true, primary: name, reason: `${down}; reads are served by ${reader.name}` }
  }
  return { ready: false, primary: name, reason: down }
}

/** The read-only view of a HealthMonitor. */
export const fromMonitor = (cluster: string, monitor: HealthMonitorShape): ClusterStatusShape => ({
  cluster,
  snapshot: monitor.snapshot,
  nodes: Effect.map(monitor.snapshot, (snapshot) => snapshot.map(toReport)),
  changes: monitor.changes,
  readiness: (options) => Effect.map(monitor.snapshot, (snapshot) => readiness(snapshot, options))
})

/** ClusterStatus over the HealthMonitor in context. */
export const layer = (cluster: string): Layer.Layer<ClusterStatus, never, HealthMonitor> =>
  Layer.effect(ClusterStatus, Effect.map(HealthMonitor, (monitor) => fromMonitor(cluster, monitor)))
