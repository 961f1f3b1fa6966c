/**
 * The SQL dialects FastORM speaks (core's vocabulary, re-exported), the server products behind them and the Node
 * drivers that reach them.
 */
import type { Dialect as CoreDialect } from "@fastorm/core"

/** The SQL dialect: decides quoting, placeholders and which adapter is used (defined in @fastorm/core). */
export type Dialect = CoreDialect.Dialect

/** The server product actually answering; MariaDB speaks the mysql dialect but its features differ from MySQL. */
export type ServerProduct = "postgresql" | "mysql" | "mariadb" | "sqlite"

/** The Node driver package each dialect runs on. */
export type DriverPackage = "pg" | "mysql2" | "better-sqlite3"

/** The @effect/sql package wrapping a network driver. */
export type EffectSqlPackage = "@effect/sql-pg" | "@effect/sql-mysql2"

/** The driver package used for each dialect. */
export const driverOf: { readonly [D in Dialect]: DriverPackage } = {
  postgresql: "pg",
  mysql: "mysql2",
  sqlite: "better-sqlite3"
}

/** The @effect/sql package wrapping each network driver; SQLite's adapter runs on better-sqlite3 directly. */
export const effectPackageOf: { readonly [P in Exclude<DriverPackage, "better-sqlite3">]: EffectSqlPackage } = {
  pg: "@effect/sql-pg",
  mysql2: "@effect/sql-mysql2"
}

/** The dialect a server product speaks. */
export const dialectOf = (product: ServerProduct): Dialect => product === "mariadb" ? "mysql" : product

/** The port a network dialect listens on when the URL names none (SQLite has no port). */
export const defaultPort: { readonly postgresql: 5432; readonly mysql: 3306 } = { postgresql: 5432, mysql: 3306 }
