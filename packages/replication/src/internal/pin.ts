/**
 * Keeping the reads of one unit of work on one node (`ReadPin`, set by an eager load): the first read placed on a
 * replica names the node, and each later read tries that node first, so the children are read where the parents
 * were. A node that can no longer serve (down, lagging behind the session) is not forced: the decision's order
 * stands (README, "Relations").
 */
import type { ReadPinShape } from "@fastorm/core"
import type { Route } from "./decision.js"

/** The route with the pinned node first; names the node on the first placed read. */
export const pinned = (pin: ReadPinShape | undefined, route: Route): Route => {
  if (pin === undefined) return route
  switch (route._tag) {
    case "Replicas": {
      const first = route.order[0]
      if (first === undefined) return route
      if (pin.node === undefined) {
        pin.node = first.name
        return route
      }
      const i = route.order.findIndex((c) => c.name === pin.node)
      if (i <= 0) return route
      return { ...route, order: [route.order[i]!, ...route.order.slice(0, i), ...route.order.slice(i + 1)] }
    }
    case "Wait":
      // A read that waits for its session's writes: the replica it waits for becomes the load's node.
      if (pin.node === undefined) pin.node = route.replica.name
      return route
    default:
      return route
  }
}
