/**
 * Keeping the reads of one unit of work on one node (`ReadPin`, set by an eager load): the first read names the node
 * it is placed on, and each later read goes there first, so the children are read where the parents were. A replica
 * the decision no longer offers (down, or behind the session) is not forced: the decision's order stands. A load
 * whose first read went to the primary (the session's write not replayed yet, no replica serving) reads the rest
 * there too, without waiting for the replicas again (README, "Relations").
 */
import type { ReadPinShape } from "@fastorm/core"
import type { Route } from "./decision.js"
import type { SelectionState } from "./selection.js"

/**
 * The strategies' state a read decides with: a copy once the load's node is named, so the load's later reads do not
 * advance the round-robin cursor (or weighted counters). Advanced by every read, the cursor would send each load's
 * first read to the same replica (measured: all loads of the relations bench on one replica, half the throughput).
 */
export const selectionFor = (pin: ReadPinShape | undefined, selection: SelectionState): SelectionState =>
  pin?.node === undefined ? selection : { cursor: selection.cursor, current: [...selection.current] }

/** The route adjusted to the pinned node; names the node on the first placed read. */
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
      if (i === 0) return route
      if (i > 0) return { ...route, order: [route.order[i]!, ...route.order.slice(0, i), ...route.order.slice(i + 1)] }
      return pin.node === route.primary
        ? { _tag: "Primary", node: pin.node, reason: route.reason, write: false }
        : route
    }
    case "Wait":
      // A read that waits for its session's writes: the replica it waits for becomes the load's node.
      if (pin.node === undefined) pin.node = route.replica.name
      else if (pin.node === route.primary) return { _tag: "Primary", node: pin.node, reason: "session", write: false }
      return route
    case "Primary":
      // Reads only: a write is no read of the load, and goes where it must.
      if (pin.node === undefined && !route.write) pin.node = route.node
      return route
    case "Fallback":
      if (pin.node === undefined) pin.node = route.node
      return route
    default:
      return route
  }
}
