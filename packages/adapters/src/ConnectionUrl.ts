/**
 * Connection URLs: parsing (with the SQLAlchemy scheme spellings), the canonical URL a Node driver takes, a
 * log-safe description, and a check that the driver package is installed.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { DriverNotInstalled, InvalidConnectionUrl, UnsupportedScheme } from "./AdapterError.js"
import type { Dialect, DriverPackage } from "./Dialect.js"
import * as Drivers from "./Drivers.js"
import { analyze } from "./internal/analyze.js"

/** A parsed connection URL; the password and secret options are `Redacted`, so logging the value is safe. */
export interface ConnectionUrl {
  readonly dialect: Dialect
  /** The scheme as written, e.g. "postgresql+asyncpg". */
  readonly scheme: string
  /** The Node driver package that will connect. */
  readonly driver: DriverPackage
  /** "mariadb" when the scheme says so; the live server decides in the end. */
  readonly productHint?: "mariadb" | undefined
  /** Host name or IPv6 address (without brackets); for PostgreSQL a Unix socket directory from `?host=`. */
  readonly host?: string | undefined
  /** The port, defaulted to 5432 / 3306; absent for SQLite. */
  readonly port?: number | undefined
  readonly database?: string | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  /** SQLite only: a relative or absolute path, or ":memory:". */
  readonly filename?: string | undefined
  /** Query-string options, decoded; never holds a secret (those are in `password` and `secretOptions`). */
  readonly options: Readonly<Record<string, string>>
  /** Options whose value is a secret, such as `sslpassword`. */
  readonly secretOptions: Readonly<Record<string, Redacted.Redacted<string>>>
}

/** Parses a URL, failing on every error-severity problem (insecure-TLS warnings do not fail; see validateOrFail). */
export const parseEither = (
  url: string | Redacted.Redacted<string>
): Either.Either<ConnectionUrl, InvalidConnectionUrl | UnsupportedScheme> => {
  const { problems, url: parsed } = analyze(url)
  const unknown = problems.find((p) => p._tag === "UnknownScheme")
  if (unknown !== undefined && unknown._tag === "UnknownScheme") {
    return Either.left(new UnsupportedScheme({ scheme: unknown.scheme }))
  }
  return parsed === undefined
    ? Either.left(new InvalidConnectionUrl({ problems: problems.filter((p) => p.severity === "error") }))
    : Either.right(parsed)
}

/** Parses a connection URL (see parseEither). */
export const parse = (
  url: string | Redacted.Redacted<string>
): Effect.Effect<ConnectionUrl, InvalidConnectionUrl | UnsupportedScheme> =>
  Effect.suspend(() => Either.match(parseEither(url), { onLeft: Effect.fail, onRight: Effect.succeed }))

const enc = encodeURIComponent

const hostPart = (host: string): string => host.includes(":") ? `[${host}]` : host

const queryOf = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&")}`

const sqliteUrl = (filename: string | undefined): string =>
  filename === ":memory:" ? "sqlite://:memory:" : `sqlite:///${encodeURI(filename ?? "")}`

/** The canonical URL a Node driver takes (`postgres://`, `mysql://`, `sqlite://`), password included, so Redacted. */
export const format = (url: ConnectionUrl): Redacted.Redacted<string> => {
  const secrets = Object.entries(url.secretOptions).map(([k, v]) => [k, Redacted.value(v)] as const)
  const options = [...Object.entries(url.options), ...secrets]
  if (url.dialect === "sqlite") return Redacted.make(sqliteUrl(url.filename) + queryOf(options))
  const scheme = url.dialect === "postgresql" ? "postgres" : "mysql"
  const password = url.password === undefined ? undefined : Redacted.value(url.password)
  const database = `/${enc(url.database ?? "")}`
  // A Unix-socket PostgreSQL URL has no authority, so pg-connection-string reads host and credentials from the query.
  if (url.host === undefined || url.host.startsWith("/")) {
    const pairs: Array<readonly [string, string]> = []
    if (url.host !== undefined) pairs.push(["host", url.host])
    if (url.username !== undefined) pairs.push(["user", url.username])
    if (password !== undefined) pairs.push(["password", password])
    if (url.port !== undefined) pairs.push(["port", String(url.port)])
    return Redacted.make(`${scheme}://${database}${queryOf([...pairs, ...options])}`)
  }
  const user = url.username === undefined && password === undefined
    ? ""
    : `${enc(url.username ?? "")}${password === undefined ? "" : `:${enc(password)}`}@`
  const port = url.port === undefined ? "" : `:${url.port}`
  return Redacted.make(`${scheme}://${user}${hostPart(url.host)}${port}${database}${queryOf(options)}`)
}

/** A description safe for logs, e.g. `postgresql://app@127.0.0.1:5432/fastorm`: never a password or option. */
export const describe = (url: ConnectionUrl): string => {
  if (url.dialect === "sqlite") return sqliteUrl(url.filename)
  const scheme = url.productHint ?? url.dialect
  const user = url.username === undefined ? "" : `${enc(url.username)}@`
  const host = url.host === undefined ? "" : url.host.startsWith("/") ? enc(url.host) : hostPart(url.host)
  const port = url.port === undefined ? "" : `:${url.port}`
  return `${scheme}://${user}${host}${port}/${enc(url.database ?? "")}`
}

/**
 * Which database a URL names, without user or password: `postgresql://host:port/database` (MariaDB and MySQL as
 * `mysql://...`, one server whatever the scheme) or a SQLite file's absolute path (`:memory:` as is, resolved
 * against `cwd`). `FastOrm.layer` keys the session tokens of an unnamed cluster by its primary's identity.
 */
export const identity = (url: ConnectionUrl, cwd: string = process.cwd()): string => {
  if (url.dialect === "sqlite") {
    const file = url.filename ?? ":memory:"
    return file === ":memory:" ? file : Path.resolve(cwd, file)
  }
  const host = url.host === undefined ? "" : url.host.startsWith("/") ? enc(url.host) : hostPart(url.host)
  const port = url.port === undefined ? "" : `:${url.port}`
  return `${url.dialect}://${host}${port}/${enc(url.database ?? "")}`
}

/** The npm command that installs a driver and its @effect/sql wrapper (see Drivers). */
export const installCommand: (driver: DriverPackage) => string = Drivers.installCommand

const require = createRequire(import.meta.url)

/** Whether a package resolves from here; the resolver's error (a file path list) is dropped, not propagated. */
export const isResolvable = (pkg: string, resolve: (pkg: string) => unknown = require.resolve): boolean => {
  try {
    resolve(pkg)
    return true
  } catch {
    return false
  }
}

/** Succeeds when every package of the driver resolves (Drivers.packagesOf); else names the npm install that fixes it. */
export const checkDriverInstalled = (
  driver: DriverPackage,
  resolve?: (pkg: string) => unknown
): Effect.Effect<void, DriverNotInstalled> =>
  Effect.suspend(() =>
    Drivers.packagesOf[driver].every((p) => isResolvable(p.name, resolve))
      ? Effect.void
      : Effect.fail(new DriverNotInstalled({ driver, install: installCommand(driver) }))
  )
