/**
 * Probes: one check of one node, reading its role and replication state in the same round trip.
 *
 * The monitor asks a `ProbeFactory` for one `NodeProbe` per node when it starts. The default factory, `fromAdapter`,
 * gives each node a dedicated raw driver connection of its own (pg `Client`, mysql2 `Connection`, better-sqlite3 file
 * handle) rather than an @effect/sql client: a probe then never waits in the application's pool (an exhausted pool is
 * not a dead server), never runs inside a caller's transaction (it has no `SqlClient` at all), and can be cut off
 * synchronously on timeout. @effect/sql-pg answers an interruption by running `pg_cancel_backend` through the same
 * pool, which on a one-connection pool waits for the very connection it wants to cancel; destroying our own socket
 * is immediate, and the server ends the backend as soon as it notices.
 */
import type { DatabaseAdapter } from "@fastorm/adapters"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import { orMissingDriver } from "./internal/drivers.js"
import * as MysqlProbe from "./internal/mysqlProbe.js"
import * as PgProbe from "./internal/pgProbe.js"
import { ProbeError } from "./internal/probeError.js"
import * as SqliteProbe from "./internal/sqliteProbe.js"
import type { ConfiguredRole, Role } from "./NodeHealth.js"

export { ProbeError }

/** One node as the monitor is configured with it. */
export interface NodeConfig {
  /** The node's name in snapshots, changes, metrics and logs; never a URL. */
  readonly name: string
  /** The role the node is meant to play, or `any`: learnt from the server. */
  readonly role: ConfiguredRole
  /** The node's adapter: the default probe connects with its URL and credentials. Optional with a custom probe. */
  readonly adapter?: DatabaseAdapter.DatabaseAdapter | undefined
}

/** What a successful probe learnt about the node. */
export interface ProbeResult {
  /** The role the node plays right now: PostgreSQL `pg_is_in_recovery()`, MariaDB `@@read_only`. */
  readonly role: Role
  /** For a replica: whether it is receiving and applying changes (false: stopped or broken). */
  readonly replicating?: boolean | undefined
  /** Replication lag in seconds; 0 on a primary; undefined when unknown. */
  readonly lagSeconds?: number | undefined
  /** Log position: PostgreSQL LSN (replay on a replica, current on a primary), MariaDB GTID position. */
  readonly position?: string | undefined
  /** PostgreSQL primary: its timeline. */
  readonly timeline?: number | undefined
  /** MariaDB / MySQL: `@@server_id`. */
  readonly serverId?: number | undefined
  /** MariaDB / MySQL replica: `Master_Server_Id`, when the user may run SHOW SLAVE STATUS. */
  readonly sourceServerId?: number | undefined
}

/** The check of one node. Interrupting `run` must release whatever it holds (the monitor's timeout interrupts it). */
export interface NodeProbe {
  readonly run: Effect.Effect<ProbeResult, ProbeError>
}

/** Settings the monitor hands every probe it makes. */
export interface ProbeSettings {
  /** The monitor's probe timeout; the drivers' own connect and statement bounds are set above it, as a second line. */
  readonly timeout: Duration.Duration
  /** PostgreSQL `application_name` of the probe sessions, so they can be told apart in `pg_stat_activity`. */
  readonly applicationName: string
  /**
   * A probe connection older than this is closed before the next probe and opened afresh, like the node's pooled
   * connections (the adapter's `maxLifetime`); zero or absent keeps it.
   */
  readonly maxLifetime?: Duration.Duration | undefined
}

/** Makes the probe of one node, for the monitor's lifetime (its scope). */
export type ProbeFactory = (
  node: NodeConfig,
  settings: ProbeSettings
) => Effect.Effect<NodeProbe, never, Scope.Scope>

/** The default probe: a dedicated driver connection per node, chosen by the node adapter's dialect. */
export const fromAdapter: ProbeFactory = (node, settings) => {
  const adapter = node.adapter
  if (adapter === undefined) {
    return Effect.succeed<NodeProbe>({
      run: Effect.fail(
        new ProbeError({ node: node.name, reason: "Statement", detail: "the node has no adapter to probe it with" })
      )
    })
  }
  // The probe connects with the pools' TLS; an adapter made with unusable TLS files cannot be probed.
  if (Either.isLeft(adapter.tls)) {
    const detail = adapter.tls.left.message
    return Effect.succeed<NodeProbe>({
      run: Effect.fail(new ProbeError({ node: node.name, reason: "Connection", detail }))
    })
  }
  const tls = adapter.tls.right
  const config = adapter.optimalConfig
  const withLifetime: ProbeSettings = "maxLifetime" in config
    ? { ...settings, maxLifetime: config.maxLifetime }
    : settings
  switch (adapter.dialect) {
    case "postgresql":
      return orMissingDriver(node.name)(PgProbe.make(node.name, adapter.url, withLifetime, tls))
    case "mysql":
      return orMissingDriver(node.name)(MysqlProbe.make(node.name, adapter.url, withLifetime, tls))
    case "sqlite":
      return orMissingDriver(node.name)(SqliteProbe.make(node.name, node.role, adapter.url))
  }
}
