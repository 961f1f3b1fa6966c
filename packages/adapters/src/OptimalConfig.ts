/**
 * Per-dialect connection settings that FastORM applies by default, and the rules for overriding them.
 *
 * Pool sizing follows the SQLAlchemy vocabulary (`poolSize` kept warm plus `maxOverflow` opened on demand), mapped
 * onto the Node pools: the pool may open `poolSize + maxOverflow` connections; idle connections above `poolSize`
 * are closed after `idleTimeout`, the first `poolSize` are kept (pg-pool `min`, mysql2 `maxIdle`).
 */
import * as Duration from "effect/Duration"
import type { Dialect } from "./Dialect.js"
import * as Overrides from "./internal/overrides.js"
import * as ServerSettings from "./internal/serverSettings.js"

/** Settings applied to every PostgreSQL connection. */
export interface PostgresOptimalConfig {
  readonly dialect: "postgresql"
  /** Connections kept open once created (pg-pool `min`). */
  readonly poolSize: number
  /** Extra connections opened under load and closed when idle (pg-pool `max` = poolSize + maxOverflow). */
  readonly maxOverflow: number
  /** How long an overflow connection may sit idle before it is closed. */
  readonly idleTimeout: Duration.Duration
  /**
   * Connections older than this are closed when released (or while idle) and replaced on demand, so a DNS change or
   * a load balancer's new target is followed (pg-pool `maxLifetimeSeconds`); zero keeps them for ever.
   */
  readonly maxLifetime: Duration.Duration
  /** Bound on opening a connection and on waiting for a free one (pg-pool `connectionTimeoutMillis`). */
  readonly connectTimeout: Duration.Duration
  /** Server-side `statement_timeout` of every session. */
  readonly statementTimeout: Duration.Duration
  /** Server-side `lock_timeout`: a statement waiting on a row lock gives up after this. */
  readonly lockTimeout: Duration.Duration
  /** Server-side `idle_in_transaction_session_timeout`: a leaked transaction cannot hold locks forever. */
  readonly idleInTransactionTimeout: Duration.Duration
  /** `jit`: JIT compilation costs more than it saves on short OLTP queries, so it is off. */
  readonly jit: boolean
  /** `application_name`, visible in `pg_stat_activity`. */
  readonly applicationName: string
  /**
   * `search_path` of every session (`app, public`), sent as a startup option; undefined keeps the role's or database's
   * own. Behind a pooler it cannot travel, and the node refuses to connect rather than read another schema.
   */
  readonly searchPath: string | undefined
  /** TCP keep-alive, so a half-open connection to a vanished host is noticed. */
  readonly keepAlive: boolean
  /** Idle time before the first keep-alive probe (pg `keepAliveInitialDelayMillis`); zero: the system's default. */
  readonly keepAliveInitialDelay: Duration.Duration
  /**
   * Run compiled statements (repositories' hot reads) as named prepared statements, parsed once per connection.
   * `"auto"` (the default) stops on a node at the first sign that its server connections are shared (a pooler such
   * as PgBouncer before 1.21 in transaction mode: 42P05 / 26000); `true` always prepares, `false` never does.
   */
  readonly preparedStatements: boolean | "auto"
  /**
   * Pipelined connections beside the pool (2 by default; 0: none): statements outside transactions from many callers
   * share them, sent without waiting for each other's answers, and the pool takes what they cannot (a lane busy or
   * held up, one opening). Fewer round trips and wake-ups per statement; a slow statement can hold up the few behind it
   * on its lane (README, "Pipelined connections").
   */
  readonly pipelinedConnections: number
  /**
   * Other server settings of every session by the server's names (`{ work_mem: "64MB" }`, in lower case once
   * merged), sent as startup options; the ones FastORM sets itself are refused. Behind a pooler they cannot travel:
   * the node refuses to connect.
   */
  readonly serverSettings: Readonly<Record<string, string>>
}

/** Settings applied to every MySQL / MariaDB connection. */
export interface MysqlOptimalConfig {
  readonly dialect: "mysql"
  /** Connections kept open once created (mysql2 `maxIdle`). */
  readonly poolSize: number
  /** Extra connections opened under load (mysql2 `connectionLimit` = poolSize + maxOverflow). */
  readonly maxOverflow: number
  /** How long an idle connection above `poolSize` is kept (mysql2 `idleTimeout`). */
  readonly idleTimeout: Duration.Duration
  /** Connections older than this are closed when released (or while idle) and replaced; zero keeps them for ever. */
  readonly maxLifetime: Duration.Duration
  /** Bound on the TCP connect and handshake (mysql2 `connectTimeout`) and on waiting for a pooled connection. */
  readonly connectTimeout: Duration.Duration
  /** Server-side `net_read_timeout`. */
  readonly readTimeout: Duration.Duration
  /** Server-side `net_write_timeout`. */
  readonly writeTimeout: Duration.Duration
  /** Server-side statement bound: MariaDB `max_statement_time`, MySQL `max_execution_time` (SELECT only). */
  readonly statementTimeout: Duration.Duration
  /** Connection character set: utf8mb4 stores all of Unicode, MySQL's `utf8` does not. */
  readonly charset: "utf8mb4"
  /** Connection collation. */
  readonly collation: string
  /**
   * How DATETIME and TIMESTAMP values map to JavaScript dates (mysql2 `timezone`): `"local"`, the process's zone
   * (mysql2's default, the server session's zone untouched), or `"Z"` / `"+HH:MM"`, which the session's `time_zone`
   * is set to as well, so TIMESTAMP columns and `NOW()` agree with the dates the client reads and writes.
   */
  readonly timezone: string
  /** TCP keep-alive. */
  readonly keepAlive: boolean
  /** Idle time before the first keep-alive probe (mysql2 `keepAliveInitialDelay`); zero: the system's default. */
  readonly keepAliveInitialDelay: Duration.Duration
  /**
   * Pipelined connections (2 by default; 0: none): connections of the pool held while the load asks, on which
   * statements outside transactions from many callers go out without waiting for each other's answers; the pool takes
   * what they cannot (a lane busy or held up, one being borrowed). Fewer round trips and wake-ups per statement; a slow
   * statement can hold up the few behind it on its lane (README, "Pipelined connections").
   */
  readonly pipelinedConnections: number
  /**
   * Other session variables of every connection by the server's names (`{ sql_mode: "TRADITIONAL" }`, in lower case
   * once merged), set by one `SET SESSION` when it opens; the ones FastORM sets itself are refused.
   */
  readonly serverSettings: Readonly<Record<string, string>>
}

/** Settings applied to every SQLite connection. */
export interface SqliteOptimalConfig {
  readonly dialect: "sqlite"
  /** SQLite allows one writer at a time: the writer client holds one connection. */
  readonly maxWriters: 1
  /** `journal_mode`: WAL lets readers run while the writer writes. */
  readonly journalMode: "wal" | "delete" | "truncate" | "persist" | "memory" | "off"
  /** `synchronous`: NORMAL is durable across application crashes in WAL mode and much faster than FULL. */
  readonly synchronous: "off" | "normal" | "full" | "extra"
  /** Page cache in KiB (`cache_size = -N`). */
  readonly cacheSizeKiB: number
  /** `foreign_keys`: off by default in SQLite, which surprises everyone. */
  readonly foreignKeys: boolean
  /** `busy_timeout`: how long a statement waits for a lock held by another connection. */
  readonly busyTimeout: Duration.Duration
  /** Threads of a read-only client that run its slow reads off the event loop, each with its own connection. */
  readonly readerThreads: number
  /**
   * How the file is opened (SQLite URI `mode`): `"rwc"` creates it if missing; `"rw"` needs it to exist (a mistyped
   * path fails instead of starting an empty database); `"ro"` opens every connection read-only (writes fail with
   * SQLITE_READONLY), for a database the application must not change.
   */
  readonly openMode: "rwc" | "rw" | "ro"
}

/** The optimal configuration of one dialect. */
export type OptimalConfig = PostgresOptimalConfig | MysqlOptimalConfig | SqliteOptimalConfig

/**
 * User overrides of an optimal configuration: every field optional, durations in any Effect form. Of the union
 * `OptimalConfig` it is the union of the dialects' overrides: a key of no dialect does not compile, and a key of
 * another dialect than the URL's is refused at run time (`check`).
 */
export type ConfigOverrides<C extends OptimalConfig> = C extends OptimalConfig ? {
    readonly [K in Exclude<keyof C, "dialect">]?:
      | (C[K] extends Duration.Duration ? Duration.DurationInput : C[K])
      | undefined
  }
  : never

/** The PostgreSQL defaults. */
export const postgres: PostgresOptimalConfig = {
  dialect: "postgresql",
  poolSize: 10,
  maxOverflow: 20,
  idleTimeout: Duration.seconds(30),
  maxLifetime: Duration.minutes(30),
  connectTimeout: Duration.seconds(10),
  statementTimeout: Duration.seconds(30),
  lockTimeout: Duration.seconds(10),
  idleInTransactionTimeout: Duration.seconds(60),
  jit: false,
  applicationName: "fastorm",
  searchPath: undefined,
  keepAlive: true,
  keepAliveInitialDelay: Duration.zero,
  preparedStatements: "auto",
  pipelinedConnections: 2,
  serverSettings: {}
}

/** The MySQL / MariaDB defaults. */
export const mysql: MysqlOptimalConfig = {
  dialect: "mysql",
  poolSize: 8,
  maxOverflow: 16,
  idleTimeout: Duration.seconds(30),
  maxLifetime: Duration.minutes(30),
  connectTimeout: Duration.seconds(10),
  readTimeout: Duration.seconds(30),
  writeTimeout: Duration.seconds(30),
  statementTimeout: Duration.seconds(30),
  charset: "utf8mb4",
  collation: "utf8mb4_unicode_ci",
  timezone: "local",
  keepAlive: true,
  keepAliveInitialDelay: Duration.zero,
  pipelinedConnections: 2,
  serverSettings: {}
}

/** The SQLite defaults. */
export const sqlite: SqliteOptimalConfig = {
  dialect: "sqlite",
  maxWriters: 1,
  journalMode: "wal",
  synchronous: "normal",
  cacheSizeKiB: 64 * 1024,
  foreignKeys: true,
  busyTimeout: Duration.seconds(5),
  readerThreads: 2,
  openMode: "rwc"
}

/** The kind of value a setting takes: a duration, a size (non-negative integer), a flag, a text, one of a list. */
export type SettingKind = Overrides.Kind

/** Every setting of each dialect and the kind of value it takes (what `check` enforces). */
export const settings: { readonly [D in Dialect]: Readonly<Record<string, SettingKind>> } = Overrides.settings

/**
 * Every problem with user overrides for a node of `dialect` (a setting of another dialect or none, a duration that
 * does not parse, a size that is not a non-negative integer, ...); empty when they can be applied.
 */
export const check: (dialect: Dialect, overrides: unknown) => ReadonlyArray<string> = Overrides.check

/**
 * Applies user overrides on top of a configuration; an override always wins, `undefined` keeps the default, and
 * `serverSettings` are merged by name (a URL's `work_mem` and the layer's `random_page_cost` both hold). The
 * overrides must have passed `check` (`DatabaseAdapterFactory.create` checks them).
 */
export const merge = <C extends OptimalConfig>(base: C, overrides?: ConfigOverrides<C> | undefined): C => {
  if (overrides === undefined) return base
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined || key === "dialect") continue
    out[key] = Duration.isDuration(base[key as keyof C])
      ? Duration.decode(value as Duration.DurationInput)
      : key === "serverSettings"
      // Names are case-insensitive: one spelling, so a later source replaces an earlier one's value.
      ? { ...out[key] as object, ...Object.fromEntries(ServerSettings.entries(value as Record<string, string>)) }
      : value
  }
  return out as C
}

/**
 * Whether a connection opened at `openedAt` (epoch milliseconds) has outlived `maxLifetime` at `now`; a zero
 * lifetime never expires. The one rule behind the pools' and the health probes' connection lifetime.
 */
export const outlived = (openedAt: number, now: number, maxLifetime: Duration.Duration): boolean => {
  const ms = Duration.toMillis(maxLifetime)
  return ms > 0 && now - openedAt >= ms
}

/** The session `time_zone` a MySQL configuration sets: none for `"local"`, `+00:00` for `"Z"`, else its offset. */
export const sessionTimeZone = (config: MysqlOptimalConfig): string | undefined =>
  config.timezone === "local" ? undefined : config.timezone === "Z" ? "+00:00" : config.timezone

/** The Node pool bounds a configuration maps to: `min` connections kept, `max` connections at most. */
export const poolBounds = (
  config: PostgresOptimalConfig | MysqlOptimalConfig
): { readonly min: number; readonly max: number } => ({
  min: config.poolSize,
  max: config.poolSize + config.maxOverflow
})
