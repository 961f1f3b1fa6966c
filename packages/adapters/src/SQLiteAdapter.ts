/**
 * The SQLite adapter, over better-sqlite3 (statements run on it directly, without an @effect/sql driver package).
 */
import type Sqlite from "better-sqlite3"
import * as Either from "effect/Either"
import { createRequire } from "node:module"
import type { ConnectionUrl } from "./ConnectionUrl.js"
import type { AdapterOptions, DatabaseAdapter } from "./DatabaseAdapter.js"
import { makeAdapter } from "./internal/adapter.js"
import * as Options from "./internal/options.js"
import * as SqliteNode from "./internal/sqliteClient.js"
import * as OptimalConfig from "./OptimalConfig.js"
import * as Tls from "./Tls.js"

/** The SQLite adapter type. */
export type SQLiteAdapter = DatabaseAdapter<OptimalConfig.SqliteOptimalConfig>

const require = createRequire(import.meta.url)

/** The SQLite library compiled into the installed better-sqlite3: the version is known without any server. */
export const bundledVersion = (): string => {
  // Synchronous, as the adapter needs it to pick its features: better-sqlite3 is CommonJS, so `require` gives the very
  // module an `import` would, and loads it only when a SQLite adapter is made (it is an optional peer dependency).
  const Database: typeof Sqlite = require("better-sqlite3")
  const db = new Database(":memory:")
  try {
    return String((db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v)
  } finally {
    db.close()
  }
}

/** The URL query options that tune the configuration (SQLite's pragma names), below explicit overrides. */
export const configFromUrl = (url: ConnectionUrl): OptimalConfig.ConfigOverrides<OptimalConfig.SqliteOptimalConfig> =>
  Options.settingsFromOptions("sqlite", url.options)

/** Makes the SQLite adapter for a parsed `sqlite://` URL. */
export const make = (
  url: ConnectionUrl,
  options: AdapterOptions<OptimalConfig.SqliteOptimalConfig> = {}
): SQLiteAdapter =>
  makeAdapter({
    url,
    options,
    defaults: OptimalConfig.sqlite,
    fromUrl: configFromUrl(url),
    defaultVersion: bundledVersion(),
    tls: Either.right(Tls.plain),
    makeClient: (_tls, config, name, clientOptions) =>
      SqliteNode.make(url.filename ?? ":memory:", config, {
        alias: name,
        readOnly: clientOptions.readOnly ?? false,
        spanAttributes: clientOptions.spanAttributes
      })
  })
