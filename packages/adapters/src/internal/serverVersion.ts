/**
 * Reading server versions from what each server reports about itself.
 */
import * as Either from "effect/Either"
import { UnrecognizedServerVersion } from "../AdapterError.js"
import type { ServerVersion } from "../DatabaseFeatures.js"
import type { Dialect, ServerProduct } from "../Dialect.js"

type Result = Either.Either<ServerVersion, UnrecognizedServerVersion>

const fail = (product: string, raw: string | number): Result =>
  Either.left(new UnrecognizedServerVersion({ product, raw: String(raw).slice(0, 80) }))

const make = (product: ServerProduct, major: number, minor: number, patch: number, raw: string): ServerVersion => ({
  product,
  major,
  minor,
  patch,
  raw
})

/** From PostgreSQL `server_version_num`: 150019 is 15.19 (major*10000 + minor since 10), 90624 is 9.6.24. */
export const fromPostgresVersionNum = (num: number | string): Result => {
  const text = String(num).trim()
  if (!/^\d{5,7}$/.test(text)) return fail("PostgreSQL", num)
  const n = Number(text)
  // Before 10 the number was major*10000 + minor*100 + patch ("9.6.24" has major 9.6 in PostgreSQL's own terms).
  return n >= 100000
    ? Either.right(make("postgresql", Math.floor(n / 10000), n % 10000, 0, text))
    : Either.right(make("postgresql", Math.floor(n / 10000), Math.floor(n / 100) % 100, n % 100, text))
}

/** From PostgreSQL `SHOW server_version` ("15.19 (Debian 15.19-1.pgdg120+1)", "16beta1") or `SELECT version()`. */
export const fromPostgresVersion = (version: string): Result => {
  const m = /^\s*(?:PostgreSQL\s+)?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version)
  return m === null
    ? fail("PostgreSQL", version)
    : Either.right(make("postgresql", Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0), version.trim()))
}

/** From MySQL / MariaDB `SELECT VERSION()` ("8.0.36", "10.11.19-MariaDB-0+deb12u1-log", "5.5.5-10.11.6-MariaDB"). */
export const fromMysqlVersion = (version: string): Result => {
  const isMariadb = /mariadb/i.test(version)
  // MariaDB before 11 prefixes "5.5.5-" in the handshake so old MySQL clients accept a major above 5.
  const text = isMariadb ? version.trim().replace(/^5\.5\.5-/, "") : version.trim()
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text)
  return m === null
    ? fail(isMariadb ? "MariaDB" : "MySQL", version)
    : Either.right(make(isMariadb ? "mariadb" : "mysql", Number(m[1]), Number(m[2]), Number(m[3]), version.trim()))
}

/** From SQLite `sqlite_version()` ("3.50.4"). */
export const fromSqliteVersion = (version: string): Result => {
  const m = /^\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(version)
  return m === null
    ? fail("SQLite", version)
    : Either.right(make("sqlite", Number(m[1]), Number(m[2]), Number(m[3] ?? 0), version.trim()))
}

/** From whatever a server of the given dialect or product reports: a version number or a version string. */
export const parseServerVersion = (product: Dialect | ServerProduct, raw: string | number): Result => {
  switch (product) {
    case "postgresql":
      return typeof raw === "number" || /^\s*\d{5,7}\s*$/.test(raw)
        ? fromPostgresVersionNum(raw)
        : fromPostgresVersion(raw)
    case "mysql":
      return fromMysqlVersion(String(raw))
    case "mariadb":
      // A MariaDB configured to hide its name still is one: trust the caller's product over the string.
      return Either.map(fromMysqlVersion(String(raw)), (v) => ({ ...v, product: "mariadb" as const }))
    case "sqlite":
      return fromSqliteVersion(String(raw))
  }
}
