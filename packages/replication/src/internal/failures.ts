/**
 * What a failed statement says about where it failed: the node (connection-class, refused login), the pool (every
 * connection busy), the statement itself, or a replica's read-only refusal. Pure predicates over the driver error
 * under a `SqlError` (ARCHITECTURE.md, "Errors").
 */
import { SqlError } from "@effect/sql/SqlError"
import { AdapterError, PostgreSQLAdapter } from "@fastorm/adapters"
import { ErrorClassification } from "@fastorm/health"
import * as Duration from "effect/Duration"

/** The error a statement or a connect gets when a bound of the router passes (connection-class: ETIMEDOUT). */
export const timeoutError = (node: string, what: string, d: Duration.Duration): SqlError =>
  new SqlError({
    message: `${what} on "${node}" took longer than ${Duration.format(d)}`,
    cause: AdapterError.noAnswer(`${what} timed out`)
  })

/** The connection or the path to the node broke (refused, reset, lost, timed out). */
export const isConnectionClass = (error: SqlError): boolean =>
  ErrorClassification.isConnectionError(error.cause ?? error)

/** The node refused the login: nothing was sent, and another node may well accept it. */
export const isAuthentication = (error: SqlError): boolean =>
  ErrorClassification.isAuthenticationError(error.cause ?? error)

/** Connection-class or authentication: the node, not the statement, is at fault; another node may serve it. */
export const isNodeFault = (error: SqlError): boolean => isConnectionClass(error) || isAuthentication(error)

/** The pooler in front of the node had no connection free: nothing ran, the node is fine, another may serve. */
export const isBusy = (error: SqlError): boolean => ErrorClassification.isBusyError(error.cause ?? error)

/** What a pooler in front of the node answered, e.g. "no more connections allowed (max_client_conn)". */
export const poolerText = (error: SqlError): string | undefined => PostgreSQLAdapter.poolerAnswer(error)?.text

/**
 * The statement never left this process: the socket was already dead when it was written to (EPIPE, or a reset
 * reported by the write itself), or the driver refused to use a closed connection; or it never reached a server: a
 * pooler in front of the node refused it with an answer of its own (no connection free, server unreachable). Such a
 * write was not applied.
 */
export const wasNotSent = (error: unknown): boolean => {
  if (PostgreSQLAdapter.poolerAnswer(error) !== undefined) return true
  let current: unknown = error
  for (let depth = 0; depth < 6 && current !== null && typeof current === "object"; depth++) {
    const e = current as { code?: unknown; syscall?: unknown; message?: unknown; cause?: unknown }
    if (e.code === "EPIPE" || e.syscall === "write" || e.syscall === "connect") return true
    // A connection that was never handed over (refused TLS, a failed login...) carried no statement.
    if (
      typeof e.message === "string" &&
      /not queryable|connection is in closed state|^Failed to acquire a connection/i.test(e.message)
    ) return true
    current = e.cause
  }
  return false
}

/** Waiting for a pooled connection timed out (pg-pool and FastORM's mysql2 acquire both say so). */
export const isAcquireTimeout = (error: SqlError): boolean => {
  const text = `${String((error.cause as { message?: unknown } | undefined)?.message ?? "")} ${error.message}`
  return /timeout exceeded when trying to connect|Timed out acquiring|Connecting on .* took longer/i.test(text)
}

/** SQLSTATE 25006 / MariaDB 1290, 1792: the node is read-only. A replica said so: the primary will run it. */
export const isReadOnlyRefusal = (error: SqlError): boolean => {
  const cause = error.cause as { code?: unknown; errno?: unknown } | undefined
  return cause?.code === "25006" || cause?.errno === 1290 || cause?.errno === 1792
}
