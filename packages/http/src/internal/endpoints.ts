/** The three routes: liveness (the process answers), readiness (the cluster can serve) and the metrics. */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ClusterStatus } from "@fastorm/health"
import * as Effect from "effect/Effect"
import * as Prometheus from "../Prometheus.js"

/** Options of the routes. */
export interface Options {
  /** The application serves reads without the primary: ready while a replica answers. Default false. */
  readonly readTolerant?: boolean | undefined
  /** Serve `GET /metrics`. Default true. */
  readonly metrics?: boolean | undefined
}

const noStore = { "cache-control": "no-store" }

// Liveness says only that the process answers: a database outage must not make Kubernetes restart the app.
const live = HttpServerResponse.unsafeJson({ status: "alive" }, { headers: noStore })

const ready = (options: Options) =>
  Effect.gen(function*() {
    const status = yield* ClusterStatus.ClusterStatus
    const verdict = yield* status.readiness({ readTolerant: options.readTolerant })
    const nodes = yield* status.nodes
    return HttpServerResponse.unsafeJson(
      { ready: verdict.ready, cluster: status.cluster, primary: verdict.primary, reason: verdict.reason, nodes },
      { status: verdict.ready ? 200 : 503, headers: noStore }
    )
  })

const metrics = Effect.map(
  Prometheus.render,
  (text) => HttpServerResponse.text(text, { contentType: Prometheus.contentType, headers: noStore })
)

/** The routes, over the `ClusterStatus` in context. */
export const router = (options: Options) => {
  const routes = HttpRouter.empty.pipe(
    HttpRouter.get("/health/live", Effect.succeed(live)),
    HttpRouter.get("/health/ready", ready(options))
  )
  return options.metrics === false ? routes : HttpRouter.get(routes, "/metrics", metrics)
}
