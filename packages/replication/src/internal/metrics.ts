/**
 * The router's Effect metrics beside `fastorm_routed_statements_total` (README, "Operating FastORM"): statement
 * latency per node, session waits, and pool use. Metric keys are resolved once per node (tags in the key): a key
 * built per statement costs a hash and a registry lookup each time.
 */
import type { DatabaseAdapter } from "@fastorm/adapters"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import type * as MetricLabel from "effect/MetricLabel"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

// 0.25 ms to about 8 s, doubling: a point read on a LAN and a statement at its timeout both land in a bucket.
const latencyBoundaries = MetricBoundaries.exponential({ start: 0.25, factor: 2, count: 16 })

const statementKey = MetricKey.histogram(
  "fastorm_statement_duration_ms",
  latencyBoundaries,
  "Duration of routed statement attempts on each node, in milliseconds (failed attempts included)"
)
const waitKey = MetricKey.histogram(
  "fastorm_session_wait_ms",
  latencyBoundaries,
  "Time session reads waited for a replica to replay the session's writes, in milliseconds"
)
const waitsKey = MetricKey.counter("fastorm_session_waits_total", {
  description: "Session reads that waited for a replica, by node and outcome (caught_up, gave_up)",
  incremental: true
})
const primaryWaitKey = MetricKey.histogram(
  "fastorm_primary_wait_ms",
  latencyBoundaries,
  "Time statements waited for a primary (primaryWaitTimeout), in milliseconds"
)
const primaryWaitsKey = MetricKey.counter("fastorm_primary_waits_total", {
  description: "Statements that waited for a primary, by cluster and outcome (found, gave_up)",
  incremental: true
})
const poolKey = MetricKey.gauge("fastorm_pool_connections", {
  description: "Connections of each node's pool: open, idle, waiting (callers), max"
})

/** A histogram of statement durations on `node`, tagged once. */
export const statementDuration = (node: string): Metric.Metric.Histogram<number> =>
  Metric.fromMetricKey(statementKey.pipe(MetricKey.tagged("node", node)))

/** The metrics of one kind of wait (a session read's for a replica, a statement's for a primary) at one place. */
export interface WaitMetrics {
  readonly duration: Metric.Metric.Histogram<number>
  /** Waits that ended with what they waited for (`caught_up`, `found`). */
  readonly done: Metric.Metric.Counter<number>
  readonly gaveUp: Metric.Metric.Counter<number>
}

const waitMetrics = (
  duration: MetricKey.MetricKey.Histogram,
  count: MetricKey.MetricKey.Counter<number>,
  done: string
): WaitMetrics => ({
  duration: Metric.fromMetricKey(duration),
  done: Metric.fromMetricKey(count.pipe(MetricKey.tagged("outcome", done))),
  gaveUp: Metric.fromMetricKey(count.pipe(MetricKey.tagged("outcome", "gave_up")))
})

/** The session-wait metrics of `node`, tagged once. */
export const sessionWaits = (node: string): WaitMetrics =>
  waitMetrics(waitKey.pipe(MetricKey.tagged("node", node)), waitsKey.pipe(MetricKey.tagged("node", node)), "caught_up")

/** The wait-for-a-primary metrics of `cluster`, tagged once. */
export const primaryWaits = (cluster: string): WaitMetrics =>
  waitMetrics(
    primaryWaitKey.pipe(MetricKey.tagged("cluster", cluster)),
    primaryWaitsKey.pipe(MetricKey.tagged("cluster", cluster)),
    "found"
  )

/** Records one wait, with the fiber's metric labels `labels` (`FiberRef.currentMetricLabels`). */
export const recordWait = (
  metrics: WaitMetrics,
  ms: number,
  done: boolean,
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): void => {
  metrics.duration.unsafeUpdate(ms, labels)
  ;(done ? metrics.done : metrics.gaveUp).unsafeUpdate(1, labels)
}

/** Samples every node's pool into `fastorm_pool_connections` each `every`, for as long as the scope lives. */
export const samplePools = (
  nodes: ReadonlyArray<{ readonly name: string; readonly client: DatabaseAdapter.NodeClient }>,
  every: Duration.DurationInput
): Effect.Effect<void, never, Scope.Scope> => {
  const gauges = nodes.map((node) => {
    const of = (state: string) =>
      Metric.fromMetricKey(poolKey.pipe(MetricKey.tagged("node", node.name), MetricKey.tagged("state", state)))
    return {
      node,
      open: of("open"),
      idle: of("idle"),
      waiting: of("waiting"),
      max: of("max"),
      pipelined: of("pipelined")
    }
  })
  const sample = Effect.forEach(gauges, (g) =>
    Effect.suspend(() => {
      const status = g.node.client.poolStatus()
      return Effect.all([
        Metric.set(g.open, status.open),
        Metric.set(g.idle, status.idle),
        Metric.set(g.waiting, status.waiting),
        Metric.set(g.max, status.max),
        Metric.set(g.pipelined, status.pipelined ?? 0)
      ], { discard: true })
    }), { discard: true })
  return Effect.asVoid(Effect.forkScoped(Effect.repeat(sample, Schedule.spaced(every))))
}
