/**
 * The configuration of one Patroni node, as pure functions of the cluster's layout: Patroni reads YAML, and JSON is
 * YAML, so the result is written with `JSON.stringify`.
 */
import { PG_BIN, REPL_PASSWORD } from "../cluster/constants.js"
import type { PatroniTimings } from "./types.js"

/** Replication login that Patroni creates on the first leader (trusted from 127.0.0.1, like the other clusters). */
export const PATRONI_REPL_USER = "replicator"

/**
 * Derives the HA loop's pause and the retry bound from the leader key's TTL, keeping Patroni's rule
 * `loop_wait + 2 * retry_timeout <= ttl`: a leader that cannot refresh its key demotes itself before the key expires,
 * so two leaders never accept writes at once.
 */
export const patroniTimings = (ttl: number): PatroniTimings => {
  if (!Number.isInteger(ttl) || ttl < 4) {
    throw new Error(`Patroni ttl must be a whole number of seconds >= 4, got ${ttl}`)
  }
  const loopWait = Math.max(1, Math.floor(ttl / 10))
  return { ttl, loopWait, retryTimeout: Math.floor((ttl - loopWait) / 2) }
}

/** Where one node lives and listens. */
export interface PatroniNodeLayout {
  readonly name: string
  readonly pgPort: number
  readonly restPort: number
  readonly dataDir: string
  /** The node's own directory: socket, logs, pgpass. */
  readonly nodeDir: string
}

/** What every node of a cluster shares. */
export interface PatroniClusterLayout {
  readonly scope: string
  readonly etcdPort: number
  readonly timings: PatroniTimings
  /** Commits wait for one synchronous standby (Patroni's `synchronous_mode`): no acknowledged write is lost. */
  readonly synchronousMode: boolean
}

/** Server settings as in the other test clusters (small, no fsync), with what pg_rewind needs (full page writes). */
const parameters = (nodeDir: string) => ({
  max_connections: 200,
  max_wal_senders: 10,
  max_replication_slots: 10,
  hot_standby_feedback: "on",
  fsync: "off",
  synchronous_commit: "on",
  // pg_rewind, which brings a failed leader back as a replica, refuses a source without full page writes.
  full_page_writes: "on",
  shared_buffers: "16MB",
  max_wal_size: "256MB",
  wal_keep_size: "64MB",
  wal_receiver_timeout: "10s",
  wal_sender_timeout: "10s",
  wal_retrieve_retry_interval: "200ms",
  password_encryption: "scram-sha-256",
  logging_collector: "on",
  log_directory: nodeDir,
  log_filename: "postgres.log",
  log_line_prefix: "%m [%p] %q%u@%d ",
  // Segments in the data dir, not /dev/shm: a kill -9 of the postmaster would leave them behind there.
  dynamic_shared_memory_type: "mmap",
  unix_socket_directories: nodeDir
})

/** Superuser and replication by trust; everyone else (the app user) must present a real scram password. */
const pgHba = [
  "local all all trust",
  "host all postgres 127.0.0.1/32 trust",
  "host replication all 127.0.0.1/32 trust",
  "host all all 127.0.0.1/32 scram-sha-256"
]

/** The Patroni configuration of one node. */
export const patroniConfig = (cluster: PatroniClusterLayout, node: PatroniNodeLayout): Record<string, unknown> => ({
  scope: cluster.scope,
  name: node.name,
  log: { level: "INFO" },
  restapi: { listen: `127.0.0.1:${node.restPort}`, connect_address: `127.0.0.1:${node.restPort}` },
  etcd3: { hosts: [`127.0.0.1:${cluster.etcdPort}`], protocol: "http" },
  bootstrap: {
    dcs: {
      ttl: cluster.timings.ttl,
      loop_wait: cluster.timings.loopWait,
      retry_timeout: cluster.timings.retryTimeout,
      maximum_lag_on_failover: 16 * 1024 * 1024,
      synchronous_mode: cluster.synchronousMode,
      postgresql: { use_pg_rewind: true, use_slots: true, parameters: parameters(node.nodeDir) }
    },
    initdb: [{ encoding: "UTF8" }, { locale: "C" }, "no-sync"]
  },
  postgresql: {
    listen: `127.0.0.1:${node.pgPort}`,
    connect_address: `127.0.0.1:${node.pgPort}`,
    data_dir: node.dataDir,
    bin_dir: PG_BIN,
    pgpass: `${node.nodeDir}/pgpass`,
    authentication: {
      superuser: { username: "postgres" },
      replication: { username: PATRONI_REPL_USER, password: REPL_PASSWORD }
    },
    parameters: parameters(node.nodeDir),
    pg_hba: pgHba,
    basebackup: [{ checkpoint: "fast" }],
    use_pg_rewind: true
  }
})
