/**
 * The adapters' driver modules, imported on first use (see Drivers.ts) and kept once loaded, so that the
 * statement compilers, which @effect/sql needs synchronously, are at hand once a client of the dialect exists.
 */
import type * as MysqlClient from "@effect/sql-mysql2/MysqlClient"
import type * as PgClient from "@effect/sql-pg/PgClient"
import type Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import type * as Mysql from "mysql2"
import type Pg from "pg"
import type Cursor from "pg-cursor"
import type { DriverNotInstalled } from "../AdapterError.js"
import type { DriverPackage } from "../Dialect.js"
import { load } from "../Drivers.js"

/** node-postgres, its cursor and @effect/sql-pg. */
export interface PgModules {
  readonly Pg: typeof Pg
  readonly Cursor: typeof Cursor
  readonly PgClient: typeof PgClient
}

/** mysql2 and @effect/sql-mysql2. */
export interface MysqlModules {
  readonly Mysql: typeof Mysql
  readonly MysqlClient: typeof MysqlClient
}

/** better-sqlite3 (the adapters run statements on it directly: no @effect/sql wrapper). */
export interface SqliteModules {
  readonly Database: typeof Sqlite
}

/** A driver's modules: loaded on first use, then kept. */
export interface Loader<A> {
  readonly load: Effect.Effect<A, DriverNotInstalled>
  /** The modules if a `load` has succeeded. */
  readonly loaded: () => A | undefined
}

const loader = <A>(driver: DriverPackage, importer: () => Promise<A>): Loader<A> => {
  let modules: A | undefined
  return {
    load: Effect.suspend(() =>
      modules !== undefined ? Effect.succeed(modules) : Effect.tap(load(driver, importer), (m) => {
        modules = m
      })
    ),
    loaded: () => modules
  }
}

/** PostgreSQL. */
export const pg: Loader<PgModules> = loader("pg", async () => {
  const [pg, cursor, PgClient] = await Promise.all([
    import("pg"),
    import("pg-cursor"),
    import("@effect/sql-pg/PgClient")
  ])
  return { Pg: pg.default, Cursor: cursor.default, PgClient }
})

/** MySQL and MariaDB. */
export const mysql: Loader<MysqlModules> = loader("mysql2", async () => {
  const [Mysql, MysqlClient] = await Promise.all([import("mysql2"), import("@effect/sql-mysql2/MysqlClient")])
  return { Mysql, MysqlClient }
})

/** SQLite. */
export const sqlite: Loader<SqliteModules> = loader("better-sqlite3", async () => ({
  Database: (await import("better-sqlite3")).default
}))
