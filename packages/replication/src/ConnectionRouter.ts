/**
 * The ConnectionRouter: provides `ReadConnection`, `WriteConnection` and the primary as the plain @effect/sql
 * `SqlClient` for one cluster, over node clients made by the adapters and watched by the HealthMonitor.
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Dialect } from "@fastorm/adapters"
import { SqlCompiler } from "@fastorm/adapters"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import type { HealthMonitor } from "@fastorm/health"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { forDialect } from "./internal/consistency.js"
import type * as Decision from "./internal/decision.js"
import * as Engine from "./internal/router.js"
import type * as RouteStatsModule from "./internal/routeStats.js"
import type { InvalidReadWriteConfig, ReadWriteConfig, ResolvedReadWriteConfig } from "./ReadWriteConfig.js"
import { resolve } from "./ReadWriteConfig.js"

/** One node as the router sees it: a name, its client (made by the adapters), and a weight. */
export type NodeHandle = Engine.NodeHandle

/** Why a statement ran where it ran. */
export type Reason = Decision.Reason

/** Counts of routed statements by node and reason. */
export type RouteStats = RouteStatsModule.RouteStats

/** What the router needs to know about a cluster whose node clients already exist. */
export interface RouterConfig {
  /**
   * The cluster's identity: session tokens are kept per cluster, so two routers in one app must not share it.
   * Default: the primary node's name.
   */
  readonly cluster?: string | undefined
  readonly dialect: Dialect.Dialect
  readonly primary: NodeHandle
  readonly replicas: ReadonlyArray<NodeHandle>
  readonly readWrite?: ReadWriteConfig | undefined
}

/** The router service: the two routed clients and its statistics. */
export interface ConnectionRouterShape {
  readonly cluster: string
  readonly primary: string
  readonly replicas: ReadonlyArray<string>
  /** Routes each statement (README, "Routing"). */
  readonly read: SqlClient.SqlClient
  /** Always the primary; records session tokens after writes. */
  readonly write: SqlClient.SqlClient
  /** Statements routed so far, by node and by reason. */
  readonly stats: Effect.Effect<RouteStats>
  readonly resetStats: Effect.Effect<void>
}

/** The ConnectionRouter service tag. */
export class ConnectionRouter extends Context.Tag("@fastorm/replication/ConnectionRouter")<
  ConnectionRouter,
  ConnectionRouterShape
>() {}

/** Builds the router over existing node clients; the HealthMonitor must watch nodes of the same names. */
export const make = (
  config: RouterConfig
): Effect.Effect<
  ConnectionRouterShape,
  InvalidReadWriteConfig,
  HealthMonitor.HealthMonitor | Reactivity | Scope.Scope
> =>
  Effect.flatMap(
    Either.match(resolve(config.readWrite), { onLeft: Effect.fail, onRight: Effect.succeed }),
    (resolved) => makeResolved(config, resolved)
  )

/** `make` with a configuration already resolved (`FastOrm.layer` resolves it once, for the nodes' bounds too). */
export const makeResolved = (
  config: Omit<RouterConfig, "readWrite">,
  resolved: ResolvedReadWriteConfig
): Effect.Effect<ConnectionRouterShape, never, HealthMonitor.HealthMonitor | Reactivity | Scope.Scope> =>
  Effect.gen(function*() {
    const cluster = config.cluster ?? config.primary.name
    const router = yield* Engine.make({
      cluster,
      primary: config.primary,
      replicas: config.replicas,
      config: resolved,
      compiler: SqlCompiler.make(config.dialect),
      consistency: forDialect(config.dialect)
    })
    return {
      cluster,
      primary: config.primary.name,
      replicas: config.replicas.map((r) => r.name),
      ...router
    }
  })

/** The context the router provides: itself, `ReadConnection`, `WriteConnection`, and the primary as `SqlClient`. */
export const contextOf = (
  r: ConnectionRouterShape
): Context.Context<ConnectionRouter | ReadConnection | WriteConnection | SqlClient.SqlClient> =>
  Context.make(ConnectionRouter, r).pipe(
    Context.add(ReadConnection, r.read),
    Context.add(WriteConnection, r.write),
    Context.add(SqlClient.SqlClient, r.write)
  )

/** Provides the router and, from it, `ReadConnection`, `WriteConnection` and the primary as `SqlClient`. */
export const fromRouter = <E, R>(
  router: Effect.Effect<ConnectionRouterShape, E, R>
): Layer.Layer<ConnectionRouter | ReadConnection | WriteConnection | SqlClient.SqlClient, E, Exclude<R, Scope.Scope>> =>
  Layer.scopedContext(Effect.map(router, contextOf))

/** The router as a layer, over existing node clients. */
export const layer = (
  config: RouterConfig
): Layer.Layer<
  ConnectionRouter | ReadConnection | WriteConnection | SqlClient.SqlClient,
  InvalidReadWriteConfig,
  HealthMonitor.HealthMonitor | Reactivity
> => fromRouter(make(config))
