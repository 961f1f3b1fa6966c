/**
 * What the monitor knows about one node: its status, latency, role and replication state, and the transitions between
 * statuses that it publishes.
 */
import type * as Duration from "effect/Duration"

/** The health status of one node. */
export type Status = "HEALTHY" | "DEGRADED" | "UNHEALTHY" | "UNKNOWN"

/** The role a node is configured for, or the role it was seen to play. */
export type Role = "primary" | "replica"

/**
 * The role a node is configured with: a fixed one, or `any` for a node whose role FastORM learns from the server
 * (`FastOrm.layer({ nodes })`: whichever node is the primary now takes the writes).
 */
export type ConfiguredRole = Role | "any"

/**
 * What the monitor concluded for routing, from every node's observed role (ARCHITECTURE.md, "Topology"):
 * `primary` takes the writes (at most one node); `replica` may serve reads; `fenced` is writable but is not the
 * primary (an old primary that came back after another node was promoted): it gets nothing.
 */
export type Routing = "primary" | "replica" | "fenced"

/** Status values as numbers, for the status gauge: 0 unknown, 1 healthy, 2 degraded, 3 unhealthy. */
export const statusCode: Readonly<Record<Status, number>> = {
  UNKNOWN: 0,
  HEALTHY: 1,
  DEGRADED: 2,
  UNHEALTHY: 3
}

/**
 * Why the last probe or report counted against a node:
 * - `ConnectionFailed`: connection-class error (refused, reset, lost, server shutting down...);
 * - `Timeout`: the probe got no answer within its timeout (connect included);
 * - `AuthenticationFailed`: the server refused the login; retried on its own, slower backoff;
 * - `StatementFailed`: the server answered the probe with an error;
 * - `TooSlow`: the probe answered, but after `unhealthyAfter`;
 * - `NotReplicating`: a replica whose replication is stopped or broken (lag unknown).
 */
export type ErrorTag =
  | "ConnectionFailed"
  | "Timeout"
  | "AuthenticationFailed"
  | "StatementFailed"
  | "TooSlow"
  | "NotReplicating"

/** The last thing that counted against a node. */
export interface LastError {
  readonly tag: ErrorTag
  /** The driver code it was classified on, if any (e.g. "ECONNREFUSED", "57P01", "ER_ACCESS_DENIED_ERROR"). */
  readonly code?: string | undefined
  /** A short, password-free description. */
  readonly message: string
  /** Epoch milliseconds (from the Effect `Clock`). */
  readonly at: number
  /** A probe of the monitor, or a passive report from the application. */
  readonly source: "probe" | "report"
}

/** The state of one node as the monitor sees it. */
export interface NodeHealth {
  readonly name: string
  /** The role the node was configured with. */
  readonly configuredRole: ConfiguredRole
  /** The role the last successful probe observed; undefined until then. */
  readonly role?: Role | undefined
  /** True when the observed role differs from the configured one (e.g. a replica that was promoted). */
  readonly roleMismatch: boolean
  /** What the monitor concluded for routing; undefined until the node's role is known. */
  readonly routing?: Routing | undefined
  /** PostgreSQL: the timeline of a primary (it grows with every promotion); undefined on a replica. */
  readonly timeline?: number | undefined
  /** MariaDB / MySQL: `@@server_id`. */
  readonly serverId?: number | undefined
  /** MariaDB / MySQL replica: the server id of the node it replicates from (needs SLAVE MONITOR to be seen). */
  readonly sourceServerId?: number | undefined
  readonly status: Status
  /** Round trip of the last successful probe, connect included when the probe had to connect. */
  readonly lastLatency?: Duration.Duration | undefined
  /** Exponentially smoothed latency of probes and reported successes. */
  readonly smoothedLatency?: Duration.Duration | undefined
  /**
   * Replication lag in seconds; 0 for a primary; undefined when unknown (never 0 for a stopped replica). Never more
   * than the time since `caughtUpAt` (`HealthState.boundedLag`).
   */
  readonly lagSeconds?: number | undefined
  /** When (epoch ms) a probe last found this replica with nothing it had received left to apply (lag 0). */
  readonly caughtUpAt?: number | undefined
  /** For a replica: whether it is receiving and applying changes; undefined when not known (or for a primary). */
  readonly replicating?: boolean | undefined
  /** The node's log position: PostgreSQL replay (or current) LSN, MariaDB `@@gtid_slave_pos`. */
  readonly position?: string | undefined
  readonly consecutiveFailures: number
  readonly consecutiveSuccesses: number
  /**
   * Epoch milliseconds of the application's first connection-class (or login) failure on this node since its last
   * successful probe; undefined when nothing is suspected. The router sends a suspect node no reads until a probe
   * clears it (ARCHITECTURE.md, "Health and suspicion").
   */
  readonly suspectSince?: number | undefined
  readonly lastError?: LastError | undefined
  /** Epoch milliseconds of the last completed probe. */
  readonly lastCheckedAt?: number | undefined
  /** Epoch milliseconds of the last status change. */
  readonly lastChangeAt?: number | undefined
}

/** A change of a node's status (or of its role mismatch flag), as published on `HealthMonitor.changes`. */
export interface StatusChange {
  readonly node: string
  readonly from: Status
  readonly to: Status
  /** Epoch milliseconds. */
  readonly at: number
  /** The node's state right after the change. */
  readonly health: NodeHealth
}

/**
 * A replica whose only fault is that it does not replicate: it answers, and has every change it replayed before it
 * lost its primary. When the primary itself is down it is the best source of reads there is, stale but available
 * (MaxScale serves reads from such replicas too); while the primary is up, the primary is fresher. A replica that
 * replicates again (re-pointed at a promoted primary) stays UNHEALTHY until it has passed `recoveryThreshold` probes;
 * until then it is still this: it answers, and is no staler than it was.
 */
export const isStaleOnly = (h: NodeHealth): boolean =>
  h.lastError?.tag === "NotReplicating"
    ? h.replicating === false || (h.status === "UNHEALTHY" && h.consecutiveFailures === 0)
    : h.replicating === false && h.status !== "UNHEALTHY"
