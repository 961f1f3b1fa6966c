/**
 * The monitor's memory of the cluster's topology: the primary it named last (the incumbent of `Topology.resolve`),
 * and the routing of each node, so a change of routing can be published and logged once.
 */
import type { NodeHealth, Routing } from "../NodeHealth.js"
import * as Topology from "../Topology.js"

/** A node whose routing changed. */
export interface RoutingChange {
  readonly health: NodeHealth
  readonly from: Routing | undefined
  readonly to: Routing | undefined
}

/** The snapshot with routings set, what changed, and why no primary is named when none is. */
export interface Annotated {
  readonly snapshot: ReadonlyArray<NodeHealth>
  readonly changes: ReadonlyArray<RoutingChange>
  /** The primary changed from one named node to another (a promotion followed). */
  readonly switched?: { readonly from: string; readonly to: string } | undefined
  /** Set when the resolution's reason for naming no primary changed to this one. */
  readonly newlyUnresolved: Topology.Resolution["unresolved"]
}

/** A tracker with no memory yet. */
export const make = () => {
  let incumbent: string | undefined
  let unresolved: Topology.Resolution["unresolved"]
  return {
    /** Re-resolves the topology over `snapshot`. */
    annotate: (snapshot: ReadonlyArray<NodeHealth>): Annotated => {
      const resolution = Topology.resolve(snapshot, incumbent)
      const switched = resolution.primary !== undefined && incumbent !== undefined && resolution.primary !== incumbent
        ? { from: incumbent, to: resolution.primary }
        : undefined
      if (resolution.primary !== undefined) incumbent = resolution.primary
      const annotated = Topology.annotate(snapshot, resolution)
      const changes: Array<RoutingChange> = []
      for (let i = 0; i < annotated.length; i++) {
        const before = snapshot[i]!
        const after = annotated[i]!
        if (before.routing !== after.routing) changes.push({ health: after, from: before.routing, to: after.routing })
      }
      const newlyUnresolved = resolution.unresolved !== unresolved ? resolution.unresolved : undefined
      unresolved = resolution.unresolved
      return { snapshot: annotated, changes, switched, newlyUnresolved }
    }
  }
}
