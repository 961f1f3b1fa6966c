/**
 * The PostgreSQL adapter, over node-postgres (`pg`) and @effect/sql-pg.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type { ConnectionUrl } from "./ConnectionUrl.js"
import type { AdapterOptions, DatabaseAdapter } from "./DatabaseAdapter.js"
import { makeAdapter } from "./internal/adapter.js"
import * as PgNode from "./internal/pgClient.js"
import * as PgTls from "./internal/pgTls.js"
import * as OptimalConfig from "./OptimalConfig.js"
import * as Tls from "./Tls.js"

/** The PostgreSQL adapter type. */
export type PostgreSQLAdapter = DatabaseAdapter<OptimalConfig.PostgresOptimalConfig>

/** The URL query options that tune the configuration (libpq names), below explicit overrides. */
export const configFromUrl = (
  url: ConnectionUrl
): OptimalConfig.ConfigOverrides<OptimalConfig.PostgresOptimalConfig> => {
  const o = url.options
  const num = (key: string) => {
    const n = o[key] === undefined ? NaN : Number(o[key])
    return Number.isFinite(n) && n >= 0 ? n : undefined
  }
  const connect = num("connect_timeout")
  const statement = num("statement_timeout")
  return {
    ...(o.application_name !== undefined ? { applicationName: o.application_name } : {}),
    ...(connect !== undefined && connect > 0 ? { connectTimeout: Duration.seconds(connect) } : {}),
    ...(statement !== undefined ? { statementTimeout: Duration.millis(statement) } : {})
  }
}

/** The node-postgres TLS options of a node's settings; the pool and the health probes connect with the same. */
export const tlsOptions: (settings: Tls.TlsSettings) => PgTls.PgTlsOptions = PgTls.pgTlsOptions

/**
 * Makes the PostgreSQL adapter for a parsed `postgres://` URL. `tls` is the URL's settings already loaded
 * (`Tls.load`); without it the files are read here, and unusable ones fail every `makeClient`.
 */
export const make = (
  url: ConnectionUrl,
  options: AdapterOptions<OptimalConfig.PostgresOptimalConfig> = {},
  tls?: Tls.TlsSettings
): PostgreSQLAdapter =>
  makeAdapter({
    url,
    options,
    tls: tls === undefined ? Tls.fromUrl(url) : Either.right(tls),
    defaults: OptimalConfig.postgres,
    fromUrl: configFromUrl(url),
    defaultVersion: "120000",
    makeClient: (settings, config, name, clientOptions) =>
      PgNode.make(
        {
          host: url.host ?? "127.0.0.1",
          port: url.port ?? 5432,
          database: url.database,
          username: url.username,
          password: url.password,
          tls: tlsOptions(settings)
        },
        config,
        { alias: name, readOnly: clientOptions.readOnly ?? false, spanAttributes: clientOptions.spanAttributes }
      )
  })
