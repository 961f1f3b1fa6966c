/**
 * What every dialect's adapter shares: configuration merging, naming, verification and feature detection.
 */
import type * as Reactivity from "@effect/experimental/Reactivity"
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { ConnectionFailed, type DriverNotInstalled } from "../AdapterError.js"
import type { ConnectionUrl } from "../ConnectionUrl.js"
import * as Url from "../ConnectionUrl.js"
import type { AdapterOptions, DatabaseAdapter, NodeClient, NodeClientOptions } from "../DatabaseAdapter.js"
import * as Features from "../DatabaseFeatures.js"
import * as FeatureDetection from "../FeatureDetection.js"
import * as OptimalConfig from "../OptimalConfig.js"

/** The per-dialect pieces of an adapter. */
export interface AdapterSpec<C extends OptimalConfig.OptimalConfig> {
  readonly url: ConnectionUrl
  readonly options: AdapterOptions<C>
  readonly defaults: C
  readonly fromUrl: OptimalConfig.ConfigOverrides<C>
  readonly defaultVersion: string
  readonly makeClient: (
    config: C,
    name: string,
    options: NodeClientOptions
  ) => Effect.Effect<NodeClient, SqlError | DriverNotInstalled, Scope.Scope | Reactivity.Reactivity>
}

const connectTimeoutOf = (config: OptimalConfig.OptimalConfig): Duration.Duration =>
  "connectTimeout" in config ? config.connectTimeout : Duration.seconds(5)

/** Assembles a `DatabaseAdapter` from its dialect's pieces. */
export const makeAdapter = <C extends OptimalConfig.OptimalConfig>(spec: AdapterSpec<C>): DatabaseAdapter<C> => {
  const { url } = spec
  const name = spec.options.name ?? Url.describe(url)
  const optimalConfig = OptimalConfig.merge(OptimalConfig.merge(spec.defaults, spec.fromUrl), spec.options.config)
  const secrets = url.password === undefined ? [] : [url.password]
  const assumedVersion = Features.parseVersion(url.dialect, spec.options.serverVersion ?? spec.defaultVersion)
  return {
    dialect: url.dialect,
    driver: url.driver,
    name,
    url,
    assumedVersion,
    features: Features.featuresFor(assumedVersion),
    optimalConfig,
    buildConnectionUrl: () => Url.format(url),
    makeClient: (options = {}) =>
      Effect.gen(function*() {
        const client = yield* spec.makeClient(optimalConfig, name, options)
        if (options.verify === true) {
          const timeout = connectTimeoutOf(optimalConfig)
          yield* client`SELECT 1`.pipe(
            Effect.timeoutFail({
              duration: timeout,
              onTimeout: () =>
                new ConnectionFailed({
                  node: name,
                  reason: `no answer within ${Duration.format(timeout)}`,
                  problem: "timeout",
                  secrets
                })
            })
          )
        }
        return client
      }).pipe(
        Effect.mapError((cause) =>
          cause._tag === "ConnectionFailed" ? cause : new ConnectionFailed({ node: name, cause, secrets })
        )
      ),
    detectFeatures: (client) => FeatureDetection.detectFeatures(client, name)
  }
}
