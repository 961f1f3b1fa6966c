/**
 * `FastOrm.layer(...)`: one layer that gives an Effect app a primary, its replicas, health monitoring, routing,
 * failover and read-your-writes. `FastOrmLive` reads the same from the environment.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { DatabaseAdapter } from "@fastorm/adapters"
import { AdapterError, ConnectionUrl, DatabaseAdapterFactory, OptimalConfig } from "@fastorm/adapters"
import type { DialectFeaturesShape, ReadConnection, WriteConnection } from "@fastorm/core"
import { DialectFeatures } from "@fastorm/core"
import { HealthMonitor } from "@fastorm/health"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as ConnectionRouter from "./ConnectionRouter.js"
import * as Variables from "./internal/configReader.js"
import { listOf, normalise, type ResolvedNode, weightProblem } from "./internal/nodes.js"
import type { InvalidReadWriteConfig, ReadWriteConfig } from "./ReadWriteConfig.js"
import { resolve } from "./ReadWriteConfig.js"
import { PrimaryUnavailable } from "./RouterError.js"
import type { InvalidSessionToken } from "./RouterError.js"
import * as SessionToken from "./SessionToken.js"

/** A node given by URL, with an optional name and weight. */
export interface NodeConfig {
  readonly url: string | Redacted.Redacted<string>
  /** The node's name in errors, logs, spans and metrics. Defaults: "primary", "replica-1", ... */
  readonly name?: string | undefined
  /** Share of ordinary reads under the `weighted` strategy. Default 1. */
  readonly weight?: number | undefined
}

/** Health monitoring settings (every HealthMonitor option but the nodes). */
export type HealthConfig = Omit<HealthMonitor.HealthMonitorConfig, "nodes">

/** A node: its URL (a string or `Redacted`), or the URL with a name and weight. */
export type NodeInput = string | Redacted.Redacted<string> | NodeConfig

/**
 * Connection settings for every node: the settings of any dialect (`OptimalConfig`), so a misspelt key does not
 * compile; a setting of another dialect than the URLs' is refused at start (`InvalidPoolConfig`).
 */
export type PoolConfig = OptimalConfig.ConfigOverrides<OptimalConfig.OptimalConfig>

/** The whole configuration of a cluster. */
export interface FastOrmConfig {
  /**
   * The cluster's name; session tokens are kept per cluster. Default: the primary's identity without credentials
   * (`ConnectionUrl.identity`: `postgresql://host:port/database`, or the SQLite file's absolute path), so two
   * unnamed layers in one app keep separate sessions.
   */
  readonly name?: string | undefined
  /** The primary. */
  readonly write: NodeInput
  /** The replicas, one or a list (for SQLite: the same file, opened read-only). */
  readonly read?: NodeInput | ReadonlyArray<NodeInput> | undefined
  readonly readWrite?: ReadWriteConfig | undefined
  readonly health?: HealthConfig | undefined
  /** Connection settings for every node (pool sizes, timeouts, ...); see the adapters' OptimalConfig. */
  readonly pool?: PoolConfig | undefined
}

/** The nodes do not form one cluster (different dialects, a private in-memory SQLite reader, two equal names). */
export class InvalidCluster extends Data.TaggedError("InvalidCluster")<{ readonly reason: string }> {
  override get message(): string {
    return `Invalid cluster: ${this.reason}`
  }
}

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

/** "77 ms", "5 s", "2.5 s": the figures a start-up error reports. */
const formatMillis = (ms: number): string => ms < 1000 ? `${Math.round(ms)} ms` : `${Number((ms / 1000).toFixed(1))} s`

/**
 * What happened to the primary at start, with the driver's code and how long it took: "connection refused
 * (ECONNREFUSED) after 77 ms"; "no answer within 5 s" only for a real timeout.
 */
const startupReason = (error: AdapterError.ConnectionFailed, elapsedMs: number, connectTimeout: Duration.Duration) =>
  error.problem === "timeout"
    ? `no answer within ${formatMillis(Duration.toMillis(connectTimeout))}${
      error.code === undefined ? "" : ` (${error.code})`
    }`
    : `${error.detail} after ${formatMillis(elapsedMs)}`

/** The services `FastOrm.layer` provides. */
export type Services = ConnectionRouter.ConnectionRouter | ReadConnection | WriteConnection | SqlClient.SqlClient

const build = (config: FastOrmConfig) =>
  Effect.gen(function*() {
    // Every option is checked before anything connects.
    const readWrite = yield* Either.match(resolve(config.readWrite), { onLeft: Effect.fail, onRight: Effect.succeed })
    yield* Either.match(HealthMonitor.checkConfig(config.health ?? {}), {
      onLeft: Effect.fail,
      onRight: () => Effect.void
    })
    const primaryNode = normalise(config.write, "primary")
    const replicaNodes = listOf(config.read).map((node, i) => normalise(node, `replica-${i + 1}`))
    const names = [primaryNode.name, ...replicaNodes.map((n) => n.name)]
    if (new Set(names).size !== names.length) {
      return yield* Effect.fail(new InvalidCluster({ reason: "two nodes have the same name" }))
    }
    for (const node of [primaryNode, ...replicaNodes]) {
      const problem = weightProblem(node.weight)
      if (problem !== undefined) return yield* new InvalidCluster({ reason: `${node.name}'s ${problem}` })
    }
    const primaryUrl = yield* ConnectionUrl.parse(primaryNode.url)
    for (const node of replicaNodes) {
      const url = yield* ConnectionUrl.parse(node.url)
      if (url.dialect !== primaryUrl.dialect) {
        return yield* Effect.fail(
          new InvalidCluster({ reason: `${node.name} is ${url.dialect}, the primary is ${primaryUrl.dialect}` })
        )
      }
      if (url.dialect === "sqlite" && url.filename === ":memory:") {
        return yield* Effect.fail(
          new InvalidCluster({
            reason: `${node.name} is sqlite://:memory:, a private in-memory database that cannot see the primary's ` +
              "data: read the primary's own file (sqlite:///app.db), or give no read URL"
          })
        )
      }
    }
    const poolProblems = OptimalConfig.check(primaryUrl.dialect, config.pool)
    if (poolProblems.length > 0) return yield* new AdapterError.InvalidPoolConfig({ problems: poolProblems })
    // The router's bounds are the nodes' bounds: the adapters' clients enforce them inside the driver (SQLite is
    // local and has neither).
    const overrides = primaryUrl.dialect === "sqlite" ? config.pool : {
      connectTimeout: readWrite.connectTimeout,
      statementTimeout: readWrite.statementTimeout,
      ...config.pool
    }
    const adapterOf = (node: ResolvedNode) =>
      DatabaseAdapterFactory.create(node.url, { name: node.name, config: overrides as PoolConfig })
    const primaryAdapter = yield* adapterOf(primaryNode)
    const replicaAdapters: Array<DatabaseAdapter.DatabaseAdapter> = []
    for (const node of replicaNodes) replicaAdapters.push(yield* adapterOf(node))

    // The primary must answer at start (bounded), unless the user accepts starting degraded. Replicas never block.
    const [elapsed, made] = yield* Effect.timed(
      Effect.either(primaryAdapter.makeClient({ verify: !readWrite.startDegraded }))
    )
    if (Either.isLeft(made)) {
      const reason = startupReason(made.left, Duration.toMillis(elapsed), readWrite.connectTimeout)
      return yield* new PrimaryUnavailable({
        node: primaryNode.name,
        reason: `${reason}, connecting to ${ConnectionUrl.identity(primaryUrl)}`,
        cause: made.left
      })
    }
    const primaryClient = made.right
    // A network replica connects lazily and cannot fail here; a SQLite reader opens its file now.
    const replicaClients = yield* Effect.forEach(replicaAdapters, (adapter) => adapter.makeClient({ readOnly: true }))
    const monitor = yield* HealthMonitor.make({
      ...config.health,
      nodes: [
        { name: primaryNode.name, role: "primary", adapter: primaryAdapter },
        ...replicaAdapters.map((adapter, i) => ({ name: replicaNodes[i]!.name, role: "replica" as const, adapter }))
      ]
    })
    // Core emits INSERT ... RETURNING only where the server has it (MariaDB 10.5+, never MySQL): ask the primary.
    const features: DialectFeaturesShape = primaryAdapter.dialect !== "mysql" ? {} : yield* primaryAdapter
      .detectFeatures(primaryClient).pipe(
        Effect.timeout(readWrite.connectTimeout),
        Effect.map(({ features }) => ({ supportsReturning: features.supportsReturning })),
        Effect.orElseSucceed(() => ({ supportsReturning: primaryAdapter.features.supportsReturning }))
      )
    const router = yield* ConnectionRouter.makeResolved({
      cluster: config.name ?? ConnectionUrl.identity(primaryUrl),
      dialect: primaryAdapter.dialect,
      primary: { name: primaryNode.name, client: primaryClient, weight: primaryNode.weight },
      replicas: replicaClients.map((client, i) => ({
        name: replicaNodes[i]!.name,
        client,
        weight: replicaNodes[i]!.weight
      }))
    }, readWrite).pipe(Effect.provideService(HealthMonitor.HealthMonitor, monitor))
    return { router, features }
  })

const toLayer = <E, R>(
  built: Effect.Effect<
    { readonly router: ConnectionRouter.ConnectionRouterShape; readonly features: DialectFeaturesShape },
    E,
    R
  >
) =>
  Layer.scopedContext(
    Effect.map(built, ({ features, router }) =>
      ConnectionRouter.contextOf(router).pipe(Context.add(DialectFeatures, features)))
  ).pipe(
    Layer.provide(Reactivity.layer)
  )

/** One cluster as a layer: the router, `ReadConnection`, `WriteConnection` and the primary as `SqlClient`. */
export const layer = (config: FastOrmConfig): Layer.Layer<Services, FastOrmLayerError> => toLayer(build(config))

/** The same layer, configured through Effect `Config`. */
export const layerConfig = (
  config: Config.Config.Wrap<FastOrmConfig>
): Layer.Layer<Services, FastOrmLayerError | ConfigError.ConfigError> =>
  toLayer(Effect.flatMap(Config.unwrap(config), build))

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
