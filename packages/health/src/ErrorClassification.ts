/**
 * Sorting database errors into the classes that matter for health and routing (ARCHITECTURE.md, "Errors"): a
 * connection-class error says the node (or the path to it) is broken, an authentication failure says our
 * credentials are, and anything else is an ordinary statement error that says nothing about the node.
 *
 * `SqlError.message` is a fixed string in @effect/sql, so the classifier looks at the driver error underneath: it
 * walks `cause` chains (SqlError, ConnectionFailed, Error.cause) and `AggregateError.errors` (pg tries every address
 * of a host name and reports them together) and decides on `code` / `errno` / `sqlState`, falling back to pg-pool's
 * few code-less messages.
 */

import { AdapterError } from "@fastorm/adapters"

/** The class of an error: `Connection` and `Authentication` concern the node, `Statement` only the statement. */
export type ErrorClass = "Connection" | "Authentication" | "Statement"

/** The verdict on one error: its class and the driver code it was decided on, when there was one. */
export interface Classification {
  readonly _tag: ErrorClass
  /** The driver / system code the verdict rests on (e.g. "ECONNREFUSED", "57P01", "ER_ACCESS_DENIED_ERROR"). */
  readonly code?: string | undefined
}

/** Node.js system error codes of a connection that could not be made or was lost. */
export const connectionCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  // mysql2
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR",
  "PROTOCOL_ENQUEUE_AFTER_QUIT",
  "ER_SERVER_SHUTDOWN",
  "ER_CON_COUNT_ERROR",
  "ER_CONNECTION_KILLED",
  // SQLite: a file that cannot be opened or read is a node that cannot serve.
  "SQLITE_CANTOPEN",
  "SQLITE_NOTADB",
  "SQLITE_CORRUPT",
  "SQLITE_IOERR"
])

/** PostgreSQL SQLSTATEs of a dead or dying session besides class 08: admin / crash / cannot-connect-now shutdown. */
export const pgConnectionStates: ReadonlySet<string> = new Set(["57P01", "57P02", "57P03", "53300"])

/** PostgreSQL SQLSTATEs of a refused login: invalid_password, invalid_authorization_specification. */
export const pgAuthenticationStates: ReadonlySet<string> = new Set(["28P01", "28000"])

/** mysql2 codes of a refused login (1045 access denied; 1044 no access to the database; 1698 plugin refused). */
export const mysqlAuthenticationCodes: ReadonlySet<string> = new Set([
  "ER_ACCESS_DENIED_ERROR",
  "ER_DBACCESS_DENIED_ERROR",
  "ER_ACCESS_DENIED_NO_PASSWORD_ERROR"
])

const mysqlAuthenticationErrnos: ReadonlySet<number> = new Set([1044, 1045, 1698])

// pg and pg-pool raise a few connection failures as plain Errors without a code.
const connectionMessages: ReadonlyArray<RegExp> = [
  /timeout exceeded when trying to connect/i,
  /Connection terminated unexpectedly/i,
  /Connection terminated due to connection timeout/i,
  /Connection terminated/i,
  /Client has encountered a connection error and is not queryable/i,
  /Client was closed and is not queryable/i
]

// Tags of typed errors that are connection-class whatever they wrap: our own and the adapters'.
const connectionTags: ReadonlySet<string> = new Set(["ConnectionFailed", "TimeoutException", "ProbeTimeout"])

const asRecord = (u: unknown): Record<string, unknown> | undefined =>
  typeof u === "object" && u !== null ? (u as Record<string, unknown>) : undefined

const classifyOne = (error: Record<string, unknown>): Classification | undefined => {
  const code = typeof error.code === "string" ? error.code : undefined
  const errno = typeof error.errno === "number" ? error.errno : undefined
  if (code !== undefined) {
    if (pgAuthenticationStates.has(code) || mysqlAuthenticationCodes.has(code)) {
      return { _tag: "Authentication", code }
    }
    if (connectionCodes.has(code) || code.startsWith("SQLITE_IOERR") || code.startsWith("SQLITE_CANTOPEN")) {
      return { _tag: "Connection", code }
    }
    // SQLSTATE class 08: connection exception (a five-character code whose class is "08").
    if (/^[0-9A-Z]{5}$/.test(code) && (code.startsWith("08") || pgConnectionStates.has(code))) {
      return { _tag: "Connection", code }
    }
  }
  if (errno !== undefined && mysqlAuthenticationErrnos.has(errno)) {
    return { _tag: "Authentication", code: code ?? String(errno) }
  }
  const sqlState = typeof error.sqlState === "string" ? error.sqlState : undefined
  if (sqlState !== undefined && sqlState.startsWith("08")) return { _tag: "Connection", code: code ?? sqlState }
  return undefined
}

/**
 * Classifies an error of any origin: an @effect/sql `SqlError`, an adapters `ConnectionFailed`, a raw pg / mysql2 /
 * better-sqlite3 error, a Node system error, or an Effect `TimeoutException`. Unknown shapes are `Statement`.
 */
export const classify = (error: unknown): Classification => {
  const seen = new Set<unknown>()
  let fallback: Classification | undefined
  const visit = (u: unknown, depth: number): Classification | undefined => {
    const record = asRecord(u)
    if (record === undefined || seen.has(u) || depth > 8) return undefined
    seen.add(u)
    const direct = classifyOne(record)
    // An authentication verdict anywhere wins; a connection verdict is kept while looking deeper for one.
    if (direct?._tag === "Authentication") return direct
    if (direct !== undefined) fallback ??= direct
    const nested = [
      record.cause,
      ...(Array.isArray(record.errors) ? record.errors : [])
    ]
    for (const inner of nested) {
      const found = visit(inner, depth + 1)
      if (found !== undefined) return found
    }
    if (direct === undefined && fallback === undefined) {
      if (typeof record._tag === "string" && connectionTags.has(record._tag)) fallback = { _tag: "Connection" }
      else if (
        typeof record.message === "string" && connectionMessages.some((re) => re.test(record.message as string))
      ) {
        fallback = { _tag: "Connection" }
      }
    }
    return undefined
  }
  return visit(error, 0) ?? fallback ?? tlsVerdict(error) ?? { _tag: "Statement" }
}

// A TLS failure (untrusted or mismatched certificate, no TLS on the server) leaves the node unusable as configured:
// connection-class. The adapters' diagnosis is the one place that knows the TLS codes and messages.
const tlsVerdict = (error: unknown): Classification | undefined => {
  const diagnosis = AdapterError.diagnose(error)
  return diagnosis.problem === "tls" ? { _tag: "Connection", code: diagnosis.code } : undefined
}

/** True if the error says the node or the path to it is broken (counts against the node's health). */
export const isConnectionError = (error: unknown): boolean => classify(error)._tag === "Connection"

/** True if the error is a refused login: wrong password, unknown user, or no access to the database. */
export const isAuthenticationError = (error: unknown): boolean => classify(error)._tag === "Authentication"
