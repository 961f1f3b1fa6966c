/**
 * Feature detection: ask the live server which product and version it is, then read the static table.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Dialect as CoreDialect } from "@fastorm/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { ConnectionFailed } from "./AdapterError.js"
import type { UnrecognizedServerVersion } from "./AdapterError.js"
import type { DatabaseFeatures, ServerVersion } from "./DatabaseFeatures.js"
import * as Features from "./DatabaseFeatures.js"
import type { Dialect } from "./Dialect.js"

/** What a server said about itself, and the features that follow. */
export interface DetectedFeatures {
  readonly version: ServerVersion
  readonly features: DatabaseFeatures
}

const versionQuery = (
  client: SqlClient.SqlClient
): readonly [Dialect, Effect.Effect<ReadonlyArray<{ v: unknown }>, unknown>] => {
  const dialect = CoreDialect.fromClient(client)
  switch (dialect) {
    case "postgresql":
      // server_version_num is machine-readable; server_version carries distribution suffixes.
      return [dialect, client<{ v: unknown }>`SELECT current_setting('server_version_num') AS v`]
    case "mysql":
      // VERSION() is what tells MariaDB from MySQL ("10.11.6-MariaDB-log").
      return [dialect, client<{ v: unknown }>`SELECT VERSION() AS v`]
    case "sqlite":
      return [dialect, client<{ v: unknown }>`SELECT sqlite_version() AS v`]
    case undefined:
      return ["postgresql", Effect.fail("FastORM supports PostgreSQL, MySQL/MariaDB and SQLite only")]
  }
}

/** Asks the server for its product and version (`server_version_num`, `VERSION()`, `sqlite_version()`). */
export const detectServerVersion = (
  client: SqlClient.SqlClient,
  node = "database"
): Effect.Effect<ServerVersion, ConnectionFailed | UnrecognizedServerVersion> => {
  const [dialect, query] = versionQuery(client)
  return query.pipe(
    Effect.mapError((cause) => new ConnectionFailed({ node, cause })),
    Effect.flatMap((rows) =>
      Either.match(Features.parseServerVersion(dialect, String(rows[0]?.v ?? "")), {
        onLeft: Effect.fail,
        onRight: Effect.succeed
      })
    )
  )
}

/** Detects the server version and derives its features from the static table. */
export const detectFeatures = (
  client: SqlClient.SqlClient,
  node = "database"
): Effect.Effect<DetectedFeatures, ConnectionFailed | UnrecognizedServerVersion> =>
  Effect.map(detectServerVersion(client, node), (version) => ({ version, features: Features.featuresFor(version) }))
