/**
 * The adapter contract: everything FastORM needs to know about one database node of one dialect.
 */
import type * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type { CompiledStatement } from "@fastorm/core"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { ConnectionFailed, InvalidTlsConfig, UnrecognizedServerVersion } from "./AdapterError.js"
import type { ConnectionUrl } from "./ConnectionUrl.js"
import type { DatabaseFeatures, ServerVersion } from "./DatabaseFeatures.js"
import type { Dialect, DriverPackage } from "./Dialect.js"
import type { DetectedFeatures } from "./FeatureDetection.js"
import type { ConfigOverrides, OptimalConfig } from "./OptimalConfig.js"
import type { TlsSettings } from "./Tls.js"

/** How to build one node's client. */
export interface NodeClientOptions {
  /** Run every session read-only: a guard rail for replicas. */
  readonly readOnly?: boolean | undefined
  /**
   * Open one connection before returning, bounded by `connectTimeout`, and fail with `ConnectionFailed` if the
   * node does not answer. Off by default: a replica that is down must not stop an application from starting.
   */
  readonly verify?: boolean | undefined
  /** Extra span attributes on every statement of this node. */
  readonly spanAttributes?: Record<string, unknown> | undefined
}

/** How busy a node's pool is, so a caller can tell "pool exhausted" from "server down". */
export interface PoolStatus {
  /** Connections open (busy or idle). */
  readonly open: number
  /** Open connections waiting in the pool. */
  readonly idle: number
  /** Callers waiting for a connection. */
  readonly waiting: number
  /** The most connections the pool may open. */
  readonly max: number
  /** Pipelined connections open (`pipelinedConnections`; on MySQL / MariaDB, pool connections held as lanes); 0 or absent: none. */
  readonly pipelined?: number | undefined
}

/**
 * The position each write's commit was given, known when the write returns with no statement of its own
 * (ARCHITECTURE.md, "Read-your-writes"): MariaDB reports the GTID in the write's own reply (`last_gtid` session
 * tracking); PostgreSQL reads the primary's position right after the write, on the write's pipelined connection, or
 * behind a pooler after the write's COMMIT in its own batch. Told only when the node reported or read one; otherwise
 * the position must be read.
 */
export interface CommitPositions {
  /**
   * True where telling a write's position costs a statement in the write's round trip (PostgreSQL's read after the
   * COMMIT), which a session pays only once it reads after its writes; false where the reply carries it anyway.
   */
  readonly costsStatement: boolean
  /**
   * Runs `use` on a pooled connection for writes (each statement borrows a connection) and gives back its value
   * with the position of the last statement it ran (a GTID, an LSN). Each run gets its own connection object, which is
   * the cell its statements' positions go to (in whatever fiber they run): a retry learns its own statement's
   * position, and concurrent or nested writers never see each other's.
   */
  readonly runCommitted: <A, E, R>(
    use: (connection: Connection) => Effect.Effect<A, E, R>
  ) => Effect.Effect<readonly [A, string | undefined], E, R>
  /** The GTID the last statement on `reserved` (a connection of `reserve`) committed, if it reported one. */
  readonly lastCommit: (reserved: Connection) => string | undefined
}

/** A client for one node, with its pool's status; it runs compiled statements directly (`CompiledStatement`). */
export interface NodeClient extends SqlClient.SqlClient, CompiledStatement.Runner {
  readonly poolStatus: () => PoolStatus
  /**
   * The pooled connection: each statement borrows a connection and gives it back, inside the driver's callbacks
   * (no scope per statement). Routers use it on their hot path.
   */
  readonly connection: Connection
  /** The client-side deadline every statement carries (PostgreSQL, MySQL); zero for SQLite, which never waits on a network. */
  readonly statementDeadline: Duration.Duration
  /**
   * Present where the node tells each commit's position with the write: MariaDB always, PostgreSQL with pipelined
   * connections, or once found behind a pooler (read each time: it may change after the client was made).
   */
  readonly commitPositions?: CommitPositions | undefined
  /** Reads a router may retry on another node, which it ends at once when the node is found down. */
  readonly reads: NodeReads
}

/**
 * Reads a router may retry on another node: the pooled connection's statements, each tracked while in flight, so
 * that `cut` can end them all at once when the node is found down instead of letting them wait out their deadline
 * (ARCHITECTURE.md, "Deadlines"); and streams of reads, ended the same way (not retried: their rows were delivered).
 * SQLite has no network to wait on: its reads are its pooled connection's.
 */
export interface NodeReads {
  readonly connection: Connection
  /** A connection held for a scope's stream of reads; `cut` ends its stream too (its connection is then closed). */
  readonly reserve: Effect.Effect<Connection, SqlError, Scope.Scope>
  /**
   * Ends every read in flight on `connection` and every stream on `reserve` (or `connection`) now, with a
   * connection-class error (ECONNABORTED); returns how many.
   */
  readonly cut: () => number
  /**
   * `connection` with `sql` (no parameters, text columns) sent in front of each statement and its rows, as arrays of
   * text, handed to `onRows` before the statement's result, in the statement's own round trip where the protocol
   * allows it (else just before it): a session read's look at the replica's replay position (PostgreSQL's poll,
   * MariaDB's wait). `waitMs`: how long `sql` may wait on the server, added to each statement's deadline. Absent where
   * a node cannot.
   */
  readonly leading?:
    | ((sql: string, onRows: (rows: ReadonlyArray<TextRow>) => void, waitMs?: number) => Connection)
    | undefined
}

/** A row as PostgreSQL sends it in text format, before any type parser: each column's text, or null. */
export type TextRow = ReadonlyArray<string | null>

/** One node of one dialect: its URL, features, applied configuration and a way to make its client. */
export interface DatabaseAdapter<C extends OptimalConfig = OptimalConfig> {
  readonly dialect: Dialect
  /** The Node driver package this adapter uses. */
  readonly driver: DriverPackage
  /** The node's name in errors, logs, spans and metrics; never contains a password. */
  readonly name: string
  /** The parsed URL; its password is `Redacted`. */
  readonly url: ConnectionUrl
  /** The server version the static features assume until `detectFeatures` asks the server. */
  readonly assumedVersion: ServerVersion
  /** Features from the static table for `assumedVersion`. */
  readonly features: DatabaseFeatures
  /** The configuration every client of this adapter applies: the dialect's defaults, URL options, user overrides. */
  readonly optimalConfig: C
  /**
   * The node's TLS settings, files read when the adapter was made (README, "TLS"); the health probes connect with
   * them too. A Left only for an adapter made directly with unusable files (`DatabaseAdapterFactory.create` fails).
   */
  readonly tls: Either.Either<TlsSettings, InvalidTlsConfig>
  /** The canonical driver URL of this node, password included, hence `Redacted`. */
  readonly buildConnectionUrl: () => Redacted.Redacted<string>
  /** A client for this one node. It does not provide the global `SqlClient` tag: several nodes live in one app. */
  readonly makeClient: (
    options?: NodeClientOptions
  ) => Effect.Effect<NodeClient, ConnectionFailed, Scope.Scope | Reactivity.Reactivity>
  /** Asks the live server for its product and version and derives the features from the static table. */
  readonly detectFeatures: (
    client: SqlClient.SqlClient
  ) => Effect.Effect<DetectedFeatures, ConnectionFailed | UnrecognizedServerVersion>
}

/** Options common to every adapter constructor. */
export interface AdapterOptions<C extends OptimalConfig = OptimalConfig> {
  /** The node's name in errors and logs; defaults to `user@host:port/database`. */
  readonly name?: string | undefined
  /** Overrides of the optimal configuration; each one always wins. */
  readonly config?: ConfigOverrides<C> | undefined
  /**
   * The caller's own defaults (a router's bounds for every node): above the dialect's, below the URL's options and
   * `config`, so a node's URL keeps what it sets itself.
   */
  readonly defaults?: ConfigOverrides<C> | undefined
  /** The server version the static feature table should assume (e.g. "10.11.6-MariaDB"). */
  readonly serverVersion?: string | undefined
}
