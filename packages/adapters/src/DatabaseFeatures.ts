/**
 * What each server product can do, by version, as a static table. The thresholds come from each vendor's
 * release notes and are cited next to each one; tests pin the version just below and at every threshold.
 */
import * as Either from "effect/Either"
import type { Dialect, ServerProduct } from "./Dialect.js"
import { parseServerVersion } from "./internal/serverVersion.js"

export {
  /** Reads MySQL / MariaDB `VERSION()` strings, with or without the "5.5.5-" prefix. */
  fromMysqlVersion,
  /** Reads PostgreSQL `SHOW server_version` / `version()` strings. */
  fromPostgresVersion,
  /** Reads PostgreSQL `server_version_num` (150019 is 15.19; 90624 is 9.6.24). */
  fromPostgresVersionNum,
  /** Reads SQLite `sqlite_version()`. */
  fromSqliteVersion,
  /** Reads whatever a server of the given dialect or product reports about its version. */
  parseServerVersion
} from "./internal/serverVersion.js"

/** What a server can do; each flag is a capability FastORM may rely on. */
export interface DatabaseFeatures {
  readonly supportsJsonFields: boolean
  readonly supportsArrayFields: boolean
  readonly supportsFullTextSearch: boolean
  readonly supportsWindowFunctions: boolean
  readonly supportsCte: boolean
  readonly supportsUpsert: boolean
  readonly supportsReturning: boolean
  readonly supportsPartialIndexes: boolean
  readonly supportsConcurrentIndexes: boolean
  /** Namespaces inside one database. False on MySQL/MariaDB, where a "schema" is a database, and on SQLite. */
  readonly supportsSchemas: boolean
}

/** A server product and version. For PostgreSQL 10+ `minor` is the second number ("15.19" is 15, 19, 0). */
export interface ServerVersion {
  readonly product: ServerProduct
  readonly major: number
  readonly minor: number
  readonly patch: number
  /** What the server reported, when the version was read from a server. */
  readonly raw?: string | undefined
}

/** Builds a version value. */
export const version = (product: ServerProduct, major: number, minor = 0, patch = 0): ServerVersion => ({
  product,
  major,
  minor,
  patch
})

/** Whether `v` is at least `major.minor.patch`. */
export const atLeast = (v: ServerVersion, major: number, minor = 0, patch = 0): boolean =>
  v.major !== major ? v.major > major : v.minor !== minor ? v.minor > minor : v.patch >= patch

/** No feature at all: what to assume about a server nothing is known of. */
export const minimalFeatures: DatabaseFeatures = {
  supportsJsonFields: false,
  supportsArrayFields: false,
  supportsFullTextSearch: false,
  supportsWindowFunctions: false,
  supportsCte: false,
  supportsUpsert: false,
  supportsReturning: false,
  supportsPartialIndexes: false,
  supportsConcurrentIndexes: false,
  supportsSchemas: false
}

const postgresql = (v: ServerVersion): DatabaseFeatures => ({
  supportsJsonFields: atLeast(v, 9, 4), // jsonb (indexable, comparable) arrived in 9.4; the 9.2 json type is text
  supportsArrayFields: true, // arrays predate every supported release
  supportsFullTextSearch: atLeast(v, 8, 3), // tsearch2 moved into core in 8.3
  supportsWindowFunctions: atLeast(v, 8, 4), // 8.4 release notes
  supportsCte: atLeast(v, 8, 4), // WITH and WITH RECURSIVE: 8.4
  supportsUpsert: atLeast(v, 9, 5), // INSERT ... ON CONFLICT: 9.5
  supportsReturning: atLeast(v, 8, 2), // INSERT/UPDATE/DELETE ... RETURNING: 8.2
  supportsPartialIndexes: atLeast(v, 7, 2), // CREATE INDEX ... WHERE re-enabled in 7.2
  supportsConcurrentIndexes: atLeast(v, 8, 2), // CREATE INDEX CONCURRENTLY: 8.2
  supportsSchemas: atLeast(v, 7, 3) // CREATE SCHEMA: 7.3
})

const mysql = (v: ServerVersion): DatabaseFeatures => ({
  supportsJsonFields: atLeast(v, 5, 7, 8), // the JSON type: 5.7.8
  supportsArrayFields: false,
  supportsFullTextSearch: true, // MyISAM always, InnoDB FULLTEXT since 5.6.4
  supportsWindowFunctions: atLeast(v, 8, 0, 2), // 8.0.2
  supportsCte: atLeast(v, 8, 0, 1), // WITH (and RECURSIVE): 8.0.1
  supportsUpsert: true, // INSERT ... ON DUPLICATE KEY UPDATE
  supportsReturning: false, // MySQL has no RETURNING at all
  supportsPartialIndexes: false,
  // ALGORITHM=INPLACE, LOCK=NONE builds online but is not CONCURRENTLY: it still takes metadata locks at both ends.
  supportsConcurrentIndexes: false,
  supportsSchemas: false
})

const mariadb = (v: ServerVersion): DatabaseFeatures => ({
  supportsJsonFields: atLeast(v, 10, 2, 7), // JSON as an alias of LONGTEXT (with a JSON_VALID check): 10.2.7
  supportsArrayFields: false,
  supportsFullTextSearch: true, // Aria/MyISAM always, InnoDB since 10.0.5
  supportsWindowFunctions: atLeast(v, 10, 2, 0), // 10.2.0
  supportsCte: atLeast(v, 10, 2, 1), // 10.2.1 (WITH RECURSIVE from 10.2.2)
  supportsUpsert: true, // INSERT ... ON DUPLICATE KEY UPDATE
  supportsReturning: atLeast(v, 10, 5, 0), // INSERT/REPLACE ... RETURNING: 10.5.0 (DELETE ... RETURNING: 10.0.5)
  supportsPartialIndexes: false,
  supportsConcurrentIndexes: false,
  supportsSchemas: false
})

const sqlite = (v: ServerVersion): DatabaseFeatures => ({
  supportsJsonFields: atLeast(v, 3, 38, 0), // JSON functions built in by default since 3.38.0 (an extension before)
  supportsArrayFields: false,
  supportsFullTextSearch: true, // FTS5 is compiled into better-sqlite3's bundled SQLite
  supportsWindowFunctions: atLeast(v, 3, 25, 0), // 3.25.0
  supportsCte: atLeast(v, 3, 8, 3), // 3.8.3
  supportsUpsert: atLeast(v, 3, 24, 0), // INSERT ... ON CONFLICT DO UPDATE: 3.24.0
  supportsReturning: atLeast(v, 3, 35, 0), // 3.35.0
  supportsPartialIndexes: atLeast(v, 3, 8, 0), // 3.8.0
  supportsConcurrentIndexes: false, // one writer: an index build blocks it whatever the syntax
  supportsSchemas: false // ATTACH gives separate database files, not namespaces in one database
})

/** The features of a server product at a version, from the static table. */
export const featuresFor = (v: ServerVersion): DatabaseFeatures => {
  switch (v.product) {
    case "postgresql":
      return postgresql(v)
    case "mysql":
      return mysql(v)
    case "mariadb":
      return mariadb(v)
    case "sqlite":
      return sqlite(v)
  }
}

/**
 * The oldest release of each product assumed when the version is unknown: PostgreSQL 10 (9.6 left support in
 * 2021), MySQL 5.7.8 (first with JSON), MariaDB 10.3 (10.2 left support in 2022), SQLite 3.31.1 (Ubuntu 20.04).
 */
export const floorVersion: { readonly [P in ServerProduct]: ServerVersion } = {
  postgresql: version("postgresql", 10, 0),
  mysql: version("mysql", 5, 7, 8),
  mariadb: version("mariadb", 10, 3, 0),
  sqlite: version("sqlite", 3, 31, 1)
}

/** Features both sets have. */
export const intersect = (a: DatabaseFeatures, b: DatabaseFeatures): DatabaseFeatures =>
  Object.fromEntries(
    Object.keys(a).map((k) => [k, a[k as keyof DatabaseFeatures] && b[k as keyof DatabaseFeatures]])
  ) as unknown as DatabaseFeatures

/** Conservative features for a dialect whose server version is unknown; for mysql, MySQL and MariaDB both. */
export const staticFeatures = (dialect: Dialect): DatabaseFeatures =>
  dialect === "mysql"
    ? intersect(featuresFor(floorVersion.mysql), featuresFor(floorVersion.mariadb))
    : featuresFor(floorVersion[dialect])

/** Reads a version, falling back to the dialect's `floorVersion` (conservative) when it cannot be read. */
export const parseVersion = (dialect: Dialect | ServerProduct, raw: string | number): ServerVersion =>
  Either.getOrElse(parseServerVersion(dialect, raw), () => floorVersion[dialect])
