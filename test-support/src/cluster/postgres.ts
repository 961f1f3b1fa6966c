import { appendFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { waitUntilAsync } from "../wait.js"
import { APP_PASSWORD, APP_USER, CERT_USER, DATABASE, PG_BIN, PLAINTEXT_USER } from "./constants.js"
import { makeOwnedDirs, nodeDirOf } from "./layout.js"
import { livePid, processesIn, signal, waitGone } from "./pids.js"
import { run } from "./proc.js"
import { pgAdminQuery } from "./sql.js"
import type { TlsFiles } from "./tls.js"
import type { ClusterNodes, NodeInfo } from "./types.js"
import { tailLog } from "./wait.js"

/** Server settings shared by all nodes: small memory, no durability (test data), fast failure detection. */
const baseConfig = `
listen_addresses = '127.0.0.1'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
fsync = off
# On, as in production: a commit's WAL is flushed (and so streamed) before COMMIT returns. Off, replicas would see
# each commit only when the WAL writer wakes (wal_writer_delay, 200 ms), which no real deployment looks like.
synchronous_commit = on
full_page_writes = off
shared_buffers = 16MB
# The benchmark keeps every target's pools (16 connections per node each) open at once for interleaved rounds.
max_connections = 300
max_wal_size = 256MB
wal_keep_size = 64MB
wal_receiver_timeout = 10s
wal_sender_timeout = 10s
wal_retrieve_retry_interval = 200ms
password_encryption = 'scram-sha-256'
log_line_prefix = '%m [%p] %q%u@%d '
`

/**
 * Superuser and replication by trust; the certificate user only over TLS with its client certificate, the plaintext
 * user only without TLS; everyone else
 * (the app user) must present a real scram password, with or without TLS.
 */
const hba = `
local all all trust
host all postgres 127.0.0.1/32 trust
host replication postgres 127.0.0.1/32 trust
hostssl all ${CERT_USER} 127.0.0.1/32 cert
hostnossl all ${CERT_USER} 127.0.0.1/32 reject
hostssl all ${PLAINTEXT_USER} 127.0.0.1/32 reject
host all all 127.0.0.1/32 scram-sha-256
`

/** TLS on every node (copied to the replicas by the base backup); plaintext stays allowed for everyone but CERT_USER. */
const tlsConfig = (tls: TlsFiles): string => `
ssl = on
ssl_cert_file = '${tls.serverCert}'
ssl_key_file = '${tls.serverKey.postgres}'
ssl_ca_file = '${tls.ca}'
`

/** Settings that differ per node; appended last so they override what pg_basebackup copied from the primary. */
const nodeConfig = (node: NodeInfo): string =>
  `\n# node ${node.name}\nport = ${node.port}\nunix_socket_directories = '${node.socket}'\n`

/** Starts one PostgreSQL node with pg_ctl (config lives in its data dir) and returns the postmaster pid. */
export const startPgServer = async (node: NodeInfo, timeoutMs: number): Promise<number> => {
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000))
  try {
    await run(join(PG_BIN, "pg_ctl"), ["-D", node.dataDir, "-l", node.logFile, "-w", "-t", String(seconds), "start"], {
      what: `pg_ctl start of ${node.name}`,
      timeoutMs: timeoutMs + 5_000,
      user: "postgres",
      cwd: nodeDirOf(node)
    })
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- last lines of ${node.logFile} ---\n${tailLog(node.logFile)}`)
  }
  const pid = livePid(node)
  if (pid === undefined) throw new Error(`${node.name} started but no live postmaster pid\n${tailLog(node.logFile)}`)
  return pid
}

/** Immediate stop (crash-like, like `pg_ctl -m immediate`), bounded, SIGKILL after the bound. */
export const stopPgServer = async (node: NodeInfo, timeoutMs: number): Promise<void> => {
  const pid = livePid(node)
  // Anything left running in the node dir: the postmaster, its backends, orphans of an earlier kill -9.
  const all = processesIn(nodeDirOf(node))
  // A frozen node must be resumed, or it would never act on the stop signal.
  for (const p of all) signal(p, "SIGCONT")
  if (pid !== undefined) signal(pid, "SIGQUIT")
  const left = await waitGone(pid === undefined ? all : [pid, ...all], timeoutMs)
  for (const p of left) signal(p, "SIGKILL")
  const stuck = await waitGone(left, 5_000)
  if (stuck.length > 0) throw new Error(`${node.name}: processes ${stuck.join(", ")} survived SIGKILL`)
}

/** Waits until a PG replica's WAL receiver is streaming from the primary. */
export const waitPgStreaming = (node: NodeInfo, timeoutMs: number): Promise<number> =>
  waitUntilAsync(
    async () => (await pgAdminQuery<{ status: string }>(node, "SELECT status FROM pg_stat_wal_receiver"))[0]?.status,
    (status) => status === "streaming",
    { what: `${node.name} to stream WAL from the primary`, timeoutMs, intervalMs: 50, logFile: node.logFile }
  )

/** Creates and starts a PG primary and its streaming replicas; returns them with their pids. */
export const createPostgresCluster = async (
  nodes: ReadonlyArray<NodeInfo>,
  timeoutMs: number,
  tls: TlsFiles
): Promise<ClusterNodes> => {
  const [primary, ...replicas] = nodes as [NodeInfo, ...Array<NodeInfo>]
  makeOwnedDirs("postgres", [join(nodeDirOf(primary), ".."), ...nodes.map(nodeDirOf)])
  await run(
    join(PG_BIN, "initdb"),
    [
      "-D",
      primary.dataDir,
      "-U",
      "postgres",
      "--auth=trust",
      "--no-sync",
      "--no-instructions",
      "-E",
      "UTF8",
      "--locale=C"
    ],
    { what: `initdb of ${primary.name}`, timeoutMs, user: "postgres", cwd: nodeDirOf(primary) }
  )
  appendFileSync(join(primary.dataDir, "postgresql.conf"), baseConfig + tlsConfig(tls) + nodeConfig(primary))
  writeFileSync(join(primary.dataDir, "pg_hba.conf"), hba)
  const primaryPid = await startPgServer(primary, timeoutMs)

  // Everything created before the base backups is copied to the replicas as is.
  await pgAdminQuery(primary, `CREATE ROLE ${APP_USER} LOGIN PASSWORD '${APP_PASSWORD}'`)
  await pgAdminQuery(primary, `CREATE DATABASE ${DATABASE} OWNER ${APP_USER}`)
  await pgAdminQuery(primary, `GRANT ALL ON SCHEMA public TO ${APP_USER}`, [], DATABASE)
  await pgAdminQuery(primary, `CREATE ROLE ${CERT_USER} LOGIN`)
  await pgAdminQuery(primary, `CREATE ROLE ${PLAINTEXT_USER} LOGIN PASSWORD '${APP_PASSWORD}'`)
  // Marker table for replication checks, outside the app database so it never shows up in app tests.
  await pgAdminQuery(primary, "CREATE TABLE fastorm_cluster_marker (id text PRIMARY KEY, at timestamptz DEFAULT now())")

  // A slot per replica keeps the WAL a stopped replica needs to catch up. Created (and reserving WAL) before any
  // backup starts: with pg_basebackup -C, one backup's fast checkpoint could recycle WAL the other still streams.
  const slots = replicas.map((_, i) => `replica_${i + 1}`)
  for (const slot of slots) {
    await pgAdminQuery(primary, "SELECT pg_create_physical_replication_slot($1, true)", [slot])
  }

  const started = await Promise.all(replicas.map(async (replica, i) => {
    await run(
      join(PG_BIN, "pg_basebackup"),
      [
        // Replication stays in plaintext (libpq would prefer TLS): the other suites and the bench see no change.
        "-d",
        "sslmode=disable",
        "-h",
        "127.0.0.1",
        "-p",
        String(primary.port),
        "-U",
        "postgres",
        "-D",
        replica.dataDir,
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",
        "-S",
        slots[i]!,
        "--no-sync"
      ],
      { what: `pg_basebackup of ${replica.name}`, timeoutMs, user: "postgres", cwd: nodeDirOf(replica) }
    )
    appendFileSync(join(replica.dataDir, "postgresql.conf"), nodeConfig(replica))
    const pid = await startPgServer(replica, timeoutMs)
    return { ...replica, pid }
  }))
  return { primary: { ...primary, pid: primaryPid }, replicas: started }
}
