/**
 * Effect `Metric` gauges per node: status (0 unknown, 1 healthy, 2 degraded, 3 unhealthy), last probe latency in
 * milliseconds, and replication lag in seconds (-1 when unknown, so "no figure" is never read as "no lag").
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { NodeHealth } from "../NodeHealth.js"
import { statusCode } from "../NodeHealth.js"

const status = Metric.gauge("fastorm_health_node_status", {
  description: "Health status per node: 0 unknown, 1 healthy, 2 degraded, 3 unhealthy"
})
const latency = Metric.gauge("fastorm_health_node_latency_ms", {
  description: "Round trip of the last successful health probe, in milliseconds"
})
const lag = Metric.gauge("fastorm_health_node_lag_seconds", {
  description: "Replication lag per node in seconds; -1 when unknown"
})

/** The three gauges of one node. */
export interface NodeMetrics {
  readonly status: Metric.Metric.Gauge<number>
  readonly latency: Metric.Metric.Gauge<number>
  readonly lag: Metric.Metric.Gauge<number>
}

/** The gauges of one node, tagged `node=<name>`. */
export const forNode = (node: string): NodeMetrics => ({
  status: Metric.tagged(status, "node", node),
  latency: Metric.tagged(latency, "node", node),
  lag: Metric.tagged(lag, "node", node)
})

/** Sets the gauges from a node's state. */
export const record = (metrics: NodeMetrics, health: NodeHealth): Effect.Effect<void> =>
  Effect.all([
    Metric.set(metrics.status, statusCode[health.status]),
    health.lastLatency === undefined ? Effect.void : Metric.set(metrics.latency, Duration.toMillis(health.lastLatency)),
    Metric.set(metrics.lag, health.lagSeconds ?? -1)
  ], { discard: true })
