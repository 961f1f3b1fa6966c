/**
 * The @effect/sql statement compiler of each dialect, for clients FastORM assembles itself (the router's).
 */
import * as MysqlClient from "@effect/sql-mysql2/MysqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Statement from "@effect/sql/Statement"
import type { Dialect } from "./Dialect.js"

/** The compiler that produces the same SQL as the dialect's own @effect/sql client. */
export const make = (dialect: Dialect): Statement.Compiler => {
  switch (dialect) {
    case "postgresql":
      return PgClient.makeCompiler()
    case "mysql":
      return MysqlClient.makeCompiler()
    case "sqlite":
      return Statement.makeCompilerSqlite()
  }
}
