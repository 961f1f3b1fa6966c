/**
 * URL schemes FastORM accepts. The SQLAlchemy spellings (`postgresql+asyncpg`, `mysql+pymysql`, ...) are accepted
 * so one URL can be shared with Python services; the part after `+` names a Python driver and is ignored here.
 */
import type { Dialect } from "../Dialect.js"

/** What a scheme tells us. */
export interface SchemeInfo {
  readonly dialect: Dialect
  readonly productHint?: "mariadb" | undefined
}

const pg: SchemeInfo = { dialect: "postgresql" }
const mysql: SchemeInfo = { dialect: "mysql" }
const mariadb: SchemeInfo = { dialect: "mysql", productHint: "mariadb" }
const sqlite: SchemeInfo = { dialect: "sqlite" }

/** Every accepted scheme, lower-case (schemes are case-insensitive, RFC 3986 §3.1). */
export const schemes: Readonly<Record<string, SchemeInfo>> = {
  postgres: pg,
  postgresql: pg,
  "postgresql+asyncpg": pg,
  "postgresql+psycopg": pg,
  "postgresql+psycopg2": pg,
  mysql,
  "mysql+aiomysql": mysql,
  "mysql+asyncmy": mysql,
  "mysql+pymysql": mysql,
  mariadb,
  "mariadb+mariadbconnector": mariadb,
  sqlite,
  "sqlite+aiosqlite": sqlite,
  "sqlite+pysqlite": sqlite
}

/** Looks a scheme up, case-insensitively. */
export const lookupScheme = (scheme: string): SchemeInfo | undefined =>
  Object.prototype.hasOwnProperty.call(schemes, scheme.toLowerCase()) ? schemes[scheme.toLowerCase()] : undefined
