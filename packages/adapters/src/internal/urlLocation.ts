/**
 * Where a connection URL points: the SQLite file, or a server's host, port, database and credentials. Each reader
 * pushes what is wrong to `problems` and never echoes input text other than vetted names.
 */
import { defaultPort } from "../Dialect.js"
import type { ConnectionProblem } from "./problems.js"
import { problem } from "./problems.js"
import type { RawUrl } from "./rawUrl.js"
import { decode } from "./rawUrl.js"
import type { SchemeInfo } from "./schemes.js"

/** What a URL's query string held, sorted: plain and secret options, and where-to-connect overrides. */
export interface QueryOptions {
  readonly plain: Record<string, string>
  readonly secret: Record<string, string>
  readonly user: string | undefined
  readonly password: string | undefined
  readonly host: string | undefined
  readonly port: string | undefined
}

/** Where a URL points, or `failed` when a problem was found (the problem says what). */
export interface Location {
  readonly kind: "ok" | "failed"
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly database?: string | undefined
  readonly username?: string | undefined
  readonly password?: string | undefined
  readonly filename?: string | undefined
}

const FAILED: Location = { kind: "failed" }

/** The SQLite file of a URL (or `:memory:`). */
export const readSqlite = (raw: RawUrl, problems: Array<ConnectionProblem>): Location => {
  if (raw.authority === ":memory:") {
    if (raw.path.length > 0) problems.push(problem.malformed("sqlite://:memory: takes no path"))
    return { kind: "ok", filename: ":memory:" }
  }
  if (raw.authority.length > 0) {
    problems.push(
      problem.malformed("SQLite URLs have no host, user or port: write sqlite:///relative.db or sqlite:////abs.db")
    )
  }
  // sqlite:///rel.db has path "/rel.db" (relative), sqlite:////abs.db has "//abs.db" (absolute), as in SQLAlchemy.
  const filename = decode(raw.path.slice(1))
  if (filename === undefined) {
    problems.push(problem.malformed("the file name has invalid percent-encoding"))
    return FAILED
  }
  if (filename.length === 0) {
    problems.push(problem.missingSqliteFile())
    return FAILED
  }
  return { kind: "ok", filename }
}

/** The host, port, database and credentials of a server URL. */
export const readNetwork = (
  raw: RawUrl,
  info: SchemeInfo,
  options: QueryOptions,
  problems: Array<ConnectionProblem>
): Location => {
  const dialect = info.dialect as "postgresql" | "mysql"
  let failed = false
  let username: string | undefined
  let password: string | undefined
  if (raw.userInfo !== undefined) {
    const user = decode(raw.userInfo.user)
    const pass = raw.userInfo.password === undefined ? undefined : decode(raw.userInfo.password)
    if (user === undefined || (raw.userInfo.password !== undefined && pass === undefined)) {
      problems.push(problem.malformed("the user name or password has invalid percent-encoding"))
      failed = true
    }
    username = user === "" ? undefined : user
    password = pass
  }
  if (options.user !== undefined) {
    if (username !== undefined) problems.push(problem.malformed("the user is given both before the host and as ?user="))
    username = options.user
  }
  if (options.password !== undefined) {
    if (password !== undefined) {
      problems.push(problem.malformed("the password is given both before the host and as ?password="))
    }
    password = options.password
  }
  const host = readHost(raw, problems)
  if (host === false) failed = true
  const socket = options.host ?? options.plain["socketPath"] ?? options.plain["unix_socket"]
  if (host === "" && socket === undefined) {
    problems.push(problem.missingHost())
    failed = true
  }
  if (host !== false && host !== "" && options.host !== undefined) {
    problems.push(problem.malformed("the host is given both in the URL and as ?host="))
  }
  if (raw.port !== undefined && raw.port !== "" && options.port !== undefined) {
    problems.push(problem.malformed("the port is given both after the host and as ?port="))
  }
  const port = readPort(raw.port === undefined || raw.port === "" ? options.port : raw.port, problems)
  if (port === false) failed = true
  const database = readDatabase(raw.path, problems)
  if (database === false) failed = true
  if (failed || host === false || port === false || database === false) return FAILED
  return {
    kind: "ok",
    host: host === "" ? options.host : host,
    port: port ?? defaultPort[dialect],
    database,
    username,
    password
  }
}

const readHost = (raw: RawUrl, problems: Array<ConnectionProblem>): string | false => {
  if (raw.ipv6) {
    if (!/^[0-9A-Fa-f:.]+(%[A-Za-z0-9._~-]+)?$/.test(raw.host)) {
      problems.push(problem.malformed("the bracketed IPv6 address is not valid"))
      return false
    }
    return raw.host
  }
  if (raw.host.includes(",")) {
    problems.push(problem.malformed("several hosts in one URL are not supported: give each node its own URL"))
    return false
  }
  if (raw.host.includes(":")) {
    problems.push(problem.malformed("an IPv6 address must be written in brackets, as in [::1]:5432"))
    return false
  }
  const host = decode(raw.host)
  if (host === undefined || !/^[A-Za-z0-9._~-]*$/.test(host)) {
    problems.push(problem.malformed("the host name contains characters a host name cannot have"))
    return false
  }
  return host
}

const readPort = (port: string | undefined, problems: Array<ConnectionProblem>): number | undefined | false => {
  // "host:" with nothing after the colon means the default port, as in WHATWG URL.
  if (port === undefined || port === "") return undefined
  if (!/^\d+$/.test(port)) {
    problems.push(problem.invalidPort("not-a-number"))
    return false
  }
  const n = Number(port)
  if (n < 1 || n > 65535) {
    problems.push(problem.invalidPort("out-of-range"))
    return false
  }
  return n
}

const readDatabase = (path: string, problems: Array<ConnectionProblem>): string | false => {
  const name = path.slice(1)
  if (name.includes("@")) {
    // An "@" after the host means the password held an unencoded "/": the "database" would be half a password.
    problems.push(
      problem.malformed("the path contains '@': percent-encode '/', '?', '#' and '@' in the user name and password")
    )
    return false
  }
  if (name.includes("/")) {
    problems.push(problem.malformed("the database name contains '/': percent-encode it as %2F"))
    return false
  }
  const database = decode(name)
  if (database === undefined) {
    problems.push(problem.malformed("the database name has invalid percent-encoding"))
    return false
  }
  if (database.length === 0) {
    problems.push(problem.missingDatabase())
    return false
  }
  return database
}
