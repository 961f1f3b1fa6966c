/**
 * One pass over a connection URL that both validation and parsing use, so they can never disagree: it collects
 * every problem and, when none is an error, the parsed `ConnectionUrl`.
 */
import * as Redacted from "effect/Redacted"
import type { ConnectionUrl } from "../ConnectionUrl.js"
import { defaultPort, driverOf } from "../Dialect.js"
import { knownOptions } from "./options.js"
import type { ConnectionProblem } from "./problems.js"
import { problem } from "./problems.js"
import type { RawUrl } from "./rawUrl.js"
import { decode, splitQuery, splitUrl } from "./rawUrl.js"
import { isSecretKey } from "./redact.js"
import type { SchemeInfo } from "./schemes.js"
import { lookupScheme } from "./schemes.js"
import { resolve as resolveTls } from "./tls.js"

/** Everything found in one URL. */
export interface Analysis {
  readonly problems: ReadonlyArray<ConnectionProblem>
  /** Present when no problem has severity "error". */
  readonly url: ConnectionUrl | undefined
}

const splitReasons = {
  "empty": "the URL is empty",
  "no-scheme": "the URL does not start with <scheme>://",
  "bad-scheme": "the text before :// is not a valid scheme"
} as const

/** Analyzes a URL; never throws and never puts input text other than vetted names into a problem. */
export const analyze = (input: string | Redacted.Redacted<string>): Analysis => {
  const text = Redacted.isRedacted(input) ? Redacted.value(input) : input
  const raw = typeof text === "string" ? splitUrl(text) : "empty"
  if (typeof raw === "string") return { problems: [problem.malformed(splitReasons[raw])], url: undefined }
  const info = lookupScheme(raw.scheme)
  if (info === undefined) return { problems: [problem.unknownScheme(raw.scheme)], url: undefined }
  const problems: Array<ConnectionProblem> = []
  if (raw.hasFragment) {
    problems.push(problem.malformed("the URL contains '#': percent-encode it as %23 (in a password, for instance)"))
  }
  const options = readOptions(raw, info, problems)
  const location = info.dialect === "sqlite"
    ? readSqlite(raw, problems)
    : readNetwork(raw, info, options, problems)
  // The host as written, not the parsed one: TLS problems are reported even when the URL has other errors.
  const host = info.dialect === "sqlite" ? undefined : (decode(raw.host) ?? raw.host) || options.host
  checkTls(info, host, options.plain, problems)
  const tls = resolveTls(info.dialect, options.plain, new Set(Object.keys(options.secret)))
  if (tls._tag === "Invalid") {
    for (const p of tls.problems) problems.push(problem.invalidTlsOption(p.option, p.message))
  }
  const failed = problems.some((p) => p.severity === "error")
  if (failed || location.kind === "failed") return { problems, url: undefined }
  const url: ConnectionUrl = {
    dialect: info.dialect,
    scheme: raw.scheme,
    driver: driverOf[info.dialect],
    productHint: info.productHint,
    host: location.host,
    port: location.port,
    database: location.database,
    username: location.username,
    password: location.password === undefined ? undefined : Redacted.make(location.password),
    filename: location.filename,
    options: options.plain,
    secretOptions: Object.fromEntries(
      Object.entries(options.secret).map(([k, v]) => [k, Redacted.make(v)] as const)
    )
  }
  return { problems, url }
}

interface Options {
  readonly plain: Record<string, string>
  readonly secret: Record<string, string>
  readonly user: string | undefined
  readonly password: string | undefined
  readonly host: string | undefined
  readonly port: string | undefined
}

const readOptions = (raw: RawUrl, info: SchemeInfo, problems: Array<ConnectionProblem>): Options => {
  const plain: Record<string, string> = {}
  const secret: Record<string, string> = {}
  let user: string | undefined
  let password: string | undefined
  let host: string | undefined
  let port: string | undefined
  const known = knownOptions[info.dialect]
  for (const { hasValue, key, value } of raw.query === undefined ? [] : splitQuery(raw.query)) {
    if (key === undefined || value === undefined) {
      problems.push(problem.malformed("an option in the query string has invalid percent-encoding"))
      continue
    }
    if (!known.has(key)) {
      // A bare "?word" may be a password pasted in the wrong place: its name is not echoed.
      problems.push(problem.unknownOption(hasValue ? key : ""))
      continue
    }
    // The credentials and the socket directory go to their own fields, so `options` never holds a secret.
    if (key === "password") password = value
    else if (key === "user") user = value
    else if (key === "host" && info.dialect === "postgresql") host = value
    else if (key === "port" && info.dialect === "postgresql") port = value
    else if (isSecretKey(key)) secret[key] = value
    else plain[key] = value
  }
  return { plain, secret, user, password, host, port }
}

interface Location {
  readonly kind: "ok" | "failed"
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly database?: string | undefined
  readonly username?: string | undefined
  readonly password?: string | undefined
  readonly filename?: string | undefined
}

const FAILED: Location = { kind: "failed" }

const readSqlite = (raw: RawUrl, problems: Array<ConnectionProblem>): Location => {
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

const readNetwork = (
  raw: RawUrl,
  info: SchemeInfo,
  options: Options,
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

/** Hosts where traffic never leaves the machine, so plaintext cannot be sniffed or downgraded on the wire. */
export const isLocalHost = (host: string | undefined): boolean =>
  host === undefined || host === "" || host.startsWith("/") || host === "localhost" || host === "::1" ||
  /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)

const falsy = (value: string): boolean => /^(false|0|no|off)$/i.test(value)

const checkTls = (
  info: SchemeInfo,
  host: string | undefined,
  options: Readonly<Record<string, string>>,
  problems: Array<ConnectionProblem>
): void => {
  const local = isLocalHost(host)
  for (const [key, value] of Object.entries(options)) {
    // Turning certificate checks off is unsafe even on loopback: the URL gets copied to other environments.
    if ((key === "rejectUnauthorized" || key === "ssl_verify_cert") && falsy(value)) {
      problems.push(problem.insecureTls(key, value, "the server certificate is not verified"))
    } else if (key === "ssl" && /"rejectUnauthorized"\s*:\s*false/.test(value)) {
      problems.push(problem.insecureTls(key, "{rejectUnauthorized:false}", "the server certificate is not verified"))
    } else if (local) {
      continue
    } else if (key === "ssl" && falsy(value)) {
      problems.push(problem.insecureTls(key, value, "TLS is off for a host that is not on this machine"))
    } else if (info.dialect === "postgresql" && key === "sslmode" && /^(disable|allow|prefer)$/i.test(value)) {
      // allow/prefer fall back to plaintext when the server (or an attacker in the middle) declines TLS.
      problems.push(
        problem.insecureTls(key, value.toLowerCase(), "a remote host may get a plaintext, downgradable connection")
      )
    } else if (
      info.dialect === "mysql" && (key === "ssl-mode" || key === "sslmode" || key === "ssl_mode") &&
      /^(disabled|preferred)$/i.test(value)
    ) {
      problems.push(
        problem.insecureTls(key, value.toUpperCase(), "a remote host may get a plaintext, downgradable connection")
      )
    }
  }
}
