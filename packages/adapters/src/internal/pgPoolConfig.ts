/**
 * How one PostgreSQL node's pg pool is configured: where the node is, its bounds and timeouts, and the session
 * settings its startup packet carries (`pgSession.ts`); and the client-side deadline of each statement.
 */
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import type Pg from "pg"
import type { PostgresOptimalConfig } from "../OptimalConfig.js"
import { poolBounds } from "../OptimalConfig.js"
import { startupParameters } from "./pgSession.js"
import type { PgTlsOptions } from "./pgTls.js"

/** Where one PostgreSQL node is and how to log in. */
export interface PgEndpoint {
  readonly host: string
  readonly port: number
  readonly database?: string | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  /** The node's TLS, as the health probe applies it too (`pgTls.ts`). */
  readonly tls: PgTlsOptions
}

/** Options of one node's client. */
export interface PgNodeOptions {
  readonly alias: string
  readonly readOnly: boolean
  readonly spanAttributes?: Record<string, unknown> | undefined
}

/** The pg pool configuration for one node; behind a pooler that refused them, without FastORM's startup settings. */
export const poolConfig = (
  endpoint: PgEndpoint,
  config: PostgresOptimalConfig,
  options: PgNodeOptions,
  behindPooler = false
): Pg.PoolConfig => {
  const bounds = poolBounds(config)
  return {
    host: endpoint.host,
    port: endpoint.port,
    ...(endpoint.database !== undefined ? { database: endpoint.database } : {}),
    ...(endpoint.username !== undefined ? { user: endpoint.username } : {}),
    ...(endpoint.password !== undefined ? { password: Redacted.value(endpoint.password) } : {}),
    ssl: endpoint.tls.ssl,
    ...(endpoint.tls.stream === undefined ? {} : { stream: endpoint.tls.stream }),
    ...(endpoint.tls.sslnegotiation === undefined ? {} : { sslnegotiation: endpoint.tls.sslnegotiation }),
    min: bounds.min,
    max: bounds.max,
    idleTimeoutMillis: Duration.toMillis(config.idleTimeout),
    // pg-pool closes an expired idle client at once and a busy one when it is released; 0 turns it off.
    maxLifetimeSeconds: Duration.toSeconds(config.maxLifetime),
    // pg-pool applies this bound both to opening a connection and to waiting in its queue for a free one.
    connectionTimeoutMillis: Math.max(1, Math.round(Duration.toMillis(config.connectTimeout))),
    ...startupParameters(config, options.readOnly, behindPooler),
    keepAlive: config.keepAlive,
    keepAliveInitialDelayMillis: Math.round(Duration.toMillis(config.keepAliveInitialDelay))
  }
}

/** The client-side deadline of one statement: the server's own `statement_timeout` should answer first. */
export const clientDeadlineMs = (config: PostgresOptimalConfig): number =>
  Math.round(Duration.toMillis(config.statementTimeout)) + 100
