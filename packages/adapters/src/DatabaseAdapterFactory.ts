/**
 * Picks and builds the adapter for a connection URL.
 */
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type { DriverNotInstalled, InvalidConnectionUrl, InvalidTlsConfig, UnsupportedScheme } from "./AdapterError.js"
import { InvalidPoolConfig } from "./AdapterError.js"
import * as Url from "./ConnectionUrl.js"
import type { AdapterOptions, DatabaseAdapter } from "./DatabaseAdapter.js"
import * as MySQLAdapter from "./MySQLAdapter.js"
import type { OptimalConfig } from "./OptimalConfig.js"
import { check } from "./OptimalConfig.js"
import * as PostgreSQLAdapter from "./PostgreSQLAdapter.js"
import * as SQLiteAdapter from "./SQLiteAdapter.js"
import * as Tls from "./Tls.js"

/** Why an adapter could not be made. */
export type AdapterCreateError =
  | UnsupportedScheme
  | InvalidConnectionUrl
  | DriverNotInstalled
  | InvalidPoolConfig
  | InvalidTlsConfig

/**
 * Parses the URL, checks its Node driver is installed and the settings apply, reads the TLS files it names, and
 * returns the dialect's adapter.
 */
export const create = (
  url: string | Redacted.Redacted<string>,
  options: AdapterOptions = {}
): Effect.Effect<DatabaseAdapter, AdapterCreateError> =>
  Effect.gen(function*() {
    const parsed = yield* Url.parse(url)
    yield* Url.checkDriverInstalled(parsed.driver)
    const problems = [...check(parsed.dialect, options.config), ...check(parsed.dialect, options.defaults)]
    if (problems.length > 0) return yield* new InvalidPoolConfig({ problems })
    const tls = yield* Tls.load(parsed)
    switch (parsed.dialect) {
      case "postgresql":
        return PostgreSQLAdapter.make(parsed, options as AdapterOptions<any>, tls) as DatabaseAdapter
      case "mysql":
        return MySQLAdapter.make(parsed, options as AdapterOptions<any>, tls) as DatabaseAdapter
      case "sqlite":
        return SQLiteAdapter.make(parsed, options as AdapterOptions<any>) as DatabaseAdapter
    }
  })

/** The configuration FastORM applies for this URL: the dialect's defaults, tuned by the URL's own options. */
export const getOptimalEngineConfig = (
  url: string | Redacted.Redacted<string>,
  options: AdapterOptions = {}
): Effect.Effect<OptimalConfig, AdapterCreateError> =>
  Effect.map(create(url, options), (adapter) => adapter.optimalConfig)
