/**
 * `GET /health/live`, `GET /health/ready` and `GET /metrics` for any @effect/platform HTTP server, over the
 * `ClusterStatus` that `FastOrm.layer` provides (README, "Operating FastORM").
 *
 * - `/health/live`: 200 while the process answers (never depends on the database: a liveness probe restarts pods).
 * - `/health/ready`: 200 or 503 with every node's role, status, latency, lag and last error as JSON; 503 when the
 *   primary does not answer, unless `readTolerant` and a replica answers.
 * - `/metrics`: every Effect metric of the process in the Prometheus text format.
 */
import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type { ClusterStatus } from "@fastorm/health"
import type * as Layer from "effect/Layer"
import * as Internal from "./internal/endpoints.js"

/** Options of the endpoints. */
export type Options = Internal.Options

/** The routes, to mount in an application's router (`HttpRouter.concat`) or serve as they are. */
export const router = (options: Options = {}): HttpRouter.HttpRouter<never, ClusterStatus.ClusterStatus> =>
  Internal.router(options)

/** Serves the routes on the `HttpServer` in context (e.g. `NodeHttpServer.layer(createServer, { port: 9464 })`). */
export const layer = (
  options: Options = {}
): Layer.Layer<never, never, HttpServer.HttpServer | ClusterStatus.ClusterStatus> =>
  HttpServer.serve(Internal.router(options))
