import type { TlsFiles } from "./tls.js"

/** Which server family a node belongs to. */
export type ClusterKind = "postgres" | "mariadb"

/** Whether a node accepts writes (primary) or replays them (replica). */
export type NodeRole = "primary" | "replica"

/** One running server of a test cluster, as written to the cluster JSON file. */
export interface NodeInfo {
  /** "pg-primary", "pg-replica-1", ... / "maria-primary", "maria-replica-1", ... */
  readonly name: string
  readonly kind: ClusterKind
  readonly role: NodeRole
  readonly host: "127.0.0.1"
  readonly port: number
  readonly database: string
  /** Application user (`app`, with password): what the code under test should use. */
  readonly url: string
  /** PostgreSQL superuser `postgres` / MariaDB `root`, no password (trust / empty). */
  readonly adminUrl: string
  readonly dataDir: string
  /** PostgreSQL: the socket directory (libpq `host`); MariaDB: the socket file. */
  readonly socket: string
  /** Server pid at start-up; the controls re-read the live pid from the data dir's pid file. */
  readonly pid: number
  readonly logFile: string
}

/** A primary and its replicas. */
export interface ClusterNodes {
  readonly primary: NodeInfo
  readonly replicas: ReadonlyArray<NodeInfo>
}

/** Both test clusters and the temp directory that holds them. */
export interface ClusterInfo {
  readonly dir: string
  /** Path of the JSON file this info was written to. */
  readonly file: string
  readonly postgres: ClusterNodes
  readonly mariadb: ClusterNodes
  /** The certificates every node serves and trusts (README, "Test clusters"). */
  readonly tls: TlsFiles
}
