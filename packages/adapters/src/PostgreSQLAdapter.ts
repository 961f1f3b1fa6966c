/**
 * The PostgreSQL adapter, over node-postgres (`pg`) and @effect/sql-pg.
 */
import * as Either from "effect/Either"
import type { ConnectionUrl } from "./ConnectionUrl.js"
import type { AdapterOptions, DatabaseAdapter } from "./DatabaseAdapter.js"
import { makeAdapter } from "./internal/adapter.js"
import * as Options from "./internal/options.js"
import * as PgBatchedWrite from "./internal/pgBatchedWrite.js"
import * as PgNode from "./internal/pgClient.js"
import * as PgSocket from "./internal/pgSocket.js"
import * as PgTls from "./internal/pgTls.js"
import * as Pooler from "./internal/pooler.js"
import * as OptimalConfig from "./OptimalConfig.js"
import * as Tls from "./Tls.js"

/** The PostgreSQL adapter type. */
export type PostgreSQLAdapter = DatabaseAdapter<OptimalConfig.PostgresOptimalConfig>

/**
 * The primary's position that covers every commit returned before it was read: the flush position, or the insert
 * position where `synchronous_commit` is off (read-your-writes compares a replica's replay position with it).
 */
export const commitPosition: string = PgBatchedWrite.commitPosition

/** The URL query options that tune the configuration (libpq names), below explicit overrides. */
export const configFromUrl = (
  url: ConnectionUrl
): OptimalConfig.ConfigOverrides<OptimalConfig.PostgresOptimalConfig> =>
  Options.settingsFromOptions("postgresql", url.options)

/** The node-postgres TLS options of a node's settings; the pool and the health probes connect with the same. */
export const tlsOptions: (settings: Tls.TlsSettings) => PgTls.PgTlsOptions = PgTls.pgTlsOptions

/** One of a connection pooler's own answers (PgBouncer: SQLSTATE 08P01 and a fixed text). */
export type PoolerAnswer = Pooler.PoolerAnswer

/**
 * What a connection pooler in front of the node (PgBouncer) answered, read from a cause chain: a refused startup
 * parameter, no connection free, a server it cannot reach, or a login it refused; undefined for anything else.
 */
export const poolerAnswer: (cause: unknown) => PoolerAnswer | undefined = Pooler.findAnswer

/**
 * Cuts a node-postgres client's socket without waiting for the server (`end()` waits; a frozen server never answers).
 * Typed `object` so that this module's declarations need no `pg` types where only another driver is installed.
 */
export const cutSocket: (client: object) => void = PgSocket.cut

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
