/**
 * FastORM under the OpenTelemetry SDK, as the README's "Tracing" recipe sets it up (`@effect/opentelemetry`'s
 * NodeSdk): on the real clusters, a template write, a template read and a compiled `find` are each one `sql.execute`
 * span, child of the request, with FastORM's route and the OpenTelemetry database attributes; the Prometheus
 * exporter serves FastORM's metrics by name.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { describe, expect, it } from "@effect/vitest"
import { Model, ReadConnection, Repository, WriteConnection } from "@fastorm/core"
import type { ClusterNodes } from "@fastorm/test-support"
import { DATABASE, loadCluster } from "@fastorm/test-support"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { FastOrm } from "../src/index.js"

const cluster = loadCluster()
const backends: ReadonlyArray<{ readonly label: string; readonly system: string; readonly nodes: ClusterNodes }> = [
  { label: "PostgreSQL", system: "postgresql", nodes: cluster.postgres },
  { label: "MariaDB", system: "mariadb", nodes: cluster.mariadb }
]

class Item extends Model.Class<Item>("Item")({
  id: Model.Generated(Schema.Int),
  label: Schema.String
}) {}

for (const b of backends) {
  describe(`OpenTelemetry on ${b.label}`, () => {
    it.scopedLive(
      "each statement is one sql.execute span with its route and database attributes; metrics by name",
      () =>
        Effect.gen(function*() {
          const table = `otel_items_${process.pid}`
          const Items = Repository.make(Item, { table, idColumn: "id" })
          const spans = new InMemorySpanExporter()
          const prometheus = new PrometheusExporter({ preventServerStart: true })
          const program = Effect.gen(function*() {
            const write = yield* WriteConnection
            const read = yield* ReadConnection
            yield* write.unsafe(`DROP TABLE IF EXISTS ${table}`)
            yield* write.unsafe(
              b.label === "PostgreSQL"
                ? `CREATE TABLE ${table} (id SERIAL PRIMARY KEY, label TEXT NOT NULL)`
                : `CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(50) NOT NULL)`
            )
            yield* Effect.addFinalizer(() => Effect.ignore(write.unsafe(`DROP TABLE IF EXISTS ${table}`)))
            yield* Effect.gen(function*() {
              yield* write`INSERT INTO ${write(table)} ${write.insert({ label: "a" })}`.pipe(Effect.withSpan("insert"))
              yield* read`SELECT 1 AS one`.pipe(Effect.withSpan("template-read"))
              yield* Items.find(1, { forceWrite: true }).pipe(Effect.withSpan("compiled-find"))
            })
            // Read before the SDK shuts down: shutting down empties the in-memory exporter.
            const { resourceMetrics } = yield* Effect.promise(() => prometheus.collect())
            return {
              finished: spans.getFinishedSpans(),
              metrics: new PrometheusSerializer().serialize(resourceMetrics)
            }
          })
          const { finished, metrics: text } = yield* program.pipe(
            Effect.provide(FastOrm.layer({
              name: `otel-${b.label}`,
              write: { url: b.nodes.primary.url, name: "primary" },
              read: b.nodes.replicas.map((r, i) => ({ url: r.url, name: `replica-${i + 1}` }))
            })),
            Effect.provide(NodeSdk.layer(() => ({
              resource: { serviceName: "fastorm-test" },
              spanProcessor: new SimpleSpanProcessor(spans),
              metricReader: prometheus
            })))
          )

          for (const request of ["insert", "template-read", "compiled-find"]) {
            const parent = finished.find((s) => s.name === request)!
            const children = finished.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId)
            expect(children.map((s) => s.name), request).toEqual(["sql.execute"])
            const attributes = children[0]!.attributes
            const node = attributes["fastorm.node"]
            const info = node === "primary" ? b.nodes.primary : b.nodes.replicas[Number(String(node).slice(8)) - 1]!
            expect(attributes, request).toMatchObject({
              "fastorm.cluster": `otel-${b.label}`,
              "db.system.name": b.system,
              "db.namespace": DATABASE,
              "server.address": info.host,
              "server.port": info.port
            })
            expect(attributes["fastorm.reason"], request).toEqual(expect.any(String))
          }
          const byRequest = (name: string) => {
            const parent = finished.find((s) => s.name === name)!
            return finished.find((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId)!.attributes
          }
          expect([byRequest("insert")["fastorm.node"], byRequest("insert")["fastorm.reason"]]).toEqual([
            "primary",
            "write"
          ])
          // Node and reason together, so a read that went elsewhere says why (a replica found lagging, say).
          const templateRead = byRequest("template-read")
          expect([templateRead["fastorm.node"], templateRead["fastorm.reason"]]).toEqual([
            expect.stringMatching(/^replica-/),
            expect.any(String)
          ])
          expect(byRequest("compiled-find")["fastorm.reason"]).toBe("forceWrite")

          expect(text).toMatch(/fastorm_routed_statements_total\{[^}]*node="primary"[^}]*\} [1-9]/)
          expect(text).toMatch(/fastorm_health_node_status\{[^}]*node="replica-1"[^}]*\} \d/)
          expect(text).toContain("fastorm_health_node_lag_seconds")
        }),
      60_000
    )
  })
}
