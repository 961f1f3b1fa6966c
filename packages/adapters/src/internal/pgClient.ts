/**
 * A PostgreSQL `SqlClient` over a pg pool that FastORM configures itself.
 *
 * `PgClient.fromPool` is used rather than `PgClient.make` because `make` runs `SELECT 1` at start: a replica that is
 * down must not fail the layer. Session settings travel in the startup packet (`options=-c ...`), so they cost no
 * round trip and hold on every connection the pool ever opens.
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import Pg from "pg"
import type { NodeClient, PoolStatus } from "../DatabaseAdapter.js"
import type { PostgresOptimalConfig } from "../OptimalConfig.js"
import { poolBounds } from "../OptimalConfig.js"

/** Where one PostgreSQL node is and how to log in. */
export interface PgEndpoint {
  readonly host: string
  readonly port: number
  readonly database?: string | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly ssl?: boolean | { readonly rejectUnauthorized: boolean } | undefined
}

/** Options of one node's client. */
export interface PgNodeOptions {
  readonly alias: string
  readonly readOnly: boolean
  readonly spanAttributes?: Record<string, unknown> | undefined
}

/** The `-c name=value` startup options that carry FastORM's session settings. */
export const startupOptions = (config: PostgresOptimalConfig, readOnly: boolean): string => {
  const options = [`-c jit=${config.jit ? "on" : "off"}`]
  // A guard rail only: a replica refuses writes anyway, and least privilege comes from a read-only user.
  if (readOnly) options.push("-c default_transaction_read_only=on")
  return options.join(" ")
}

/** The pg pool configuration for one node. */
export const poolConfig = (
  endpoint: PgEndpoint,
  config: PostgresOptimalConfig,
  options: PgNodeOptions
): Pg.PoolConfig => {
  const bounds = poolBounds(config)
  return {
    host: endpoint.host,
    port: endpoint.port,
    ...(endpoint.database !== undefined ? { database: endpoint.database } : {}),
    ...(endpoint.username !== undefined ? { user: endpoint.username } : {}),
    ...(endpoint.password !== undefined ? { password: Redacted.value(endpoint.password) } : {}),
    ...(endpoint.ssl !== undefined ? { ssl: endpoint.ssl } : {}),
    min: bounds.min,
    max: bounds.max,
    idleTimeoutMillis: Duration.toMillis(config.idleTimeout),
    // pg-pool applies this bound both to opening a connection and to waiting in its queue for a free one.
    connectionTimeoutMillis: Math.max(1, Math.round(Duration.toMillis(config.connectTimeout))),
    statement_timeout: Math.round(Duration.toMillis(config.statementTimeout)),
    lock_timeout: Math.round(Duration.toMillis(config.lockTimeout)),
    idle_in_transaction_session_timeout: Math.round(Duration.toMillis(config.idleInTransactionTimeout)),
    application_name: config.applicationName,
    keepAlive: config.keepAlive,
    options: startupOptions(config, options.readOnly)
  }
}

/** Builds the client; no connection is opened until the first statement. */
export const make = (
  endpoint: PgEndpoint,
  config: PostgresOptimalConfig,
  options: PgNodeOptions
): Effect.Effect<PgClient.PgClient & NodeClient, SqlError, Scope.Scope | Reactivity> => {
  let pool: Pg.Pool | undefined
  return PgClient.fromPool({
    acquire: Effect.acquireRelease(
      Effect.sync(() => {
        pool = new Pg.Pool(poolConfig(endpoint, config, options))
        // An idle pooled connection that the server drops emits "error" on the pool; unhandled, it kills the process.
        pool.on("error", () => {})
        return pool
      }),
      (pool) => Effect.promise(() => pool.end()).pipe(Effect.timeoutOption(Duration.seconds(2)), Effect.asVoid)
    ),
    applicationName: config.applicationName,
    spanAttributes: { ...options.spanAttributes, "fastorm.node": options.alias }
  }).pipe(Effect.map((client) =>
    Object.assign(client, {
      poolStatus: (): PoolStatus => ({
        open: pool?.totalCount ?? 0,
        idle: pool?.idleCount ?? 0,
        waiting: pool?.waitingCount ?? 0,
        max: poolBounds(config).max
      })
    })
  ))
}
