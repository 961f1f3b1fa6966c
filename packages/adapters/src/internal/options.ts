/**
 * Query-string options each dialect understands, and what becomes of each: read where the connection is made (its
 * location, credentials and TLS), turned into a connection setting below explicit overrides, or refused with what to
 * do instead. Nothing is accepted and then ignored: a typo such as `sslmod=require` would leave the connection
 * unencrypted, and a `search_path` or `timezone` dropped in silence would read the wrong tables or shift dates.
 */
import * as Duration from "effect/Duration"
import type { Dialect } from "../Dialect.js"
import { isApplicationName, isSearchPath, isTimeZone } from "./overrides.js"
import * as StartupOptions from "./pgStartupOptions.js"
import { parseSessionVariables } from "./serverSettings.js"

/** How an option's text becomes a setting's value; undefined when the text is not of the option's kind. */
type Parse = (text: string) => unknown

/** What becomes of one URL option. */
export type OptionSpec =
  /** Read where the connection is made: location, credentials, TLS (`Tls.ts`, `urlLocation.ts`). */
  | { readonly _tag: "read" }
  /** A connection setting (`OptimalConfig`), parsed from the option's text; `expected` says what text it takes. */
  | { readonly _tag: "setting"; readonly setting: string; readonly parse: Parse; readonly expected: string }
  /** Several settings in one option's text (PostgreSQL `options`), below the options of their own. */
  | { readonly _tag: "settings"; readonly parse: (text: string) => StartupOptions.Parsed }
  /** Known to the database's own clients but not applied by FastORM: refused, with what to do instead. */
  | { readonly _tag: "refused"; readonly instead: string }

const read: OptionSpec = { _tag: "read" }
const refused = (instead: string): OptionSpec => ({ _tag: "refused", instead })

const integer = (text: string): number | undefined => /^\d{1,12}$/.test(text) ? Number(text) : undefined
const decimal = (text: string): number | undefined => /^\d{1,12}(\.\d+)?$/.test(text) ? Number(text) : undefined
const millis: Parse = (text) => {
  const n = integer(text)
  return n === undefined ? undefined : Duration.millis(n)
}
const seconds = (positive: boolean): Parse => (text) => {
  const n = decimal(text)
  if (n === undefined) return undefined
  const ms = Math.round(n * 1000)
  return positive && ms === 0 ? undefined : Duration.millis(ms)
}
const positiveMillis: Parse = (text) => {
  const n = integer(text)
  return n === undefined || n === 0 ? undefined : Duration.millis(n)
}
const flag: Parse = (text) =>
  /^(1|true|on|yes)$/i.test(text) ? true : /^(0|false|off|no)$/i.test(text) ? false : undefined
const word = (values: ReadonlyArray<string>): Parse => (text) => {
  const lower = text.toLowerCase()
  return values.includes(lower) ? lower : undefined
}
const name: Parse = (text) => isApplicationName(text) ? text : undefined

const setting = (settingName: string, parse: Parse, expected: string): OptionSpec => ({
  _tag: "setting",
  setting: settingName,
  parse,
  expected
})

const MS = "a whole number of milliseconds"
const SECONDS = "a number of seconds"
const FLAG = "1 or 0 (true/false, on/off)"
const PG_DRIVER = "the node-postgres driver FastORM connects with has no such setting"

// libpq connection parameters (PostgreSQL docs §34.1.2) and the pg / pg-connection-string extras (README, "Adapters").
const postgresql: Readonly<Record<string, OptionSpec>> = {
  host: read,
  port: read,
  user: read,
  password: read,
  sslmode: read,
  sslrootcert: read,
  sslcert: read,
  sslkey: read,
  sslpassword: read,
  sslcrl: read,
  sslnegotiation: read,
  ssl: read,
  rejectUnauthorized: read,
  uselibpqcompat: read,
  application_name: setting("applicationName", name, "printable text of at most 63 characters"),
  // libpq's: the name when application_name gives none (FastORM's own default aside).
  fallback_application_name: setting("applicationName", name, "printable text of at most 63 characters"),
  connect_timeout: setting("connectTimeout", seconds(true), `${SECONDS}, more than 0`),
  statement_timeout: setting("statementTimeout", millis, MS),
  lock_timeout: setting("lockTimeout", millis, MS),
  idle_in_transaction_session_timeout: setting("idleInTransactionTimeout", millis, MS),
  keepalives: setting("keepAlive", flag, FLAG),
  keepalives_idle: setting("keepAliveInitialDelay", seconds(false), SECONDS),
  options: { _tag: "settings", parse: StartupOptions.parse },
  search_path: setting(
    "searchPath",
    (text) => isSearchPath(text) ? text : undefined,
    "schema names separated by commas (app,public)"
  ),
  query_timeout: refused("use statement_timeout: FastORM's client-side deadline follows it"),
  target_session_attrs: refused(
    "FastORM finds each node's role itself: give the primary as the write URL and the replicas as read URLs"
  ),
  client_encoding: refused("FastORM's connections always use UTF8"),
  channel_binding: refused(PG_DRIVER),
  gssencmode: refused(PG_DRIVER),
  krbsrvname: refused(PG_DRIVER),
  requirepeer: refused(PG_DRIVER)
}

const MYSQL_TYPES = "FastORM decodes every value through the model's Schema, from the driver's own types"

// mysql2 connection options usable from a URL, the MySQL client's / SQLAlchemy's spellings of the TLS ones and of the
// timeouts (in seconds, as the MySQL client takes them).
const mysql: Readonly<Record<string, OptionSpec>> = {
  user: read,
  password: read,
  ssl: read,
  "ssl-mode": read,
  sslmode: read,
  ssl_mode: read,
  ssl_ca: read,
  ssl_cert: read,
  ssl_key: read,
  ssl_verify_cert: read,
  ssl_verify_identity: read,
  rejectUnauthorized: read,
  socketPath: read,
  unix_socket: read,
  charset: setting("charset", word(["utf8mb4"]), "utf8mb4 (FastORM stores all of Unicode)"),
  collation: setting(
    "collation",
    (text) => /^utf8mb4_[a-z0-9_]{1,60}$/i.test(text) ? text.toLowerCase() : undefined,
    "a utf8mb4 collation such as utf8mb4_unicode_ci"
  ),
  connectTimeout: setting("connectTimeout", positiveMillis, `${MS}, more than 0`),
  connect_timeout: setting("connectTimeout", seconds(true), `${SECONDS}, more than 0`),
  read_timeout: setting("readTimeout", seconds(false), SECONDS),
  write_timeout: setting("writeTimeout", seconds(false), SECONDS),
  enableKeepAlive: setting("keepAlive", flag, FLAG),
  keepAliveInitialDelay: setting("keepAliveInitialDelay", millis, MS),
  timezone: setting(
    "timezone",
    (text) => isTimeZone(text) ? text : undefined,
    "local, Z or an offset from -12:59 to +13:00, its + written %2B (%2B05:30)"
  ),
  sessionVariables: setting(
    "serverSettings",
    parseSessionVariables,
    "name=value pairs separated by commas, a value with commas in single quotes (sql_mode='TRADITIONAL'), none of the " +
      "variables FastORM sets itself (time_zone, the timeouts, the character set, autocommit, ...)"
  ),
  dateStrings: refused(MYSQL_TYPES),
  supportBigNumbers: refused(MYSQL_TYPES),
  bigNumberStrings: refused(MYSQL_TYPES),
  decimalNumbers: refused(MYSQL_TYPES),
  compress: refused("mysql2 has no protocol compression"),
  allowPublicKeyRetrieval: refused(
    "mysql2 has no such option: with caching_sha2_password, connect with TLS (ssl-mode=REQUIRED or stronger)"
  ),
  application_name: refused("MySQL and MariaDB have no application name; the session's user and host name it")
}

const SQLITE_OPEN = "FastORM opens the file itself (read-only for read clients); use mode=ro, rw or rwc"

// SQLite URI parameters (sqlite.org/uri.html) and the pragmas FastORM sets on open.
const sqlite: Readonly<Record<string, OptionSpec>> = {
  journal_mode: setting(
    "journalMode",
    word(["wal", "delete", "truncate", "persist", "memory", "off"]),
    "wal, delete, truncate, persist, memory or off"
  ),
  synchronous: setting("synchronous", word(["off", "normal", "full", "extra"]), "off, normal, full or extra"),
  foreign_keys: setting("foreignKeys", flag, FLAG),
  busy_timeout: setting("busyTimeout", millis, MS),
  timeout: refused("use busy_timeout, in milliseconds (Python's timeout is in seconds)"),
  mode: setting("openMode", word(["rwc", "rw", "ro"]), "ro, rw or rwc"),
  readonly: refused(SQLITE_OPEN),
  cache: refused(SQLITE_OPEN),
  immutable: refused(SQLITE_OPEN),
  nolock: refused(SQLITE_OPEN),
  uri: refused(SQLITE_OPEN),
  check_same_thread: refused("Python's sqlite3 setting; better-sqlite3 has none")
}

/** What becomes of each known option, per dialect. */
export const optionSpecs: { readonly [D in Dialect]: Readonly<Record<string, OptionSpec>> } = {
  postgresql,
  mysql,
  sqlite
}

/** The spec of `key` for `dialect`, if it is one of the dialect's options. */
export const specOf = (dialect: Dialect, key: string): OptionSpec | undefined =>
  Object.prototype.hasOwnProperty.call(optionSpecs[dialect], key) ? optionSpecs[dialect][key] : undefined

// Options that give the same setting: the first present wins (libpq's fallback name only when no name is given).
const precedence: ReadonlyArray<string> = ["application_name", "connectTimeout"]

/**
 * The connection settings a URL's options give (checked when the URL was parsed: an option whose text is not of its
 * kind never gets here). They sit below explicit overrides and above the defaults.
 */
export const settingsFromOptions = (
  dialect: Dialect,
  options: Readonly<Record<string, string>>
): Readonly<Record<string, unknown>> => {
  const settings: Record<string, unknown> = {}
  const keys = Object.keys(options).sort((a, b) => Number(precedence.includes(b)) - Number(precedence.includes(a)))
  for (const key of keys) {
    const spec = specOf(dialect, key)
    if (spec?._tag !== "setting" || settings[spec.setting] !== undefined) continue
    const value = spec.parse(options[key]!)
    if (value !== undefined) settings[spec.setting] = value
  }
  // Then what an option of several settings gives, where no option of its own gave the setting.
  for (const key of keys) {
    const spec = specOf(dialect, key)
    if (spec?._tag !== "settings") continue
    const parsed = spec.parse(options[key]!)
    if (parsed._tag !== "settings") continue
    for (const [name, value] of Object.entries(parsed.settings)) {
      if (settings[name] === undefined) settings[name] = value
    }
  }
  return settings
}
