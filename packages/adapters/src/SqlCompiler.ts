/**
 * The @effect/sql statement compiler of each dialect, for clients FastORM assembles itself (the router's).
 */
import * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import type { DriverNotInstalled } from "./AdapterError.js"
import type { Dialect } from "./Dialect.js"
import * as Drivers from "./internal/drivers.js"

/**
 * The compiler that produces the same SQL as the dialect's own @effect/sql client. PostgreSQL's and MySQL's come
 * from their @effect/sql driver package, an optional peer loaded on first use: any client of the dialect (an
 * adapter's `makeClient`) or `load` has loaded it; before that, asking for it is a defect that says so.
 */
export const make = (dialect: Dialect): Statement.Compiler => {
  switch (dialect) {
    case "postgresql":
      return loaded(Drivers.pg.loaded()?.PgClient.makeCompiler(), "postgresql")
    case "mysql":
      return loaded(Drivers.mysql.loaded()?.MysqlClient.makeCompiler(), "mysql")
    case "sqlite":
      return Statement.makeCompilerSqlite()
  }
}

/** Loads the dialect's driver package if needed, then returns its compiler. */
export const load = (dialect: Dialect): Effect.Effect<Statement.Compiler, DriverNotInstalled> => {
  switch (dialect) {
    case "postgresql":
      return Effect.map(Drivers.pg.load, ({ PgClient }) => PgClient.makeCompiler())
    case "mysql":
      return Effect.map(Drivers.mysql.load, ({ MysqlClient }) => MysqlClient.makeCompiler())
    case "sqlite":
      return Effect.sync(() => Statement.makeCompilerSqlite())
  }
}

const loaded = (compiler: Statement.Compiler | undefined, dialect: Dialect): Statement.Compiler => {
  if (compiler !== undefined) return compiler
  throw new Error(
    `SqlCompiler.make("${dialect}") before its driver package was loaded: use SqlCompiler.load("${dialect}")`
  )
}
