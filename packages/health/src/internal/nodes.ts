/**
 * The monitored nodes: a node given by URL gets its adapter, and every node its runtime (state, locks, wake-up queue,
 * probe, gauges) for the monitor's lifetime.
 */
import { type DatabaseAdapter, DatabaseAdapterFactory } from "@fastorm/adapters"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type { NodeUrlConfig } from "../HealthMonitor.js"
import * as HealthState from "../HealthState.js"
import type { NodeHealth } from "../NodeHealth.js"
import type * as Probe from "../Probe.js"
import * as Metrics from "./metrics.js"

/** A node's configuration with its adapter: made from its URL when it was given by one. */
export const resolve = (
  node: Probe.NodeConfig | NodeUrlConfig
): Effect.Effect<Probe.NodeConfig, DatabaseAdapterFactory.AdapterCreateError> =>
  "url" in node
    ? Effect.map(
      DatabaseAdapterFactory.create(node.url, node.name === undefined ? {} : { name: node.name }),
      (adapter: DatabaseAdapter.DatabaseAdapter): Probe.NodeConfig => ({
        name: node.name ?? adapter.name,
        role: node.role,
        adapter
      })
    )
    : Effect.succeed(node)

/** What the monitor keeps for one node. */
export interface NodeRuntime {
  readonly config: Probe.NodeConfig
  readonly state: Ref.Ref<NodeHealth>
  /** Serialises state updates, so transitions are published in the order they happened. */
  readonly updateLock: Effect.Semaphore
  /** One probe at a time per node: the probe owns one connection. */
  readonly probeLock: Effect.Semaphore
  /** Wakes the node's probe loop early (after a reported failure). */
  readonly wake: Queue.Queue<void>
  readonly probe: Probe.NodeProbe
  readonly metrics: Metrics.NodeMetrics
}

/** A node's runtime: its initial state, already recorded in its gauges, and its probe, made by `factory`. */
export const makeRuntime = (
  node: Probe.NodeConfig,
  factory: Probe.ProbeFactory,
  settings: Probe.ProbeSettings
): Effect.Effect<NodeRuntime, never, Scope.Scope> =>
  Effect.gen(function*() {
    const state = yield* Ref.make(HealthState.initial(node.name, node.role))
    const metrics = Metrics.forNode(node.name)
    yield* Metrics.record(metrics, yield* Ref.get(state))
    return {
      config: node,
      state,
      updateLock: yield* Effect.makeSemaphore(1),
      probeLock: yield* Effect.makeSemaphore(1),
      wake: yield* Queue.sliding<void>(1),
      probe: yield* factory(node, settings),
      metrics
    } satisfies NodeRuntime
  })
