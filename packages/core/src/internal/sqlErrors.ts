import type { SqlError } from "@effect/sql/SqlError"

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "57P01",
  "57P02",
  "57P03"
])

const CONNECTION_MESSAGES = [
  "timeout exceeded when trying to connect",
  "Connection terminated unexpectedly",
  "Connection terminated",
  "Client has encountered a connection error and is not queryable",
  "Can't add new command when connection is in closed state"
]

const causes = function*(error: unknown): Generator<any> {
  let current: unknown = error
  for (let i = 0; i < 8 && typeof current === "object" && current !== null; i++) {
    yield current
    current = (current as { cause?: unknown }).cause
  }
}

/**
 * Whether a SqlError came from a lost or unusable connection rather than from the server refusing the statement
 * (SqlError.message is a fixed string, so the driver's cause decides).
 * @internal
 */
export const isConnectionError = (error: SqlError): boolean => {
  for (const c of causes(error.cause)) {
    const code = c.code
    if (typeof code === "string" && (CONNECTION_CODES.has(code) || /^08/.test(code))) return true
    // mysql2 marks errors after which the connection is unusable.
    if (c.fatal === true) return true
    const message = c.message
    if (typeof message === "string" && CONNECTION_MESSAGES.some((m) => message.includes(m))) return true
  }
  return false
}

/**
 * Whether the server itself answered with an error (pg SQLSTATE, mysql errno, SQLITE_ code), which means the
 * statement definitely did not take effect.
 * @internal
 */
export const isServerAnswer = (error: SqlError): boolean => {
  if (isConnectionError(error)) return false
  for (const c of causes(error.cause)) {
    if (typeof c.code === "string" && /^(SQLITE_|[0-9A-Z]{5}$|ER_)/.test(c.code)) return true
    if (typeof c.errno === "number" && typeof c.sqlState === "string") return true
  }
  return false
}
