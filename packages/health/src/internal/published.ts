/**
 * The snapshot the monitor publishes: every node's state in configuration order, with the cluster's topology
 * re-resolved over it (which node is the primary now) whenever a node's state changes.
 */
import * as HealthState from "../HealthState.js"
import type { NodeHealth } from "../NodeHealth.js"
import { fixedShape } from "./fixedShape.js"
import type { NodeRuntime } from "./nodes.js"
import * as TopologyTracker from "./topologyTracker.js"

/** The published snapshot and the one way to change it. */
export interface Published {
  /** The snapshot now. */
  readonly current: () => ReadonlyArray<NodeHealth>
  /** The published state of one node. */
  readonly of: (rt: NodeRuntime) => NodeHealth
  /** Publishes a node's new state and returns the snapshot re-resolved over it, with what changed. */
  readonly publish: (rt: NodeRuntime, health: NodeHealth) => TopologyTracker.Annotated
}

/** The snapshot of nodes not probed yet. */
export const make = (runtimes: ReadonlyArray<NodeRuntime>): Published => {
  // The router reads the snapshot on every statement: one immutable array, replaced when a state changes, costs a
  // single read instead of an Effect per node and a new array per statement.
  const indexOf = new Map(runtimes.map((rt, i) => [rt, i]))
  const topology = TopologyTracker.make()
  let published: ReadonlyArray<NodeHealth> = topology.annotate(
    runtimes.map((rt) => HealthState.initial(rt.config.name, rt.config.role))
  ).snapshot.map((h) => fixedShape(h))
  return {
    current: () => published,
    of: (rt) => published[indexOf.get(rt)!]!,
    publish: (rt, health) => {
      const index = indexOf.get(rt)!
      const next = published.slice()
      next[index] = fixedShape(health, published[index]!.routing)
      const annotated = topology.annotate(next)
      // A node whose routing changed was rebuilt by a spread: it is given the one shape again.
      published = annotated.snapshot.map((h, i) => h === next[i] ? h : fixedShape(h))
      return annotated
    }
  }
}
