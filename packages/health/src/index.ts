/** The read-only view of a cluster's health: nodes, changes, readiness. */
export * as ClusterStatus from "./ClusterStatus.js"

/** Sorting database errors: connection-class, authentication, busy pool, statement (ARCHITECTURE.md, "Errors"). */
export * as ErrorClassification from "./ErrorClassification.js"

/** The HealthMonitor service, its configuration, constructor and layer. */
export * as HealthMonitor from "./HealthMonitor.js"

/** The pure health state machine of one node. */
export * as HealthState from "./HealthState.js"

/** Node status, health records and status transitions. */
export * as NodeHealth from "./NodeHealth.js"

/** Which node is the primary now, from every node's observed role. */
export * as Topology from "./Topology.js"

/** Probes: the per-node check and the default driver probes. */
export * as Probe from "./Probe.js"

export { classify, isAuthenticationError, isBusyError, isConnectionError } from "./ErrorClassification.js"
export type { ConfiguredRole, Role, Routing, Status, StatusChange } from "./NodeHealth.js"
