/**
 * `FastOrm.layer(...)`: one layer that gives an Effect app a primary, its replicas, health monitoring, routing,
 * failover and read-your-writes. `FastOrmLive` reads the same from the environment.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { AdapterError, DatabaseAdapterFactory, OptimalConfig } from "@fastorm/adapters"
import type { DialectFeaturesShape, ReadConnection, WriteConnection } from "@fastorm/core"
import { DialectFeatures } from "@fastorm/core"
import type { HealthMonitor } from "@fastorm/health"
import { ClusterStatus } from "@fastorm/health"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as ConnectionRouter from "./ConnectionRouter.js"
import * as Build from "./internal/build.js"
import * as Variables from "./internal/configReader.js"
import type { InvalidCluster } from "./internal/nodes.js"
import * as StatementSpan from "./internal/statementSpan.js"
import type { InvalidReadWriteConfig, ReadWriteConfig } from "./ReadWriteConfig.js"
import type { PrimaryUnavailable } from "./RouterError.js"
import type { InvalidSessionToken } from "./RouterError.js"
import * as SessionToken from "./SessionToken.js"

/** A node given by URL, with an optional name and weight. */
export interface NodeConfig {
  readonly url: string | Redacted.Redacted<string>
  /** The node's name in errors, logs, spans and metrics. Defaults: "primary", "replica-1", ... */
  readonly name?: string | undefined
  /** Scales the node's share of reads under every strategy; 0 sends it none (README, "Configuration"). Default 1. */
  readonly weight?: number | undefined
}

/** Health monitoring settings (every HealthMonitor option but the nodes and the cluster name). */
export type HealthConfig = Omit<HealthMonitor.HealthMonitorConfig, "nodes" | "cluster">

/** A node: its URL (a string or `Redacted`), or the URL with a name and weight. */
export type NodeInput = string | Redacted.Redacted<string> | NodeConfig

/**
 * Connection settings for every node: the settings of any dialect (`OptimalConfig`), so a misspelt key does not
 * compile; a setting of another dialect than the URLs' is refused at start (`InvalidPoolConfig`).
 */
export type PoolConfig = OptimalConfig.ConfigOverrides<OptimalConfig.OptimalConfig>

/**
 * The nodes of a cluster: a primary (`write`) and its replicas (`read`), roles fixed; or `nodes` whose roles FastORM
 * learns from the servers, the writes going to whichever one is the primary now (README, "Topology and failover").
 */
export type ClusterNodes =
  | {
    /** The primary. */
    readonly write: NodeInput
    /** The replicas, one or a list (for SQLite: the same file, opened read-only). */
    readonly read?: NodeInput | ReadonlyArray<NodeInput> | undefined
    readonly nodes?: undefined
  }
  | {
    /** Every node of the cluster, whatever its role now: the monitor learns which one is the primary. */
    readonly nodes: NodeInput | ReadonlyArray<NodeInput>
    readonly write?: undefined
    readonly read?: undefined
  }

/**
 * FastORM's own failover, for deployments without an HA manager (off by default; README, "Topology and failover"):
 * with `nodes`, when the primary has been lost for `after` and a majority of the replicas confirm they lost it too,
 * FastORM promotes the most advanced replica, re-points the others at it, and makes the old primary read-only if it
 * comes back.
 */
export interface FailoverConfig {
  /** `promote`: FastORM promotes; `off`: it only follows what an HA manager or an operator does. */
  readonly mode: "promote" | "off"
  /**
   * Whose credentials may promote and re-point nodes (PostgreSQL: a superuser; MariaDB: SUPER or the replication
   * admin privileges); host, port and database come from each node's own URL.
   */
  readonly adminUrl: string | Redacted.Redacted<string>
  /** How long the primary must have been lost before a promotion. Default 10 seconds. */
  readonly after?: Duration.DurationInput | undefined
}

/** The whole configuration of a cluster. */
export type FastOrmConfig = ClusterNodes & {
  /**
   * The cluster's name; session tokens are kept per cluster. Default: the primary's identity without credentials
   * (`ConnectionUrl.identity`: `postgresql://host:port/database`, or the SQLite file's absolute path; with `nodes`,
   * the first node's), so two unnamed layers in one app keep separate sessions.
   */
  readonly name?: string | undefined
  readonly readWrite?: ReadWriteConfig | undefined
  readonly health?: HealthConfig | undefined
  /** Connection settings for every node (pool sizes, timeouts, ...); see the adapters' OptimalConfig. */
  readonly pool?: PoolConfig | undefined
  /** FastORM's own failover (with `nodes`); off by default. */
  readonly failover?: FailoverConfig | undefined
}

/**
 * The configuration does not describe one cluster: an unknown option, no node or both ways of giving them,
 * different dialects, a private in-memory SQLite reader, two equal names.
 */
export { InvalidCluster } from "./internal/nodes.js"

/**
 * Everything that can stop the layer from starting: bad configuration (each error lists every problem of its
 * kind), a primary that cannot be reached (unless `startDegraded`), a replica that cannot even be opened (SQLite).
 */
export type FastOrmLayerError =
  | InvalidReadWriteConfig
  | InvalidCluster
  | PrimaryUnavailable
  | DatabaseAdapterFactory.AdapterCreateError
  | HealthMonitor.InvalidHealthConfig
  | AdapterError.ConnectionFailed

/** The services `FastOrm.layer` provides. */
export type Services =
  | ConnectionRouter.ConnectionRouter
  | ReadConnection
  | WriteConnection
  | SqlClient.SqlClient
  | ClusterStatus.ClusterStatus

const toLayer = <E, R>(
  built: Effect.Effect<
    {
      readonly router: ConnectionRouter.ConnectionRouterShape
      readonly features: DialectFeaturesShape
      readonly monitor: HealthMonitor.HealthMonitorShape
    },
    E,
    R
  >
) =>
  Layer.scopedContext(
    Effect.map(built, ({ features, monitor, router }) =>
      ConnectionRouter.contextOf(router).pipe(
        Context.add(DialectFeatures, features),
        Context.add(ClusterStatus.ClusterStatus, ClusterStatus.fromMonitor(router.cluster, monitor))
      ))
  ).pipe(
    Layer.provide(Reactivity.layer),
    Layer.merge(StatementSpan.layer)
  )

/**
 * One cluster as a layer: the router, `ReadConnection`, `WriteConnection`, the primary as `SqlClient`, and the
 * cluster's read-only `ClusterStatus`.
 */
export const layer = (config: FastOrmConfig): Layer.Layer<Services, FastOrmLayerError> => toLayer(Build.build(config))

/** The same layer, configured through Effect `Config`. */
export const layerConfig = (
  config: Config.Config.Wrap<FastOrmConfig>
): Layer.Layer<Services, FastOrmLayerError | ConfigError.ConfigError> =>
  toLayer(Effect.flatMap(Config.unwrap(config), Build.build))

/**
 * The whole configuration through Effect `Config`, one variable per option (`FASTORM_WRITE_URL`,
 * `FASTORM_READ_WRITE_CONSISTENCY`, `FASTORM_POOL_SIZE`, ...: README, "Configuration from the environment"), so any
 * `ConfigProvider` serves it. Every problem comes in one `ConfigError` naming its variables, never a URL's password.
 */
export const config: Config.Config<FastOrmConfig> = Variables.config

/** The layer configured by the current `ConfigProvider` (the environment by default): `Effect.provide(FastOrmLive)`. */
export const FastOrmLive: Layer.Layer<Services, FastOrmLayerError | ConfigError.ConfigError> = layerConfig(config)

/** The current session's token as an opaque string, to hand to a client between requests. */
export const sessionToken: Effect.Effect<Option.Option<string>> = SessionToken.current

/** Runs `effect` in a session that reads at least the writes behind `token`. */
export const withSessionToken = <A, E, R>(
  token: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidSessionToken, R> => SessionToken.withToken(token, effect)
