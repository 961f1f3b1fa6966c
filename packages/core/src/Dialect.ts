/**
 * The SQL dialects FastORM speaks, in its own words. @effect/sql names them its way ("pg", "mysql", "sqlite", and
 * two FastORM does not speak); `fromEffectSql` is the one place that maps its names to FastORM's.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"

/** The SQL dialect: decides quoting, placeholders, RETURNING and which adapter is used. */
export type Dialect = "postgresql" | "mysql" | "sqlite"

/** Every dialect, in a stable order. */
export const dialects: ReadonlyArray<Dialect> = ["postgresql", "mysql", "sqlite"]

/** FastORM's name for an @effect/sql dialect; `undefined` for the ones FastORM does not speak (mssql, clickhouse). */
export const fromEffectSql = (dialect: Statement.Dialect): Dialect | undefined => {
  switch (dialect) {
    case "pg":
      return "postgresql"
    case "mysql":
      return "mysql"
    case "sqlite":
      return "sqlite"
    default:
      return undefined
  }
}

const effectSqlName = {
  sqlite: () => "sqlite" as const,
  pg: () => "pg" as const,
  mysql: () => "mysql" as const,
  mssql: () => "mssql" as const,
  clickhouse: () => "clickhouse" as const
}

// A client's dialect never changes; asking it builds closures, on every statement of the hot path.
const cache = new WeakMap<SqlClient.SqlClient, Dialect | undefined>()

/** The dialect of a client in FastORM's words; `undefined` for a dialect FastORM does not speak. */
export const fromClient = (sql: SqlClient.SqlClient): Dialect | undefined => {
  if (cache.has(sql)) return cache.get(sql)
  const dialect = fromEffectSql(sql.onDialect(effectSqlName))
  cache.set(sql, dialect)
  return dialect
}

/**
 * The dialect of a client. A client of another dialect is a wiring mistake in the program (the connections are
 * provided by FastORM's layers or by the caller's code), so it is a defect whose message names the dialect.
 */
export const of = (sql: SqlClient.SqlClient): Dialect => {
  const dialect = fromClient(sql)
  if (dialect === undefined) {
    throw new Error(
      `FastORM speaks PostgreSQL, MySQL/MariaDB and SQLite; this client speaks ${sql.onDialect(effectSqlName)}`
    )
  }
  return dialect
}
