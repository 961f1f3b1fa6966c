/** Typed errors of the adapters: unknown scheme, invalid URL, missing driver, unreachable node. */
export * as AdapterError from "./AdapterError.js"

/** Parsing and formatting connection URLs; driver detection. */
export * as ConnectionUrl from "./ConnectionUrl.js"

/** Validating a connection URL without connecting. */
export * as ConnectionValidation from "./ConnectionValidation.js"

/** The adapter contract. */
export * as DatabaseAdapter from "./DatabaseAdapter.js"

/** Picking the adapter for a URL. */
export * as DatabaseAdapterFactory from "./DatabaseAdapterFactory.js"

/** The optional driver packages: what each dialect needs installed, and loading them on first use. */
export * as Drivers from "./Drivers.js"

/** Feature flags by dialect and server version. */
export * as DatabaseFeatures from "./DatabaseFeatures.js"

/** Dialects, products and Node drivers. */
export * as Dialect from "./Dialect.js"

/** Asking a live server for its version and features. */
export * as FeatureDetection from "./FeatureDetection.js"

/** The MySQL / MariaDB adapter. */
export * as MySQLAdapter from "./MySQLAdapter.js"

/** One node's client, in the shape every router path relies on. */
export * as NodeClient from "./NodeClient.js"

/** Default connection settings per dialect. */
export * as OptimalConfig from "./OptimalConfig.js"

/** The PostgreSQL adapter. */
export * as PostgreSQLAdapter from "./PostgreSQLAdapter.js"

/** The statement compiler of each dialect. */
export * as SqlCompiler from "./SqlCompiler.js"

/** The SQLite adapter. */
export * as SQLiteAdapter from "./SQLiteAdapter.js"

/** TLS settings: the URL's options in libpq's modes, the files they name read once. */
export * as Tls from "./Tls.js"

/** A SQLite test layer: a writer and a read-only reader on one file, no server. */
export * as SqliteTesting from "./SqliteTesting.js"

export { validateDatabaseConnection } from "./ConnectionValidation.js"
export { getOptimalEngineConfig } from "./DatabaseAdapterFactory.js"
export { detectFeatures } from "./FeatureDetection.js"
