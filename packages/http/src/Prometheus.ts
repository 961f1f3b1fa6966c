/**
 * Every Effect metric of the process (FastORM's among them: README, "Operating FastORM") in the Prometheus text
 * format, without an OpenTelemetry SDK.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import * as Internal from "./internal/prometheus.js"

/** The content type of the Prometheus text exposition format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** Renders a metrics snapshot as Prometheus text (pure). */
export const format: (snapshot: ReadonlyArray<MetricPair.MetricPair.Untyped>) => string = Internal.format

/** The current value of every metric of the global registry, as Prometheus text. */
export const render: Effect.Effect<string> = Effect.map(Metric.snapshot, format)
