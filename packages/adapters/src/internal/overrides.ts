/**
 * Checking user overrides of the connection settings before they are applied: every key must be a setting of the
 * URL's dialect and every value of the setting's kind. Problems name the setting, never the value (a value given
 * by mistake may be a secret).
 */
import * as Duration from "effect/Duration"
import type { Dialect } from "../Dialect.js"
import { isPrintableName } from "./problems.js"
import * as ServerSettings from "./serverSettings.js"

/** The kind of value a setting takes. */
export type Kind =
  | { readonly _tag: "duration"; readonly positive: boolean }
  | { readonly _tag: "size" }
  | { readonly _tag: "boolean" }
  /** Non-empty text; with `format`, text that passes its test (`expected` says what it takes). */
  | {
    readonly _tag: "text"
    readonly format?: { readonly test: (text: string) => boolean; readonly expected: string } | undefined
  }
  | { readonly _tag: "oneOf"; readonly values: ReadonlyArray<string | number | boolean> }
  /** Server settings by the server's names (`ServerSettings.ts`): names the server takes, none FastORM sets itself. */
  | { readonly _tag: "serverSettings"; readonly dialect: "postgresql" | "mysql" }

const duration: Kind = { _tag: "duration", positive: false }
const positiveDuration: Kind = { _tag: "duration", positive: true }
const size: Kind = { _tag: "size" }
const boolean: Kind = { _tag: "boolean" }
const text: Kind = { _tag: "text" }

// One schema name of a search path: unquoted (folded to lower case by the server) or double-quoted, with no space,
// comma, quote or backslash inside, so the list travels in a startup option as it is.
const schemaName = /^(?:[A-Za-z_][A-Za-z0-9_$]{0,62}|"[^"\\\s,]{1,63}")$/

/** An `application_name` the server keeps whole: printable ASCII, at most 63 characters (NAMEDATALEN - 1). */
export const isApplicationName = (text: string): boolean => /^[\x20-\x7e]{1,63}$/.test(text)

/** A PostgreSQL `search_path` as `SET` takes it: schema names separated by commas (`app, public`, `"$user"`). */
export const isSearchPath = (text: string): boolean =>
  text.length <= 1024 && text.split(",").every((name) => schemaName.test(name.trim()))

/**
 * A MySQL/MariaDB time zone for mysql2's `timezone`: `local`, `Z`, or an offset `+HH:MM` that both servers take as a
 * session `time_zone` (MariaDB's range, -12:59 to +13:00, lies inside MySQL's).
 */
export const isTimeZone = (text: string): boolean => {
  if (text === "local" || text === "Z") return true
  const m = /^([+-])(\d{2}):([0-5]\d)$/.exec(text)
  if (m === null) return false
  const minutes = Number(m[2]) * 60 + Number(m[3])
  return m[1] === "+" ? minutes <= 13 * 60 : minutes <= 12 * 60 + 59
}

const searchPath: Kind = {
  _tag: "text",
  format: { test: isSearchPath, expected: "schema names separated by commas, e.g. \"app, public\"" }
}
const timeZone: Kind = {
  _tag: "text",
  format: { test: isTimeZone, expected: "\"local\", \"Z\" or an offset from \"-12:59\" to \"+13:00\"" }
}

/** Every setting of each dialect and the kind of value it takes (see OptimalConfig for what each does). */
export const settings: { readonly [D in Dialect]: Readonly<Record<string, Kind>> } = {
  postgresql: {
    poolSize: size,
    maxOverflow: size,
    idleTimeout: duration,
    maxLifetime: duration,
    connectTimeout: positiveDuration,
    statementTimeout: duration,
    lockTimeout: duration,
    idleInTransactionTimeout: duration,
    jit: boolean,
    applicationName: text,
    searchPath,
    keepAlive: boolean,
    keepAliveInitialDelay: duration,
    preparedStatements: { _tag: "oneOf", values: [true, false, "auto"] },
    pipelinedConnections: size,
    serverSettings: { _tag: "serverSettings", dialect: "postgresql" }
  },
  mysql: {
    poolSize: size,
    maxOverflow: size,
    idleTimeout: duration,
    maxLifetime: duration,
    connectTimeout: positiveDuration,
    readTimeout: duration,
    writeTimeout: duration,
    statementTimeout: duration,
    charset: { _tag: "oneOf", values: ["utf8mb4"] },
    collation: text,
    timezone: timeZone,
    keepAlive: boolean,
    keepAliveInitialDelay: duration,
    pipelinedConnections: size,
    serverSettings: { _tag: "serverSettings", dialect: "mysql" }
  },
  sqlite: {
    maxWriters: { _tag: "oneOf", values: [1] },
    journalMode: { _tag: "oneOf", values: ["wal", "delete", "truncate", "persist", "memory", "off"] },
    synchronous: { _tag: "oneOf", values: ["off", "normal", "full", "extra"] },
    cacheSizeKiB: size,
    foreignKeys: boolean,
    busyTimeout: duration,
    readerThreads: size,
    openMode: { _tag: "oneOf", values: ["rwc", "rw", "ro"] }
  }
}

const names: { readonly [D in Dialect]: string } = {
  postgresql: "PostgreSQL",
  mysql: "MySQL/MariaDB",
  sqlite: "SQLite"
}

const problemWith = (key: string, kind: Kind, value: unknown): string | undefined => {
  switch (kind._tag) {
    case "duration": {
      const decoded = Duration.decodeUnknown(value)
      if (decoded._tag === "None" || !Duration.isFinite(decoded.value)) {
        return `${key} must be a finite duration, e.g. "5 seconds" or a number of milliseconds`
      }
      if (typeof value === "number" && value < 0) return `${key} must not be negative`
      if (kind.positive && Duration.toMillis(decoded.value) <= 0) return `${key} must be longer than zero`
      return undefined
    }
    case "size":
      return Number.isSafeInteger(value) && (value as number) >= 0
        ? undefined
        : `${key} must be a non-negative integer`
    case "boolean":
      return typeof value === "boolean" ? undefined : `${key} must be true or false`
    case "text":
      if (typeof value !== "string" || value.length === 0) return `${key} must be a non-empty string`
      return kind.format === undefined || kind.format.test(value) ? undefined : `${key} must be ${kind.format.expected}`
    case "oneOf":
      return kind.values.includes(value as string | number | boolean)
        ? undefined
        : `${key} must be one of ${kind.values.map((v) => JSON.stringify(v)).join(", ")}`
    case "serverSettings":
      return ServerSettings.problem(kind.dialect, key, value)
  }
}

/** Every problem with `overrides` for a node of `dialect`; empty when they can be applied. */
export const check = (dialect: Dialect, overrides: unknown): ReadonlyArray<string> => {
  if (overrides === undefined) return []
  if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) {
    return ["the connection settings must be an object of settings"]
  }
  const own = settings[dialect]
  const problems: Array<string> = []
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue
    const shown = isPrintableName(key) ? `"${key}"` : "a setting (name not shown)"
    const kind = Object.prototype.hasOwnProperty.call(own, key) ? own[key] : undefined
    if (kind === undefined) {
      const elsewhere = (Object.keys(settings) as Array<Dialect>).filter((d) =>
        Object.prototype.hasOwnProperty.call(settings[d], key)
      )
      problems.push(
        elsewhere.length > 0
          ? `${shown} does not apply to ${names[dialect]} (it is a ${
            elsewhere.map((d) => names[d]).join(" and ")
          } setting)`
          : `${shown} is not a ${names[dialect]} setting (known: ${Object.keys(own).join(", ")})`
      )
      continue
    }
    const problem = problemWith(key, kind, value)
    if (problem !== undefined) problems.push(problem)
  }
  const record = overrides as Record<string, unknown>
  if (record.poolSize === 0 && record.maxOverflow === 0) {
    problems.push("poolSize + maxOverflow must allow at least one connection")
  }
  return problems
}
