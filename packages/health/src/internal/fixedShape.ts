/**
 * One object shape for every published `NodeHealth`. The router reads the snapshot on every statement (its pure
 * decisions load a few dozen of these fields per operation); states built by spreads carry only the keys their
 * history set, in the order it set them, so each history is a new hidden class and those loads go polymorphic, then
 * megamorphic (ARCHITECTURE.md, "Health and suspicion"). Every published state is built here instead, with every key.
 */
import type { NodeHealth } from "../NodeHealth.js"

/** Every key of `NodeHealth`, present: leaving one out (a field added later) is a type error here. */
type Complete = { readonly [K in keyof Required<NodeHealth>]: NodeHealth[K] }

/** The same state (with `routing` if given), built with every key in one order. */
export const fixedShape = (h: NodeHealth, routing: NodeHealth["routing"] = h.routing): NodeHealth => {
  const complete: Complete = {
    name: h.name,
    configuredRole: h.configuredRole,
    role: h.role,
    roleMismatch: h.roleMismatch,
    routing,
    timeline: h.timeline,
    serverId: h.serverId,
    sourceServerId: h.sourceServerId,
    status: h.status,
    lastLatency: h.lastLatency,
    smoothedLatency: h.smoothedLatency,
    lagSeconds: h.lagSeconds,
    caughtUpAt: h.caughtUpAt,
    replicating: h.replicating,
    position: h.position,
    consecutiveFailures: h.consecutiveFailures,
    consecutiveSuccesses: h.consecutiveSuccesses,
    suspectSince: h.suspectSince,
    lastError: h.lastError,
    lastCheckedAt: h.lastCheckedAt,
    lastChangeAt: h.lastChangeAt
  }
  return complete
}
