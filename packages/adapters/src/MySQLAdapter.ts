/**
 * The MySQL and MariaDB adapter, over mysql2 with the @effect/sql-mysql2 compiler.
 */
import * as Either from "effect/Either"
import type { ConnectionUrl } from "./ConnectionUrl.js"
import type { AdapterOptions, DatabaseAdapter } from "./DatabaseAdapter.js"
import { makeAdapter } from "./internal/adapter.js"
import * as MysqlNode from "./internal/mysqlClient.js"
import * as MysqlTls from "./internal/mysqlTls.js"
import * as Options from "./internal/options.js"
import * as OptimalConfig from "./OptimalConfig.js"
import * as Tls from "./Tls.js"

/** The MySQL / MariaDB adapter type. */
export type MySQLAdapter = DatabaseAdapter<OptimalConfig.MysqlOptimalConfig>

/** The URL query options that tune the configuration (mysql2's and the MySQL client's names), below explicit overrides. */
export const configFromUrl = (url: ConnectionUrl): OptimalConfig.ConfigOverrides<OptimalConfig.MysqlOptimalConfig> =>
  Options.settingsFromOptions("mysql", url.options)

/** The mysql2 TLS options of a node's settings; the pool and the health probes connect with the same. */
export const tlsOptions: (settings: Tls.TlsSettings) => MysqlTls.MysqlTlsOptions = MysqlTls.mysqlTlsOptions

/**
 * Makes the MySQL / MariaDB adapter for a parsed `mysql://` or `mariadb://` URL. `tls` is the URL's settings already
 * loaded (`Tls.load`); without it the files are read here, and unusable ones fail every `makeClient`.
 */
export const make = (
  url: ConnectionUrl,
  options: AdapterOptions<OptimalConfig.MysqlOptimalConfig> = {},
  tls?: Tls.TlsSettings
): MySQLAdapter =>
  makeAdapter({
    url,
    options,
    tls: tls === undefined ? Tls.fromUrl(url) : Either.right(tls),
    defaults: OptimalConfig.mysql,
    fromUrl: configFromUrl(url),
    // Without a version the table assumes the oldest server still supported by its vendor.
    defaultVersion: url.productHint === "mariadb" ? "10.6.0-MariaDB" : "8.0.0",
    makeClient: (settings, config, name, clientOptions) =>
      MysqlNode.make(
        {
          host: url.host ?? "127.0.0.1",
          port: url.port ?? 3306,
          database: url.database,
          username: url.username,
          password: url.password,
          tls: tlsOptions(settings),
          productHint: url.productHint
        },
        config,
        { alias: name, readOnly: clientOptions.readOnly ?? false, spanAttributes: clientOptions.spanAttributes }
      )
  })
