/**
 * What went wrong when connecting to a node, read from a driver's cause chain. @effect/sql's `SqlError.message` is a
 * fixed string ("Failed to acquire a connection ..."), so the driver's own reason (ECONNREFUSED, ENOTFOUND, 28P01)
 * sits one or more causes deep, and pg reports every address of a host name in one `AggregateError`: the chain is
 * walked (`cause`, `errors`, outermost first) and the first failure it recognises wins (pg's "connection timeout"
 * wraps the "terminated" socket it caused).
 */
import type { NodeProblem } from "../AdapterError.js"

/** A connection failure in words: its kind, the driver's code when there is one, and a sentence naming both. */
export interface Diagnosis {
  readonly problem: NodeProblem
  readonly code?: string | undefined
  /** E.g. "connection refused (ECONNREFUSED)"; the driver's message is included only where it adds something. */
  readonly text: string
}

type Entry = readonly [problem: NodeProblem, label: string]

/** The TLS failures named apart (README, "TLS"); a label says what failed, the code which check said so. */
const TLS = {
  untrusted: "untrusted server certificate",
  hostMismatch: "the host name does not match the server certificate",
  noTls: "the server does not support TLS",
  clientRefused: "client certificate refused",
  expired: "server certificate expired or not yet valid",
  revoked: "server certificate revoked",
  noCrl: "no CRL of the server certificate's issuer in sslcrl",
  other: "TLS failure"
} as const

// What to do about it, after the driver's words.
const hints: Readonly<Record<string, string>> = {
  [TLS.untrusted]: "name the CA that signed it with sslrootcert (PostgreSQL) or ssl_ca (MySQL)",
  [TLS.hostMismatch]: "connect by a name the certificate lists, or use verify-ca / VERIFY_CA",
  [TLS.noTls]: "turn TLS on on the server, or use sslmode=prefer / ssl-mode=PREFERRED to allow plaintext"
}

const tlsCodes = (): Readonly<Record<string, Entry>> => {
  const entries: Array<readonly [string, string]> = [
    ...[
      "SELF_SIGNED_CERT_IN_CHAIN",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
      "UNABLE_TO_GET_ISSUER_CERT",
      "CERT_UNTRUSTED",
      "CERT_SIGNATURE_FAILURE",
      "CERT_CHAIN_TOO_LONG",
      "INVALID_CA"
    ].map((code) => [code, TLS.untrusted] as const),
    ["ERR_TLS_CERT_ALTNAME_INVALID", TLS.hostMismatch],
    ["HANDSHAKE_NO_SSL_SUPPORT", TLS.noTls],
    ["CERT_HAS_EXPIRED", TLS.expired],
    ["CERT_NOT_YET_VALID", TLS.expired],
    ["CERT_REVOKED", TLS.revoked],
    ["UNABLE_TO_GET_CRL", TLS.noCrl],
    // The server's alerts when it refuses the client's certificate, or wanted one (TLS 1.3).
    ["ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", TLS.clientRefused],
    ["ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", TLS.clientRefused],
    ["ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE", TLS.clientRefused],
    ["ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN", TLS.clientRefused],
    ["ERR_SSL_TLSV1_ALERT_ACCESS_DENIED", TLS.clientRefused],
    ["HANDSHAKE_SSL_ERROR", TLS.other],
    ["EPROTO", TLS.other]
  ]
  return Object.fromEntries(entries.map(([code, label]) => [code, ["tls", label] as const]))
}

// mysql2 replaces the code of a failed TLS handshake by HANDSHAKE_SSL_ERROR: Node's (OpenSSL's) words say which.
const tlsMessages: ReadonlyArray<readonly [RegExp, string]> = [
  [/self[- ]signed certificate in certificate chain/i, "SELF_SIGNED_CERT_IN_CHAIN"],
  [/^self[- ]signed certificate$/i, "DEPTH_ZERO_SELF_SIGNED_CERT"],
  [/unable to verify the first certificate/i, "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
  [/unable to get local issuer certificate/i, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"],
  [/certificate has expired/i, "CERT_HAS_EXPIRED"],
  [/certificate revoked/i, "CERT_REVOKED"],
  [/unable to get certificate CRL/i, "UNABLE_TO_GET_CRL"],
  [/Hostname\/IP does not match certificate's altnames/i, "ERR_TLS_CERT_ALTNAME_INVALID"]
]

// Driver and Node codes: what each says, in words. Unknown codes are "other" with the driver's message.
const codes: Readonly<Record<string, Entry>> = {
  ECONNREFUSED: ["refused", "connection refused"],
  ENOTFOUND: ["hostNotFound", "host not found"],
  EAI_AGAIN: ["hostNotFound", "host name lookup failed"],
  EAI_NONAME: ["hostNotFound", "host not found"],
  EAI_FAIL: ["hostNotFound", "host name lookup failed"],
  ETIMEDOUT: ["timeout", "no answer"],
  ESOCKETTIMEDOUT: ["timeout", "no answer"],
  PROTOCOL_SEQUENCE_TIMEOUT: ["timeout", "no answer"],
  ECONNRESET: ["closed", "connection reset by the server"],
  EPIPE: ["closed", "the server closed the connection"],
  ECONNABORTED: ["closed", "connection aborted"],
  PROTOCOL_CONNECTION_LOST: ["closed", "the server closed the connection"],
  ER_SERVER_SHUTDOWN: ["closed", "the server is shutting down"],
  ER_CONNECTION_KILLED: ["closed", "the connection was killed"],
  ER_CON_COUNT_ERROR: ["other", "too many connections"],
  "57P01": ["closed", "the server is shutting down"],
  "57P02": ["closed", "the server is shutting down"],
  "57P03": ["closed", "the server is not accepting connections yet"],
  "53300": ["other", "too many connections"],
  EHOSTUNREACH: ["other", "host unreachable"],
  ENETUNREACH: ["other", "network unreachable"],
  "28P01": ["authentication", "authentication failed"],
  "28000": ["authentication", "authentication failed"],
  ER_ACCESS_DENIED_ERROR: ["authentication", "authentication failed"],
  ER_DBACCESS_DENIED_ERROR: ["authentication", "access to the database denied"],
  ER_ACCESS_DENIED_NO_PASSWORD_ERROR: ["authentication", "authentication failed"],
  ...tlsCodes()
}

// mysql2 reports some logins by errno alone (1044 no access to the database, 1045 access denied, 1698 plugin).
const authenticationErrnos: ReadonlySet<number> = new Set([1044, 1045, 1698])

// pg and pg-pool raise a few failures as plain Errors without a code; the first match decides.
const messages: ReadonlyArray<readonly [RegExp, NodeProblem, string]> = [
  [/timeout exceeded when trying to connect|due to connection timeout|timed? ?out/i, "timeout", "no answer"],
  [/does not support SSL connections/i, "tls", TLS.noTls],
  [/\b(SSL|TLS)\b|certificate/i, "tls", TLS.other],
  [
    /Connection terminated|connection error and is not queryable|Client was closed|closed the connection/i,
    "closed",
    "the server closed the connection"
  ]
]

// The driver's message is worth repeating where the code alone does not say it all.
const withMessage: ReadonlySet<NodeProblem> = new Set(["authentication", "tls", "other"])

const asRecord = (u: unknown): Record<string, unknown> | undefined =>
  typeof u === "object" && u !== null ? (u as Record<string, unknown>) : undefined

const make = (
  problem: NodeProblem,
  label: string,
  code: string | undefined,
  message: string | undefined
): Diagnosis => {
  const detail = withMessage.has(problem) && message !== undefined && message !== label ? `: ${message}` : ""
  const hint = hints[label] === undefined ? "" : `; ${hints[label]}`
  return {
    problem,
    ...(code === undefined ? {} : { code }),
    text: `${label}${code === undefined ? "" : ` (${code})`}${detail}${hint}`
  }
}

// @effect/sql's own wrappers say nothing about the cause.
const generic = /^(Failed to acquire a connection|Timed out acquiring a connection|Failed to execute statement)/

/** The failure one error object describes by itself, if it describes one. */
const describe = (record: Record<string, unknown>): Diagnosis | undefined => {
  // A failure already diagnosed (a ConnectionFailed inside another error) keeps its verdict.
  if (record._tag === "ConnectionFailed" && typeof record.problem === "string") {
    const text = typeof record.detail === "string" ? record.detail : record.problem
    const code = typeof record.code === "string" ? record.code : undefined
    return { problem: record.problem as NodeProblem, ...(code === undefined ? {} : { code }), text }
  }
  if (record._tag === "TimeoutException") return make("timeout", "no answer", undefined, undefined)
  const code = typeof record.code === "string" ? record.code : undefined
  const message = typeof record.message === "string" && record.message.length > 0 ? record.message : undefined
  // PostgreSQL refuses a login without the client certificate its pg_hba `cert` rule asks for as 28000.
  if (code === "28000" && message !== undefined && /certificate/i.test(message)) {
    return make("tls", TLS.clientRefused, code, message)
  }
  const recovered = code === "HANDSHAKE_SSL_ERROR" && message !== undefined
    ? tlsMessages.find(([pattern]) => pattern.test(message))?.[1]
    : undefined
  const known = codes[recovered ?? code ?? ""]
  if (known !== undefined) return make(known[0], known[1], recovered ?? code, message)
  if (code !== undefined && (code.startsWith("ERR_TLS_") || code.startsWith("ERR_SSL_"))) {
    return make("tls", TLS.other, code, message)
  }
  if (typeof record.errno === "number" && authenticationErrnos.has(record.errno)) {
    return make("authentication", "authentication failed", code ?? String(record.errno), message)
  }
  // Messages are read only from drivers' plain errors: a tagged error's message is derived from its fields.
  if (message !== undefined && record._tag === undefined && !generic.test(message)) {
    for (const [pattern, problem, label] of messages) {
      if (pattern.test(message)) return make(problem, label, code, message)
    }
  }
  // SQLSTATE class 08: a connection exception.
  if (code !== undefined && /^08[0-9A-Z]{3}$/.test(code)) return make("closed", "connection failure", code, message)
  return code === undefined ? undefined : make("other", message ?? "connection failed", code, undefined)
}

/** Reads a cause chain (SqlError.cause, Error.cause, AggregateError.errors) and says what went wrong. */
export const diagnose = (cause: unknown): Diagnosis => {
  const seen = new Set<unknown>()
  let best: Diagnosis | undefined
  // A code nobody here knows ("other") counts only when nothing more telling turns up.
  let other: Diagnosis | undefined
  // The innermost message that says something: the driver's own, under @effect/sql's fixed wrappers.
  let innermost: string | undefined
  const visit = (u: unknown, depth: number): void => {
    const record = asRecord(u)
    if (record === undefined || seen.has(u) || depth > 8) return
    seen.add(u)
    const found = describe(record)
    if (found !== undefined) {
      if (found.problem !== "other") {
        best = found
        return
      }
      other ??= found
    }
    if (typeof record.message === "string" && record.message.length > 0 && !generic.test(record.message)) {
      innermost = record.message
    }
    if (best === undefined) visit(record.cause, depth + 1)
    if (Array.isArray(record.errors)) {
      for (const inner of record.errors) if (best === undefined) visit(inner, depth + 1)
    }
  }
  visit(cause, 0)
  return best ?? other ??
    { problem: "other", text: innermost ?? (typeof cause === "string" ? cause : "connection failed") }
}
