import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import { Prometheus } from "../src/index.js"

describe("Prometheus.format", () => {
  it.effect("counters, gauges and histograms as Prometheus text, escaped labels, HELP and TYPE once per family", () =>
    Effect.gen(function*() {
      const counter = Metric.counter("test_prom_requests_total", { description: "Requests" })
      const gauge = Metric.gauge("test_prom_temperature")
      const histogram = Metric.histogram(
        "test_prom_latency_ms",
        MetricBoundaries.fromIterable([10, 100]),
        "Latency"
      )
      yield* Metric.increment(Metric.tagged(counter, "node", "a\"b"))
      yield* Metric.incrementBy(Metric.tagged(counter, "node", "c"), 2)
      yield* Metric.set(gauge, 21.5)
      yield* Metric.update(histogram, 5)
      yield* Metric.update(histogram, 50)
      yield* Metric.update(histogram, 500)
      const text = yield* Prometheus.render
      const ours = text.split("\n").filter((l) => l.includes("test_prom_"))
      expect(ours).toEqual([
        "# HELP test_prom_latency_ms Latency",
        "# TYPE test_prom_latency_ms histogram",
        "test_prom_latency_ms_bucket{le=\"10\"} 1",
        "test_prom_latency_ms_bucket{le=\"100\"} 2",
        "test_prom_latency_ms_bucket{le=\"+Inf\"} 3",
        "test_prom_latency_ms_sum 555",
        "test_prom_latency_ms_count 3",
        "# HELP test_prom_requests_total Requests",
        "# TYPE test_prom_requests_total counter",
        "test_prom_requests_total{node=\"a\\\"b\"} 1",
        "test_prom_requests_total{node=\"c\"} 2",
        "# TYPE test_prom_temperature gauge",
        "test_prom_temperature 21.5"
      ])
    }))
})
