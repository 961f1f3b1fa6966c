/**
 * The endpoints on a real Node HTTP server over `FastOrm.layer` on the real clusters, with real HTTP requests: ready
 * while a replica is stopped (the node shows down), 503 while the primary is stopped; the metrics by name.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import { ClusterStatus } from "@fastorm/health"
import { FastOrm } from "@fastorm/replication"
import type { ClusterNodes } from "@fastorm/test-support"
import {
  APP_PASSWORD,
  captureLogs,
  control,
  loadCluster,
  startNode,
  stopNode,
  waitReplicated,
  waitUntil
} from "@fastorm/test-support"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import { HealthEndpoints } from "../src/index.js"

const cluster = loadCluster()
const backends: ReadonlyArray<{ readonly label: string; readonly nodes: ClusterNodes }> = [
  { label: "PostgreSQL", nodes: cluster.postgres },
  { label: "MariaDB", nodes: cluster.mariadb }
]

interface Answer {
  readonly status: number
  readonly contentType: string | null
  readonly body: string
}

const get = (port: number, path: string): Effect.Effect<Answer> =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(10_000) })
    return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }
  })

interface ReadyBody {
  readonly ready: boolean
  readonly primary: string | null
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly status: string; readonly lastError: unknown }>
}

const ready = (port: number) =>
  Effect.map(get(port, "/health/ready"), (a) => ({ status: a.status, body: JSON.parse(a.body) as ReadyBody }))

const statusOf = (body: ReadyBody, node: string) => body.nodes.find((n) => n.name === node)?.status

/** Every node back, and the replicas caught up, whatever the test did. */
const restore = (nodes: ClusterNodes) =>
  Effect.forEach([nodes.primary, ...nodes.replicas], (node) => control(() => startNode(node, { timeoutMs: 60_000 })), {
    discard: true
  }).pipe(Effect.zipRight(control(() => waitReplicated(nodes, { timeoutMs: 60_000 }))))

/** The app: FastOrm.layer and the endpoints on a Node HTTP server on a free port. */
const app = (nodes: ClusterNodes, name: string) =>
  HealthEndpoints.layer().pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(FastOrm.layer({
      name,
      write: { url: nodes.primary.url, name: "primary" },
      read: nodes.replicas.map((r, i) => ({ url: r.url, name: `replica-${i + 1}` })),
      readWrite: { connectTimeout: "1 second", statementTimeout: "2 seconds" },
      health: { interval: "100 millis", timeout: "500 millis", failureThreshold: 2, backoffCap: "400 millis" }
    }))
  )

const portOf = (context: Context.Context<HttpServer.HttpServer>) => {
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return address.port
}

for (const b of backends) {
  describe(`HTTP endpoints on ${b.label}`, () => {
    it.scopedLive(
      "live, ready with every node, metrics by name; a replica stopped: ready 200, the node down",
      () =>
        Effect.gen(function*() {
          const logs = captureLogs()
          const context = yield* Layer.build(app(b.nodes, `http-${b.label}`)).pipe(Effect.provide(logs.layer))
          const port = portOf(context)
          const status = Context.get(context, ClusterStatus.ClusterStatus)

          const live = yield* get(port, "/health/live")
          expect([live.status, JSON.parse(live.body)]).toEqual([200, { status: "alive" }])

          yield* waitUntil(ready(port), (r) => r.status === 200 && r.body.nodes.every((n) => n.status === "HEALTHY"), {
            timeoutMs: 15_000,
            what: "ready, every node HEALTHY"
          })
          const before = yield* ready(port)
          expect(before.body.primary).toBe("primary")
          expect(before.body.nodes.map((n) => n.name)).toEqual(["primary", "replica-1", "replica-2"])

          // Statements, so the routed counter has series.
          const read = Context.get(context, ReadConnection)
          const write = Context.get(context, WriteConnection)
          yield* write`SELECT 1 AS one`
          yield* read`SELECT 1 AS one`
          const metrics = yield* get(port, "/metrics")
          expect(metrics.status).toBe(200)
          expect(metrics.contentType).toContain("text/plain; version=0.0.4")
          expect(metrics.body).toContain("# TYPE fastorm_routed_statements_total counter")
          expect(metrics.body).toMatch(/fastorm_routed_statements_total\{node="primary",reason="[a-z]+"\} [1-9]/)
          expect(metrics.body).toContain("# TYPE fastorm_health_node_status gauge")
          expect(metrics.body).toContain(`fastorm_health_node_status{node="replica-1"} 1`)
          expect(metrics.body).toMatch(/fastorm_health_node_latency_ms\{node="primary"\} \d/)
          expect(metrics.body).toMatch(/fastorm_health_node_lag_seconds\{node="replica-2"\} -?\d/)
          expect(metrics.body).toContain("# TYPE fastorm_statement_duration_ms histogram")
          expect(metrics.body).toMatch(/fastorm_statement_duration_ms_count\{node="primary"\} [1-9]/)
          expect(metrics.body).toMatch(/fastorm_statement_duration_ms_bucket\{node="replica-\d",le="\+Inf"\} [1-9]/)
          expect(metrics.body).toContain("# TYPE fastorm_pool_connections gauge")
          expect(metrics.body).toMatch(/fastorm_pool_connections\{node="replica-2",state="max"\} [1-9]/)
          expect(metrics.body).toMatch(/fastorm_pool_connections\{node="replica-2",state="pipelined"\} 0/)
          expect(metrics.body).not.toContain(b.nodes.primary.url)

          const victim = b.nodes.replicas[0]!
          const down = yield* status.changes.pipe(
            Stream.filter((c) => c.node === "replica-1" && c.to === "UNHEALTHY"),
            Stream.runHead,
            Effect.fork
          )
          yield* Effect.sleep("100 millis")
          yield* Effect.gen(function*() {
            yield* control(() => stopNode(victim))
            yield* waitUntil(ready(port), (r) => statusOf(r.body, "replica-1") === "UNHEALTHY", {
              timeoutMs: 15_000,
              what: "replica-1 UNHEALTHY on /health/ready"
            })
            const during = yield* ready(port)
            expect(during.status).toBe(200)
            expect(during.body.ready).toBe(true)
            expect(during.body.nodes.find((n) => n.name === "replica-1")?.lastError).toMatchObject({
              tag: expect.any(String)
            })
            const change = yield* Fiber.join(down)
            expect(Option.map(change, (c) => c.health.name)).toEqual(Option.some("replica-1"))
            const afterMetrics = yield* get(port, "/metrics")
            expect(afterMetrics.body).toContain(`fastorm_health_node_status{node="replica-1"} 3`)
            // The transition is a structured line, and no line carries the password of the URLs.
            expect(logs.lines.map((l) => l.annotations)).toContainEqual(
              expect.objectContaining({ cluster: `http-${b.label}`, node: "replica-1", to: "UNHEALTHY" })
            )
            expect(JSON.stringify(logs.lines)).not.toContain(APP_PASSWORD)
          }).pipe(Effect.ensuring(restore(b.nodes)))
        }),
      120_000
    )

    it.scopedLive(
      "the primary stopped: ready 503 (200 when the app declares it read-tolerant)",
      () =>
        Effect.gen(function*() {
          const context = yield* Layer.build(app(b.nodes, `http-primary-${b.label}`))
          const port = portOf(context)
          const status = Context.get(context, ClusterStatus.ClusterStatus)
          yield* waitUntil(ready(port), (r) => r.status === 200 && r.body.nodes.every((n) => n.status === "HEALTHY"), {
            timeoutMs: 15_000,
            what: "ready, every node HEALTHY"
          })
          yield* Effect.gen(function*() {
            yield* control(() => stopNode(b.nodes.primary))
            yield* waitUntil(ready(port), (r) => r.status === 503, { timeoutMs: 15_000, what: "/health/ready 503" })
            const during = yield* ready(port)
            expect(during.body.ready).toBe(false)
            expect(statusOf(during.body, "primary")).toBe("UNHEALTHY")
            const live = yield* get(port, "/health/live")
            expect(live.status).toBe(200)
            expect(yield* status.readiness({ readTolerant: true })).toMatchObject({ ready: true })
          }).pipe(Effect.ensuring(restore(b.nodes)))
        }),
      120_000
    )
  })
}
