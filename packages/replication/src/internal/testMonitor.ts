/**
 * The scripted HealthMonitor of `FastOrmTest`. Probes are not run by a fiber: the state of the last probe is derived
 * from the clock when asked for, so it is exact right after `TestClock.adjust`, whatever the scheduler did meanwhile.
 * A probe runs every `probeInterval` from the layer's start (and when asked for); it fails while a connection-class
 * failure or a hang is injected. Suspicion follows the monitor's model (ARCHITECTURE.md, "Health and suspicion"): a
 * reported failure makes a node suspect until a later probe succeeds.
 */
import { ErrorClassification, HealthMonitor } from "@fastorm/health"
import type { NodeHealth } from "@fastorm/health"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { FailureReport } from "../FastOrmTest.js"
import type { NodeState } from "./testNodes.js"

/** The scripted monitor and what the controls need of it. */
export interface TestMonitor {
  readonly monitor: HealthMonitor.HealthMonitorShape
  /** The node's state as the monitor reports it at `at`. */
  readonly health: (state: NodeState, at: number) => NodeHealth.NodeHealth
  /** Publishes a status change the test made. */
  readonly publish: (change: NodeHealth.StatusChange) => Effect.Effect<void>
  /** Counts as a probe of every node now. */
  readonly probeAll: Effect.Effect<void>
  readonly reports: Array<FailureReport>
}

const now = Effect.clockWith((clock) => clock.currentTimeMillis)

/** Builds the monitor over the nodes (in configuration order); probes tick every `probeInterval` from now. */
export const make = (
  nodes: ReadonlyMap<string, NodeState>,
  probeInterval: Duration.DurationInput
): Effect.Effect<TestMonitor, never, Scope.Scope> =>
  Effect.gen(function*() {
    const start = yield* now
    const order = [...nodes.keys()]
    const interval = Math.max(1, Duration.toMillis(Duration.decode(probeInterval)))
    const tickAtOrBefore = (at: number) => start + Math.floor((at - start) / interval) * interval
    const failingAt = (state: NodeState, at: number) =>
      state.faults.find((f) => f.start <= at && (f.end === undefined || f.end > at))
    const reports: Array<FailureReport> = []

    const health = (state: NodeState, at: number): NodeHealth.NodeHealth => {
      const tick = tickAtOrBefore(at)
      const checkedAt = Math.max(tick > start ? tick : -Infinity, state.probedAt ?? -Infinity)
      const checked = Number.isFinite(checkedAt)
      const fault = checked ? failingAt(state, checkedAt) : undefined
      // A successful probe after the first reported failure clears the suspicion.
      if (state.suspectSince !== undefined && checked && fault === undefined && checkedAt > state.suspectSince) {
        state.suspectSince = undefined
      }
      // Consecutive failed probes: the ticks since the fault began, up to the last probe.
      const failures = fault === undefined
        ? 0
        : Math.max(1, Math.floor((checkedAt - start) / interval) - Math.ceil((fault.start - start) / interval) + 1)
      return {
        name: state.name,
        configuredRole: state.configuredRole,
        role: state.role,
        roleMismatch: state.role !== state.configuredRole,
        status: state.status,
        lastLatency: state.latency,
        smoothedLatency: state.latency,
        lagSeconds: state.configuredRole === "primary" ? 0 : state.lag,
        replicating: state.configuredRole === "primary" ? undefined : state.replicating,
        position: undefined,
        consecutiveFailures: failures,
        consecutiveSuccesses: checked && fault === undefined ? 1 : 0,
        suspectSince: state.suspectSince,
        lastError: fault === undefined ? undefined : {
          tag: state.failure?.kind === "connection" ? "ConnectionFailed" : "Timeout",
          message: "FastOrmTest: the simulated probe failed",
          at: checkedAt,
          source: "probe"
        },
        lastCheckedAt: checked ? checkedAt : undefined,
        lastChangeAt: state.lastChangeAt
      }
    }

    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<NodeHealth.StatusChange>(), PubSub.shutdown)
    const probeNode = (state: NodeState) =>
      Effect.map(now, (at) => {
        state.probedAt = at
      })
    const probeAll = Effect.forEach(nodes.values(), probeNode, { discard: true })
    const snapshot = Effect.map(now, (at) => order.map((name) => health(nodes.get(name)!, at)))
    const lookup = (name: string) =>
      Effect.suspend(() => {
        const state = nodes.get(name)
        return state === undefined ? Effect.fail(new HealthMonitor.UnknownNode({ node: name })) : Effect.succeed(state)
      })

    const monitor: HealthMonitor.HealthMonitorShape = {
      nodes: order.map((name) => ({ name, role: nodes.get(name)!.configuredRole })),
      snapshot,
      health: (name) => Effect.flatMap(lookup(name), (state) => Effect.map(now, (at) => health(state, at))),
      status: (name) => Effect.map(lookup(name), (state) => state.status),
      changes: Stream.fromPubSub(pubsub),
      subscribe: PubSub.subscribe(pubsub),
      check: Effect.zipRight(probeAll, snapshot),
      checkNode: (name) =>
        Effect.flatMap(
          lookup(name),
          (state) => Effect.zipRight(probeNode(state), Effect.map(now, (at) => health(state, at)))
        ),
      // The status stays what the test set; a node-class failure makes the node suspect until a later probe.
      reportFailure: (name, error) =>
        Effect.flatMap(lookup(name), (state) => {
          const classification = ErrorClassification.classify(error)
          return Effect.map(now, (at) => {
            if (classification._tag === "Connection" || classification._tag === "Authentication") {
              reports.push({ node: name, classification: classification._tag, code: classification.code, at })
              state.suspectSince ??= at
            }
            return classification
          })
        }),
      reportSuccess: (name) => Effect.asVoid(lookup(name))
    }

    return { monitor, health, publish: (change) => Effect.asVoid(PubSub.publish(pubsub, change)), probeAll, reports }
  })
