/**
 * Where FastORM's PostgreSQL session settings travel (README, "Behind a connection pooler"). On a direct connection
 * they are startup parameters: no round trip, and they hold on every connection the pool opens. A pooler such as
 * PgBouncer refuses the ones it does not know ("unsupported startup parameter"), and under transaction pooling a
 * session-level `SET` would leak to whichever client gets the server connection next. So behind a pooler only
 * `application_name` (which PgBouncer forwards) stays in the startup packet; the statement bound is kept by the
 * client-side deadline, and FastORM's own transactions get the three timeouts as `SET LOCAL` right after `BEGIN`
 * (`openingStatements`), which end with the transaction whatever server connection ran it.
 */
import * as Duration from "effect/Duration"
import type { PostgresOptimalConfig } from "../OptimalConfig.js"
import * as ServerSettings from "./serverSettings.js"

/** The startup parameters of one connection, as pg's client configuration names them. */
export interface StartupParameters {
  readonly application_name: string
  readonly statement_timeout?: number
  readonly lock_timeout?: number
  readonly idle_in_transaction_session_timeout?: number
  readonly options?: string
}

const millis = (d: Duration.Duration): number => Math.round(Duration.toMillis(d))

/** The `-c name=value` startup options that carry FastORM's other session settings. */
export const startupOptions = (config: PostgresOptimalConfig, readOnly: boolean): string => {
  const options = [`-c jit=${config.jit ? "on" : "off"}`]
  // A guard rail only: a replica refuses writes anyway, and least privilege comes from a read-only user.
  if (readOnly) options.push("-c default_transaction_read_only=on")
  // Checked to hold no space or backslash (`OptimalConfig.check`), the two characters an option would need escaped.
  if (config.searchPath !== undefined) options.push(`-c search_path=${searchPathOption(config.searchPath)}`)
  options.push(...ServerSettings.startupOptions(config.serverSettings))
  return options.join(" ")
}

/** A search path as one startup option's value: its names without the spaces `SET` allows between them. */
export const searchPathOption = (searchPath: string): string =>
  searchPath.split(",").map((name) => name.trim()).join(",")

/**
 * Why a connection cannot go on without its startup parameters behind a pooler, if it cannot: a search path read
 * nowhere else would leave its statements on the role's own schemas, and server settings would silently not hold.
 */
export const poolerRefusal = (config: PostgresOptimalConfig): string | undefined => {
  if (config.searchPath !== undefined) {
    return "unsupported startup parameter: search_path (searchPath cannot travel through a connection pooler, which " +
      "would leave statements on other schemas: set it for the role instead, ALTER ROLE app SET search_path = ...)"
  }
  const first = ServerSettings.entries(config.serverSettings)[0]?.[0]
  return first === undefined
    ? undefined
    : `unsupported startup parameter: ${first} (serverSettings cannot travel through a connection pooler, whose ` +
      `server connections would not keep them: set them for the role instead, ALTER ROLE app SET ${first} = ...)`
}

/** The startup parameters of a connection: all of them direct, only `application_name` behind a pooler. */
export const startupParameters = (
  config: PostgresOptimalConfig,
  readOnly: boolean,
  behindPooler: boolean
): StartupParameters =>
  behindPooler
    ? { application_name: config.applicationName }
    : {
      statement_timeout: millis(config.statementTimeout),
      lock_timeout: millis(config.lockTimeout),
      idle_in_transaction_session_timeout: millis(config.idleInTransactionTimeout),
      application_name: config.applicationName,
      options: startupOptions(config, readOnly)
    }

/** The statement bounds of one transaction as `SET LOCAL`, for a session that could not take them at startup. */
const statementBounds = (config: PostgresOptimalConfig): ReadonlyArray<string> => [
  `SET LOCAL statement_timeout = ${millis(config.statementTimeout)}`,
  `SET LOCAL lock_timeout = ${millis(config.lockTimeout)}`
]

/** The timeouts of one transaction as `SET LOCAL` statements, for a session that could not take them at startup. */
export const transactionSettings = (config: PostgresOptimalConfig): ReadonlyArray<string> => [
  ...statementBounds(config),
  `SET LOCAL idle_in_transaction_session_timeout = ${millis(config.idleInTransactionTimeout)}`
]

/**
 * What opens a write's transaction of its own in a batch behind a pooler (`pgBatchedWrite.ts`): BEGIN and the statement
 * bounds, so the server ends a slow write itself and the writes behind it in the batch are sent again, not lost with a
 * cut connection. Its statements go together, with no idle time in between to bound.
 */
export const writeOpening = (config: PostgresOptimalConfig): ReadonlyArray<string> => [
  "BEGIN",
  ...statementBounds(config)
]

/**
 * The statements that open a transaction, one SQL statement each: `begin` itself, and behind a pooler the
 * transaction's timeouts (`transactionSettings`, made once per node) after it, which end with the transaction
 * whichever server connection ran it. They travel together, in front of the first statement or as one simple query
 * (`pgBegin.ts`).
 */
export const openingStatements = (
  begin: string,
  settings: ReadonlyArray<string>,
  behindPooler: boolean
): ReadonlyArray<string> => behindPooler ? [begin.trim().replace(/;$/, ""), ...settings] : [begin]
