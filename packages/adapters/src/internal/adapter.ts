/**
 * What every dialect's adapter shares: configuration merging, naming, verification and feature detection.
 */
import type * as Reactivity from "@effect/experimental/Reactivity"
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import { ConnectionFailed, type DriverNotInstalled, type InvalidTlsConfig } from "../AdapterError.js"
import type { ConnectionUrl } from "../ConnectionUrl.js"
import * as Url from "../ConnectionUrl.js"
import type { AdapterOptions, DatabaseAdapter, NodeClient, NodeClientOptions } from "../DatabaseAdapter.js"
import * as Features from "../DatabaseFeatures.js"
import * as FeatureDetection from "../FeatureDetection.js"
import * as OptimalConfig from "../OptimalConfig.js"
import type { TlsSettings } from "../Tls.js"

/** The per-dialect pieces of an adapter. */
export interface AdapterSpec<C extends OptimalConfig.OptimalConfig> {
  readonly url: ConnectionUrl
  readonly options: AdapterOptions<C>
  readonly defaults: C
  readonly fromUrl: OptimalConfig.ConfigOverrides<C>
  readonly defaultVersion: string
  /** The node's TLS, files read when the adapter was made; a Left fails every client with its reason. */
  readonly tls: Either.Either<TlsSettings, InvalidTlsConfig>
  readonly makeClient: (
    tls: TlsSettings,
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
  // Precedence, lowest first: the dialect's defaults, the caller's, the URL's options, explicit overrides.
  const optimalConfig = [spec.options.defaults, spec.fromUrl, spec.options.config].reduce<C>(
    (config, overrides) => OptimalConfig.merge(config, overrides),
    spec.defaults
  )
  const secrets = [...(url.password === undefined ? [] : [url.password]), ...Object.values(url.secretOptions)]
  const assumedVersion = Features.parseVersion(url.dialect, spec.options.serverVersion ?? spec.defaultVersion)
  return {
    dialect: url.dialect,
    driver: url.driver,
    name,
    url,
    assumedVersion,
    features: Features.featuresFor(assumedVersion),
    optimalConfig,
    tls: spec.tls,
    buildConnectionUrl: () => Url.format(url),
    makeClient: (options = {}) =>
      Effect.gen(function*() {
        // Only a hand-made adapter gets here with unusable TLS files: DatabaseAdapterFactory.create refuses them.
        const tls = yield* Either.match(spec.tls, {
          onLeft: (e) => Effect.fail(new ConnectionFailed({ node: name, reason: e.message, problem: "tls", secrets })),
          onRight: Effect.succeed
        })
        const client = yield* spec.makeClient(tls, optimalConfig, name, options)
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
