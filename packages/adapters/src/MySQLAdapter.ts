/**
 * The MySQL and MariaDB adapter, over mysql2 with the @effect/sql-mysql2 compiler.
 */
import * as Duration from "effect/Duration"
import type { ConnectionUrl } from "./ConnectionUrl.js"
import type { AdapterOptions, DatabaseAdapter } from "./DatabaseAdapter.js"
import { makeAdapter } from "./internal/adapter.js"
import * as MysqlNode from "./internal/mysqlClient.js"
import * as OptimalConfig from "./OptimalConfig.js"

/** The MySQL / MariaDB adapter type. */
export type MySQLAdapter = DatabaseAdapter<OptimalConfig.MysqlOptimalConfig>

/** The URL query options that tune the configuration (mysql2 names), below explicit overrides. */
export const configFromUrl = (url: ConnectionUrl): OptimalConfig.ConfigOverrides<OptimalConfig.MysqlOptimalConfig> => {
  const connect = url.options.connectTimeout === undefined ? NaN : Number(url.options.connectTimeout)
  return Number.isFinite(connect) && connect > 0 ? { connectTimeout: Duration.millis(connect) } : {}
}

/** The driver TLS options a URL asks for (`sslmode`); shared with the health probes. */
// Spelled out, not MysqlEndpoint["ssl"]: this declaration must not load the internal client's, which needs mysql2's.
export const sslFrom = (url: ConnectionUrl): { readonly rejectUnauthorized?: boolean } | undefined => {
  const mode = (url.options.sslmode ?? url.options["ssl-mode"] ?? "").toUpperCase()
  if (mode === "VERIFY_CA" || mode === "VERIFY_IDENTITY" || url.options.ssl === "true") return {}
  if (mode === "REQUIRED") return { rejectUnauthorized: false }
  return undefined
}

/** Makes the MySQL / MariaDB adapter for a parsed `mysql://` or `mariadb://` URL. */
export const make = (
  url: ConnectionUrl,
  options: AdapterOptions<OptimalConfig.MysqlOptimalConfig> = {}
): MySQLAdapter =>
  makeAdapter({
    url,
    options,
    defaults: OptimalConfig.mysql,
    fromUrl: configFromUrl(url),
    // Without a version the table assumes the oldest server still supported by its vendor.
    defaultVersion: url.productHint === "mariadb" ? "10.6.0-MariaDB" : "8.0.0",
    makeClient: (config, name, clientOptions) =>
      MysqlNode.make(
        {
          host: url.host ?? "127.0.0.1",
          port: url.port ?? 3306,
          database: url.database,
          username: url.username,
          password: url.password,
          ssl: sslFrom(url),
          productHint: url.productHint
        },
        config,
        { alias: name, readOnly: clientOptions.readOnly ?? false, spanAttributes: clientOptions.spanAttributes }
      )
  })
