/**
 * `FastOrm.layer(...)`: one layer that gives an Effect app a primary, its replicas, health monitoring, routing,
 * failover and read-your-writes. `FastOrmLive` reads the same from the environment.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { AdapterError, DatabaseAdapter, OptimalConfig } from "@fastorm/adapters"
import { DatabaseAdapterFactory } from "@fastorm/adapters"
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
import * as Redacted from "effect/Redacted"
import * as ConnectionRouter from "./ConnectionRouter.js"
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

/** The whole configuration of a cluster. */
export interface FastOrmConfig {
  /** The cluster's name; session tokens are kept per cluster. Default "default". */
  readonly name?: string | undefined
  /** The primary. */
  readonly write: string | Redacted.Redacted<string> | NodeConfig
  /** The replicas (for SQLite: the same file, opened read-only). */
  readonly read?: ReadonlyArray<string | Redacted.Redacted<string> | NodeConfig> | undefined
  readonly readWrite?: ReadWriteConfig | undefined
  readonly health?: HealthConfig | undefined
  /** Connection settings for every node (pool sizes, timeouts, ...); see the adapters' OptimalConfig. */
  readonly pool?: OptimalConfig.ConfigOverrides<any> | undefined
}

/** The nodes do not form one cluster (different dialects). */
export class InvalidCluster extends Data.TaggedError("InvalidCluster")<{ readonly reason: string }> {
  override get message(): string {
    return `Invalid cluster: ${this.reason}`
  }
}

/** Everything that can stop the layer from starting. */
export type FastOrmLayerError =
  | InvalidReadWriteConfig
  | InvalidCluster
  | PrimaryUnavailable
  | DatabaseAdapterFactory.AdapterCreateError
  | HealthMonitor.InvalidHealthConfig

interface ResolvedNode {
  readonly url: string | Redacted.Redacted<string>
  readonly name: string
  readonly weight: number
}

const normalise = (node: string | Redacted.Redacted<string> | NodeConfig, name: string): ResolvedNode =>
  typeof node === "string" || Redacted.isRedacted(node)
    ? { url: node, name, weight: 1 }
    : { url: node.url, name: node.name ?? name, weight: node.weight ?? 1 }

/** The services `FastOrm.layer` provides. */
export type Services = ConnectionRouter.ConnectionRouter | ReadConnection | WriteConnection | SqlClient.SqlClient

const build = (config: FastOrmConfig) =>
  Effect.gen(function*() {
    const readWrite = yield* Either.match(resolve(config.readWrite), { onLeft: Effect.fail, onRight: Effect.succeed })
    const primaryNode = normalise(config.write, "primary")
    const replicaNodes = (config.read ?? []).map((node, i) => normalise(node, `replica-${i + 1}`))
    const names = [primaryNode.name, ...replicaNodes.map((n) => n.name)]
    if (new Set(names).size !== names.length) {
      return yield* Effect.fail(new InvalidCluster({ reason: "two nodes have the same name" }))
    }
    // The router's bounds are the nodes' bounds: the adapters' clients enforce them inside the driver.
    const overrides = {
      connectTimeout: readWrite.connectTimeout,
      statementTimeout: readWrite.statementTimeout,
      ...config.pool
    }
    const adapterOf = (node: ResolvedNode) =>
      DatabaseAdapterFactory.create(node.url, { name: node.name, config: overrides })
    const primaryAdapter = yield* adapterOf(primaryNode)
    const replicaAdapters: Array<DatabaseAdapter.DatabaseAdapter> = []
    for (const node of replicaNodes) {
      const adapter = yield* adapterOf(node)
      if (adapter.dialect !== primaryAdapter.dialect) {
        return yield* Effect.fail(
          new InvalidCluster({ reason: `${node.name} is ${adapter.dialect}, the primary is ${primaryAdapter.dialect}` })
        )
      }
      replicaAdapters.push(adapter)
    }

    // The primary must answer at start (bounded), unless the user accepts starting degraded. Replicas never block.
    const primaryClient = yield* primaryAdapter.makeClient({ verify: !readWrite.startDegraded }).pipe(
      Effect.mapError((error: AdapterError.ConnectionFailed) =>
        new PrimaryUnavailable({
          node: primaryNode.name,
          reason: `no answer at start within ${Duration.format(readWrite.connectTimeout)}`,
          cause: error
        })
      )
    )
    const replicaClients = yield* Effect.forEach(
      replicaAdapters,
      (adapter) => Effect.orDie(adapter.makeClient({ readOnly: true }))
    )
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
    const router = yield* ConnectionRouter.make({
      cluster: config.name,
      dialect: primaryAdapter.dialect,
      primary: { name: primaryNode.name, client: primaryClient, weight: primaryNode.weight },
      replicas: replicaClients.map((client, i) => ({
        name: replicaNodes[i]!.name,
        client,
        weight: replicaNodes[i]!.weight
      })),
      readWrite: config.readWrite
    }).pipe(Effect.provideService(HealthMonitor.HealthMonitor, monitor))
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

/** `FASTORM_WRITE_URL` and the comma-separated `FASTORM_READ_URLS`, both read as secrets. */
export const configFromEnv: Config.Config<FastOrmConfig> = Config.all({
  write: Config.redacted("FASTORM_WRITE_URL"),
  read: Config.redacted("FASTORM_READ_URLS").pipe(
    Config.map((urls) =>
      Redacted.value(urls).split(",").map((url) => url.trim()).filter((url) => url.length > 0).map((url) =>
        Redacted.make(url)
      )
    ),
    Config.withDefault([] as ReadonlyArray<Redacted.Redacted<string>>)
  )
})

/** The layer read from the environment: `Effect.provide(FastOrmLive)`. */
export const FastOrmLive: Layer.Layer<Services, FastOrmLayerError | ConfigError.ConfigError> = toLayer(
  Effect.flatMap(configFromEnv, build)
)

/** The current session's token as an opaque string, to hand to a client between requests. */
export const sessionToken: Effect.Effect<Option.Option<string>> = SessionToken.current

/** Runs `effect` in a session that reads at least the writes behind `token`. */
export const withSessionToken = <A, E, R>(
  token: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidSessionToken, R> => SessionToken.withToken(token, effect)
