/** Health, readiness and metrics routes for @effect/platform HTTP servers. */
export * as HealthEndpoints from "./HealthEndpoints.js"

/** Effect metrics in the Prometheus text format. */
export * as Prometheus from "./Prometheus.js"
