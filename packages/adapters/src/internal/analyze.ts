/**
 * One pass over a connection URL that both validation and parsing use, so they can never disagree: it collects
 * every problem and, when none is an error, the parsed `ConnectionUrl`.
 */
import * as Redacted from "effect/Redacted"
import type { ConnectionUrl } from "../ConnectionUrl.js"
import { driverOf } from "../Dialect.js"
import { specOf } from "./options.js"
import type { ConnectionProblem } from "./problems.js"
import { problem } from "./problems.js"
import type { RawUrl } from "./rawUrl.js"
import { decode, splitQuery, splitUrl } from "./rawUrl.js"
import { isSecretKey } from "./redact.js"
import type { SchemeInfo } from "./schemes.js"
import { lookupScheme } from "./schemes.js"
import { resolve as resolveTls } from "./tls.js"
import type { QueryOptions } from "./urlLocation.js"
import { readNetwork, readSqlite } from "./urlLocation.js"

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

const readOptions = (raw: RawUrl, info: SchemeInfo, problems: Array<ConnectionProblem>): QueryOptions => {
  const plain: Record<string, string> = {}
  const secret: Record<string, string> = {}
  let user: string | undefined
  let password: string | undefined
  let host: string | undefined
  let port: string | undefined
  for (const { hasValue, key, value } of raw.query === undefined ? [] : splitQuery(raw.query)) {
    if (key === undefined || value === undefined) {
      problems.push(problem.malformed("an option in the query string has invalid percent-encoding"))
      continue
    }
    const spec = specOf(info.dialect, key)
    if (spec === undefined) {
      // A bare "?word" may be a password pasted in the wrong place: its name is not echoed.
      problems.push(problem.unknownOption(hasValue ? key : ""))
      continue
    }
    if (spec._tag === "refused") {
      problems.push(problem.unsupportedOption(key, spec.instead))
      continue
    }
    if (spec._tag === "setting" && spec.parse(value) === undefined) {
      problems.push(problem.invalidOptionValue(key, spec.expected))
      continue
    }
    if (spec._tag === "settings") {
      const parsed = spec.parse(value)
      if (parsed._tag === "invalid") {
        problems.push(problem.invalidOptionValue(key, parsed.expected))
        continue
      }
      if (parsed._tag === "unsupported") {
        problems.push(problem.unsupportedOption(key, parsed.instead))
        continue
      }
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
