/**
 * The ConnectionRouter: provides `ReadConnection`, `WriteConnection` and the primary as the plain @effect/sql
 * `SqlClient` for one cluster, over node clients made by the adapters and watched by the HealthMonitor.
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Dialect } from "@fastorm/adapters"
import { SqlCompiler } from "@fastorm/adapters"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import { HealthMonitor } from "@fastorm/health"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { forDialect } from "./internal/consistency.js"
import type * as Decision from "./internal/decision.js"
import { primaryOf, withRouting } from "./internal/eligibility.js"
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

/**
 * The nodes of a cluster: a configured primary and its replicas, or `nodes` whose roles the HealthMonitor learns
 * from the servers (the writes go to whichever one is the primary now: ARCHITECTURE.md, "Topology").
 */
export type RouterNodes =
  | { readonly primary: NodeHandle; readonly replicas: ReadonlyArray<NodeHandle>; readonly nodes?: undefined }
  | { readonly nodes: ReadonlyArray<NodeHandle>; readonly primary?: undefined; readonly replicas?: undefined }

/** The cluster a router serves: its nodes, its identity and its dialect. */
export type RouterSetup = RouterNodes & {
  /**
   * The cluster's identity: session tokens are kept per cluster, so two routers in one app must not share it.
   * Default: the primary's name (with learnt roles, the first node's).
   */
  readonly cluster?: string | undefined
  readonly dialect: Dialect.Dialect
  /** The database, as the OpenTelemetry attributes of every statement's span name it. Default: the dialect. */
  readonly database?: Engine.Database | undefined
}

/** What the router needs to know about a cluster whose node clients already exist. */
export type RouterConfig = RouterSetup & { readonly readWrite?: ReadWriteConfig | undefined }

/** The router service: the two routed clients and its statistics. */
export interface ConnectionRouterShape {
  readonly cluster: string
  /** The configured primary; undefined when roles are learnt (see `currentPrimary`). */
  readonly primary: string | undefined
  /** The configured replicas; with learnt roles, every node (each may serve reads while it is a replica). */
  readonly replicas: ReadonlyArray<string>
  /** The node that takes the writes now, as the monitor's topology names it. */
  readonly currentPrimary: Effect.Effect<string | undefined>
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
  config: RouterSetup,
  resolved: ResolvedReadWriteConfig
): Effect.Effect<ConnectionRouterShape, never, HealthMonitor.HealthMonitor | Reactivity | Scope.Scope> =>
  Effect.gen(function*() {
    const nodes: Engine.RouterOptions["nodes"] = config.nodes !== undefined
      ? { roles: "learnt", nodes: config.nodes }
      : { roles: "configured", primary: config.primary, replicas: config.replicas }
    const first = nodes.roles === "learnt" ? nodes.nodes[0] : nodes.primary
    const cluster = config.cluster ?? first?.name ?? "default"
    const router = yield* Engine.make({
      cluster,
      nodes,
      config: resolved,
      compiler: SqlCompiler.make(config.dialect),
      consistency: forDialect(config.dialect),
      database: config.database ?? { system: config.dialect }
    })
    const monitor = yield* HealthMonitor.HealthMonitor
    return {
      cluster,
      primary: nodes.roles === "learnt" ? undefined : nodes.primary.name,
      replicas: (nodes.roles === "learnt" ? nodes.nodes : nodes.replicas).map((r) => r.name),
      currentPrimary: Effect.map(monitor.snapshot, (snapshot) => primaryOf(withRouting(snapshot))?.name),
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
