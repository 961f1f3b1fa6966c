/**
 * The health state machine of one node, as pure functions: `step` folds one observation (a probe result, a probe
 * failure, a passive report) into the node's state, `nextDelay` says when to probe next. The monitor only adds time,
 * concurrency and I/O around it, so every transition can be tested without a clock or a server.
 *
 * Rules:
 * - a probe answering in under `degradedAfter` is HEALTHY, under `unhealthyAfter` DEGRADED (also DEGRADED when the
 *   lag exceeds `maxLag`), later UNHEALTHY at once (`TooSlow`);
 * - a replica that is not replicating is UNHEALTHY at once (`NotReplicating`), its lag unknown;
 * - a replica's lag is bounded by the time since a probe last found it caught up (`boundedLag`);
 * - an authentication failure is UNHEALTHY at once and retried on its own backoff (`authBackoffBase`, doubling);
 * - a probe timeout is UNHEALTHY at once when `timeout >= unhealthyAfter` (no answer within the timeout then means
 *   slower than `unhealthyAfter`, like `TooSlow`; a frozen server is caught by its first probe); with a shorter
 *   timeout it counts like the failures below;
 * - other failures (connection-class, timeout, a probe statement error) count: the first ones make a HEALTHY node
 *   DEGRADED ("suspect"), `failureThreshold` in a row make it UNHEALTHY; an UNKNOWN node stays UNKNOWN until then;
 * - an UNHEALTHY node is re-probed on exponential backoff (`backoffBase` doubling, capped at `backoffCap`) and leaves
 *   UNHEALTHY only after `recoveryThreshold` consecutive successes (hysteresis); during recovery it is probed every
 *   `interval`;
 * - a reported success clears failures the way a probe success does, but cannot clear `TooSlow` or `NotReplicating`
 *   (an application query says nothing about probe latency or replication);
 * - a reported failure makes the node suspect (`suspectSince`) until a probe succeeds: one model of suspicion, read
 *   by the router, which sends a suspect node no reads (ARCHITECTURE.md, "Health and suspicion").
 */
import * as Duration from "effect/Duration"
import type { ConfiguredRole, ErrorTag, LastError, NodeHealth, Status } from "./NodeHealth.js"
import type { ProbeResult } from "./Probe.js"

/** The thresholds and timings the state machine applies. */
export interface Thresholds {
  /** Time between probes of a node that is not UNHEALTHY (and between recovery probes). */
  readonly interval: Duration.Duration
  /** Bound on one probe; a probe that hits it has no answer for at least this long. */
  readonly timeout: Duration.Duration
  /** A probe slower than this makes the node DEGRADED. */
  readonly degradedAfter: Duration.Duration
  /** A probe slower than this makes the node UNHEALTHY. */
  readonly unhealthyAfter: Duration.Duration
  /** Consecutive failures that make a node UNHEALTHY. */
  readonly failureThreshold: number
  /** Consecutive successes that bring an UNHEALTHY node back. */
  readonly recoveryThreshold: number
  /** First re-probe delay of an UNHEALTHY node; doubles with every further failure. */
  readonly backoffBase: Duration.Duration
  /** Longest re-probe delay of an UNHEALTHY node. */
  readonly backoffCap: Duration.Duration
  /** First re-probe delay after an authentication failure; doubles with every further one. */
  readonly authBackoffBase: Duration.Duration
  /** Longest re-probe delay after authentication failures. */
  readonly authBackoffCap: Duration.Duration
  /** Weight of the newest latency in the smoothed latency, in (0, 1]. */
  readonly smoothing: number
  /** Lag above which a replica is DEGRADED; no bound when undefined. */
  readonly maxLag?: Duration.Duration | undefined
}

/** One observation of a node. */
export type Observation =
  | {
    readonly _tag: "ProbeSucceeded"
    readonly latency: Duration.Duration
    readonly result: ProbeResult
    readonly at: number
  }
  | {
    readonly _tag: "Failed"
    readonly source: "probe" | "report"
    readonly tag: "ConnectionFailed" | "Timeout" | "StatementFailed" | "AuthenticationFailed"
    readonly code?: string | undefined
    readonly message: string
    readonly at: number
  }
  | {
    readonly _tag: "SuccessReported"
    readonly latency: Duration.Duration
    readonly at: number
  }

/** The state of a node that has not been checked yet. */
export const initial = (name: string, configuredRole: ConfiguredRole): NodeHealth => ({
  name,
  configuredRole,
  roleMismatch: false,
  status: "UNKNOWN",
  consecutiveFailures: 0,
  consecutiveSuccesses: 0
})

const smooth = (
  previous: Duration.Duration | undefined,
  sample: Duration.Duration,
  alpha: number
): Duration.Duration =>
  previous === undefined
    ? sample
    : Duration.millis(alpha * Duration.toMillis(sample) + (1 - alpha) * Duration.toMillis(previous))

/**
 * The lag a replica's probe reports, bounded by the time since a probe last found it caught up (`caughtUpAt`, epoch
 * ms): whatever it has left to apply arrived after that probe. PostgreSQL's lag while anything is left to replay is
 * the age of the last replayed transaction, so the first record after a quiet spell (a write's, an autovacuum's, a
 * checkpoint's) reads as a lag of the whole spell, on every replica at once, until it is replayed; bounded, it reads as
 * what it is (ARCHITECTURE.md, "Health and suspicion"). Unknown stays unknown.
 */
export const boundedLag = (
  lagSeconds: number | undefined,
  caughtUpAt: number | undefined,
  at: number
): number | undefined =>
  lagSeconds === undefined || caughtUpAt === undefined
    ? lagSeconds
    : Math.min(lagSeconds, Math.max(0, (at - caughtUpAt) / 1000))

/** The status a node answering with this latency and lag deserves, ignoring its history. */
export const levelOf = (
  latency: Duration.Duration | undefined,
  lagSeconds: number | undefined,
  t: Thresholds
): Status => {
  if (latency !== undefined && Duration.greaterThanOrEqualTo(latency, t.unhealthyAfter)) return "UNHEALTHY"
  if (latency !== undefined && Duration.greaterThanOrEqualTo(latency, t.degradedAfter)) return "DEGRADED"
  if (t.maxLag !== undefined && lagSeconds !== undefined && lagSeconds > Duration.toSeconds(t.maxLag)) {
    return "DEGRADED"
  }
  return "HEALTHY"
}

const withStatus = (previous: NodeHealth, next: NodeHealth, at: number): NodeHealth =>
  next.status === previous.status ? next : { ...next, lastChangeAt: at }

// Failures that make a node UNHEALTHY at once, whatever the count.
const immediate: ReadonlySet<ErrorTag> = new Set(["AuthenticationFailed", "TooSlow", "NotReplicating"])

const fail = (state: NodeHealth, lastError: LastError, t: Thresholds): NodeHealth => {
  const consecutiveFailures = state.consecutiveFailures + 1
  const status: Status = immediate.has(lastError.tag) ||
      (lastError.tag === "Timeout" && Duration.greaterThanOrEqualTo(t.timeout, t.unhealthyAfter))
    ? "UNHEALTHY"
    : state.status
  return {
    ...state,
    status,
    consecutiveFailures,
    consecutiveSuccesses: 0,
    lastError
  }
}

/** Folds one observation into a node's state. */
export const step = (state: NodeHealth, observation: Observation, t: Thresholds): NodeHealth => {
  switch (observation._tag) {
    case "ProbeSucceeded": {
      const { at, latency, result } = observation
      const lagSeconds = result.role === "replica"
        ? boundedLag(result.lagSeconds, state.caughtUpAt, at)
        : result.lagSeconds
      const observed: NodeHealth = {
        ...state,
        role: result.role,
        roleMismatch: state.configuredRole !== "any" && result.role !== state.configuredRole,
        timeline: result.timeline,
        serverId: result.serverId,
        sourceServerId: result.sourceServerId,
        lastLatency: latency,
        smoothedLatency: smooth(state.smoothedLatency, latency, t.smoothing),
        lagSeconds,
        caughtUpAt: result.role === "replica" && result.lagSeconds === 0 ? at : state.caughtUpAt,
        replicating: result.replicating,
        position: result.position,
        lastCheckedAt: at,
        suspectSince: undefined
      }
      if (result.role === "replica" && result.replicating === false) {
        return withStatus(
          state,
          fail({ ...observed, lagSeconds: undefined }, {
            tag: "NotReplicating",
            message: "the replica is not replicating (replication stopped or broken); lag unknown",
            at,
            source: "probe"
          }, t),
          at
        )
      }
      if (Duration.greaterThanOrEqualTo(latency, t.unhealthyAfter)) {
        return withStatus(
          state,
          fail(observed, {
            tag: "TooSlow",
            message: `the probe took ${Math.round(Duration.toMillis(latency))} ms`,
            at,
            source: "probe"
          }, t),
          at
        )
      }
      return withStatus(state, succeed(observed, levelOf(latency, lagSeconds, t), t), at)
    }
    case "SuccessReported": {
      const { at, latency } = observation
      const observed: NodeHealth = {
        ...state,
        smoothedLatency: smooth(state.smoothedLatency, latency, t.smoothing)
      }
      // Only a probe can clear what only a probe can see.
      if (
        state.status === "UNHEALTHY" && state.lastError !== undefined &&
        (state.lastError.tag === "TooSlow" || state.lastError.tag === "NotReplicating")
      ) return observed
      return withStatus(state, succeed(observed, levelOf(state.lastLatency, state.lagSeconds, t), t), at)
    }
    case "Failed": {
      const { at, code, message, source, tag } = observation
      const lastError: LastError = { tag, message, at, source, ...(code === undefined ? {} : { code }) }
      const failed = fail(
        {
          ...state,
          lagSeconds: undefined,
          ...(source === "probe" ? { lastCheckedAt: at } : { suspectSince: state.suspectSince ?? at })
        },
        lastError,
        t
      )
      if (failed.status === "UNHEALTHY" && state.status !== "UNHEALTHY") return withStatus(state, failed, at)
      // A report alone never reaches the threshold: a burst of failed queries from one blip must not condemn a node
      // that a probe has not seen fail. It makes the node suspect and the monitor probes it at once.
      const consecutiveFailures = source === "report"
        ? Math.min(failed.consecutiveFailures, Math.max(state.consecutiveFailures, t.failureThreshold - 1))
        : failed.consecutiveFailures
      const status: Status = failed.status === "UNHEALTHY" || consecutiveFailures >= t.failureThreshold
        ? "UNHEALTHY"
        : failed.status === "HEALTHY"
        ? "DEGRADED" // suspect: not yet failureThreshold failures
        : failed.status
      return withStatus(state, { ...failed, consecutiveFailures, status }, at)
    }
  }
}

const succeed = (state: NodeHealth, level: Status, t: Thresholds): NodeHealth => {
  const consecutiveSuccesses = state.consecutiveSuccesses + 1
  const recovering = state.status === "UNHEALTHY" && consecutiveSuccesses < t.recoveryThreshold
  return {
    ...state,
    status: recovering ? "UNHEALTHY" : level,
    consecutiveFailures: 0,
    consecutiveSuccesses
  }
}

const backoff = (base: Duration.Duration, cap: Duration.Duration, exponent: number): Duration.Duration => {
  const factor = 2 ** Math.min(Math.max(0, exponent), 30)
  return Duration.min(Duration.times(base, factor), cap)
}

/** How long to wait before probing this node again. */
export const nextDelay = (state: NodeHealth, t: Thresholds): Duration.Duration => {
  if (state.status !== "UNHEALTHY" || state.consecutiveSuccesses > 0 || state.lastError === undefined) {
    return t.interval
  }
  switch (state.lastError.tag) {
    case "AuthenticationFailed":
      // Wrong credentials do not fix themselves in milliseconds: never a tight loop of failed logins.
      return backoff(t.authBackoffBase, t.authBackoffCap, state.consecutiveFailures - 1)
    case "ConnectionFailed":
    case "Timeout":
    case "StatementFailed":
      return backoff(t.backoffBase, t.backoffCap, state.consecutiveFailures - t.failureThreshold)
    case "TooSlow":
    case "NotReplicating":
      // The node answers; probing it costs one cheap statement, and recovery should be seen promptly.
      return t.interval
  }
}
