/**
 * Feature detection: ask the live server which product and version it is, then read the static table.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { ConnectionFailed } from "./AdapterError.js"
import type { DatabaseFeatures, ServerVersion } from "./DatabaseFeatures.js"
import * as Features from "./DatabaseFeatures.js"

/** What a server said about itself, and the features that follow. */
export interface DetectedFeatures {
  readonly version: ServerVersion
  readonly features: DatabaseFeatures
}

/** Asks the server for its product and version (`server_version_num`, `VERSION()`, `sqlite_version()`). */
export const detectServerVersion = (
  client: SqlClient.SqlClient,
  node = "database"
): Effect.Effect<ServerVersion, ConnectionFailed> =>
  client.onDialectOrElse({
    pg: () =>
      Effect.map(
        client<{ v: string }>`SELECT current_setting('server_version_num') AS v`,
        (rows) => Features.fromPostgresVersionNum(String(rows[0]?.v ?? ""))
      ),
    mysql: () => Effect.map(client<{ v: string }>`SELECT VERSION() AS v`, (rows) => Features.fromMysqlVersion(String(rows[0]?.v ?? ""))),
    sqlite: () => Effect.map(client<{ v: string }>`SELECT sqlite_version() AS v`, (rows) => Features.fromSqliteVersion(String(rows[0]?.v ?? ""))),
    orElse: () => Effect.dieMessage("FastORM supports PostgreSQL, MySQL/MariaDB and SQLite only")
  }).pipe(
    Effect.flatten,
    Effect.mapError((cause) => new ConnectionFailed({ node, cause }))
  )

/** Detects the server version and derives its features from the static table. */
export const detectFeatures = (
  client: SqlClient.SqlClient,
  node = "database"
): Effect.Effect<DetectedFeatures, ConnectionFailed> =>
  Effect.map(detectServerVersion(client, node), (version) => ({ version, features: Features.featuresFor(version) }))
