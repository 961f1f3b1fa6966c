/**
 * Applying an observation (a probe's result, a reported failure or success) to a node: its state steps, the snapshot
 * is republished, the gauges updated, and a transition published to subscribers and logged.
 */
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import * as HealthState from "../HealthState.js"
import type { NodeHealth, StatusChange } from "../NodeHealth.js"
import * as Log from "./log.js"
import * as Metrics from "./metrics.js"
import type { NodeRuntime } from "./nodes.js"
import type { Published } from "./published.js"

/** Folds one observation into a node's state; returns the state before and after. */
export type Apply = (
  rt: NodeRuntime,
  observation: HealthState.Observation
) => Effect.Effect<readonly [before: NodeHealth, after: NodeHealth]>

/** What applying an observation reads and writes besides the node's own runtime. */
export interface ApplyContext {
  readonly thresholds: HealthState.Thresholds
  readonly log: ReturnType<typeof Log.make>
  readonly pubsub: PubSub.PubSub<StatusChange>
  readonly published: Published
}

/** The monitor's `Apply`, over its thresholds, log, transitions and snapshot. */
export const make = ({ log, published, pubsub, thresholds }: ApplyContext): Apply => (rt, observation) =>
  rt.updateLock.withPermits(1)(Effect.gen(function*() {
    const before = yield* Ref.get(rt.state)
    const after = HealthState.step(before, observation, thresholds)
    yield* Ref.set(rt.state, after)
    const topologyChange = published.publish(rt, after)
    yield* Metrics.record(rt.metrics, after)
    yield* Log.topology(log, topologyChange)
    if (before.status !== after.status || before.roleMismatch !== after.roleMismatch) {
      const change: StatusChange = {
        node: rt.config.name,
        from: before.status,
        to: after.status,
        at: observation.at,
        health: after
      }
      yield* PubSub.publish(pubsub, change)
      yield* log(
        after.status === "UNHEALTHY" || after.roleMismatch ? "Warning" : "Info",
        `node ${rt.config.name} ${before.status} -> ${after.status}`,
        Log.transition(before, after)
      )
    }
    return [before, after] as const
  }))
