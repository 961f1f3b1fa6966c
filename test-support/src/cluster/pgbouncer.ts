/**
 * PgBouncer in front of the PostgreSQL test nodes: one PgBouncer per node (as on a database host), on a free port in
 * the cluster's temp directory, with PgBouncer's stock settings where a test does not need others: transaction
 * pooling, `ignore_startup_parameters = extra_float_digits`, no prepared-statement support (Debian 12 ships 1.18).
 * Its working directory is inside the cluster dir, so teardown and the watchdog stop it with the servers.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { waitUntilAsync } from "../wait.js"
import { binaries } from "./binaries.js"
import { APP_PASSWORD, APP_USER, DATABASE } from "./constants.js"
import { makeOwnedDirs } from "./layout.js"
import { isAlive, signal, waitGone } from "./pids.js"
import { freePorts } from "./ports.js"
import { isRoot, spawnDetached } from "./proc.js"
import { nodeQuery } from "./sql.js"
import type { ClusterNodes, NodeInfo, NodeRole } from "./types.js"
import { tailLog } from "./wait.js"

/** How a PgBouncer is configured; every field defaults to the setting the test cluster's poolers use. */
export interface PgBouncerSettings {
  /** `pool_mode`; default "transaction", where consecutive statements of a client may run on different servers. */
  readonly poolMode?: "transaction" | "session" | undefined
  /** `default_pool_size`: server connections per database and user; default 4, so clients really share them. */
  readonly defaultPoolSize?: number | undefined
  /** `max_client_conn`; default 1000 (the stock 100 is less than the bench's pools hold at once). */
  readonly maxClientConn?: number | undefined
  /** `query_wait_timeout` in seconds: how long a client waits for a server connection; default 120 (stock). */
  readonly queryWaitTimeout?: number | undefined
  /** `server_login_retry` in seconds, the pause after a failed server login; default 1 (stock 15: slow tests). */
  readonly serverLoginRetry?: number | undefined
  /** `ignore_startup_parameters`; default "extra_float_digits", PgBouncer's usual value. */
  readonly ignoreStartupParameters?: string | undefined
}

/** A PgBouncer in front of one PostgreSQL node. */
export interface PgBouncerNode {
  /** "pgb-primary", "pgb-replica-1", ... */
  readonly name: string
  readonly role: NodeRole
  readonly host: "127.0.0.1"
  readonly port: number
  readonly database: string
  /** The application user through PgBouncer: what the code under test uses. */
  readonly url: string
  /** The PostgreSQL node behind it (kill or pause that node to fail it behind the pooler). */
  readonly backend: string
  readonly dir: string
  readonly pid: number
  readonly logFile: string
}

/** The poolers of one PostgreSQL cluster: one in front of the primary, one in front of each replica. */
export interface PgBouncerNodes {
  readonly primary: PgBouncerNode
  readonly replicas: ReadonlyArray<PgBouncerNode>
}

/** The configuration file of one PgBouncer in front of `backend`. */
export const pgbouncerIni = (
  node: Pick<PgBouncerNode, "port" | "dir" | "logFile">,
  backend: Pick<NodeInfo, "port" | "database">,
  settings: PgBouncerSettings = {}
): string =>
  `[databases]
${DATABASE} = host=127.0.0.1 port=${backend.port} dbname=${backend.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${node.port}
unix_socket_dir =
logfile = ${node.logFile}
pidfile = ${join(node.dir, "pgbouncer.pid")}
auth_type = scram-sha-256
auth_file = ${join(node.dir, "userlist.txt")}
pool_mode = ${settings.poolMode ?? "transaction"}
default_pool_size = ${settings.defaultPoolSize ?? 4}
max_client_conn = ${settings.maxClientConn ?? 1000}
query_wait_timeout = ${settings.queryWaitTimeout ?? 120}
server_login_retry = ${settings.serverLoginRetry ?? 1}
ignore_startup_parameters = ${settings.ignoreStartupParameters ?? "extra_float_digits"}
`

/** True once PgBouncer logged that it listens (read from its log: a test connection would take a client slot). */
const listening = (logFile: string): boolean => {
  try {
    return readFileSync(logFile, "utf8").includes("process up:")
  } catch {
    return false
  }
}

/** Options of `startPgBouncer`. */
export interface StartPgBouncerOptions {
  /** Bound of the start; default 30 s. */
  readonly timeoutMs?: number | undefined
  /** Wait until the app user gets an answer through it (default); false: only until it listens (a dead backend). */
  readonly verify?: boolean | undefined
}

/**
 * Starts a PgBouncer in front of `backend` in `parent/<name>` and waits until the app user gets an answer through it
 * (so PgBouncer has also logged in to the server once). A failed start kills what started.
 */
export const startPgBouncer = async (
  parent: string,
  name: string,
  backend: Pick<NodeInfo, "name" | "role" | "port" | "database" | "host" | "kind">,
  settings: PgBouncerSettings = {},
  options: StartPgBouncerOptions = {}
): Promise<PgBouncerNode> => {
  const timeoutMs = options.timeoutMs ?? 30_000
  const dir = join(parent, name)
  // A fresh dir: an old log would say "process up" before this PgBouncer does.
  rmSync(dir, { recursive: true, force: true })
  makeOwnedDirs("postgres", [parent, dir])
  const [port] = await freePorts(1)
  const logFile = join(dir, "pgbouncer.log")
  const configFile = join(dir, "pgbouncer.ini")
  writeFileSync(configFile, pgbouncerIni({ port: port!, dir, logFile }, backend, settings))
  // Plain text: PgBouncer derives the SCRAM exchange with the client and with the server from it.
  writeFileSync(join(dir, "userlist.txt"), `"${APP_USER}" "${APP_PASSWORD}"\n`, { mode: 0o644 })
  // PgBouncer refuses to run as root: it drops to the server's own user.
  const pid = spawnDetached(binaries().pgbouncer, [...(isRoot() ? ["-u", "postgres"] : []), configFile], {
    outFile: join(dir, "pgbouncer.out"),
    cwd: dir
  })
  const node: PgBouncerNode = {
    name,
    role: backend.role,
    host: "127.0.0.1",
    port: port!,
    database: DATABASE,
    url: `postgres://${APP_USER}:${encodeURIComponent(APP_PASSWORD)}@127.0.0.1:${port}/${DATABASE}`,
    backend: backend.name,
    dir,
    pid,
    logFile
  }
  try {
    await waitUntilAsync(async () => listening(logFile), (up) => up || !isAlive(pid), {
      what: `${name} to listen on ${node.port}`,
      timeoutMs,
      intervalMs: 25,
      logFile
    })
    if (!isAlive(pid)) {
      throw new Error(`${name} exited at start\n${tailLog(logFile)}\n${tailLog(join(dir, "pgbouncer.out"))}`)
    }
    if (options.verify !== false) {
      await nodeQuery({ ...backend, port: node.port } as NodeInfo, "SELECT 1", [], {
        user: APP_USER,
        password: APP_PASSWORD
      })
    }
  } catch (e) {
    await stopPgBouncer(node)
    throw e
  }
  return node
}

/** Stops a PgBouncer started by `startPgBouncer` (SIGTERM: immediate shutdown; SIGKILL after 5 s). */
export const stopPgBouncer = async (node: PgBouncerNode): Promise<void> => {
  signal(node.pid, "SIGTERM")
  for (const pid of await waitGone([node.pid], 5_000)) signal(pid, "SIGKILL")
  await waitGone([node.pid], 5_000)
}

/** The name of the pooler in front of a node: "pg-replica-1" → "pgb-replica-1". */
export const poolerName = (backend: Pick<NodeInfo, "name">): string => backend.name.replace(/^pg-/, "pgb-")

/** Starts one PgBouncer in front of every node of a PostgreSQL cluster, in `parent` (inside the cluster dir). */
export const startPgBouncers = async (
  parent: string,
  cluster: ClusterNodes,
  settings: PgBouncerSettings = {},
  timeoutMs?: number
): Promise<PgBouncerNodes> => {
  const started = await Promise.allSettled(
    [cluster.primary, ...cluster.replicas].map((node) =>
      startPgBouncer(parent, poolerName(node), node, settings, { timeoutMs })
    )
  )
  const failed = started.flatMap((r) => r.status === "rejected" ? [(r.reason as Error).message] : [])
  const nodes = started.flatMap((r) => r.status === "fulfilled" ? [r.value] : [])
  if (failed.length > 0) {
    await Promise.all(nodes.map(stopPgBouncer))
    throw new Error(`PgBouncer start-up failed:\n${failed.join("\n\n")}`)
  }
  const [primary, ...replicas] = nodes as [PgBouncerNode, ...Array<PgBouncerNode>]
  return { primary, replicas }
}

/**
 * The PostgreSQL nodes as an application behind the poolers sees them: each node as it is (name, port, controls), but
 * its `url` goes through its PgBouncer. Kill or pause such a node and it fails behind its pooler.
 */
export const throughPgBouncer = (postgres: ClusterNodes, poolers: PgBouncerNodes): ClusterNodes => {
  const all = [poolers.primary, ...poolers.replicas]
  const via = (node: NodeInfo): NodeInfo => {
    const pooler = all.find((p) => p.backend === node.name)
    if (pooler === undefined) throw new Error(`no PgBouncer in front of ${node.name}`)
    return { ...node, url: pooler.url }
  }
  return { primary: via(postgres.primary), replicas: postgres.replicas.map(via) }
}

/** Stops every PgBouncer of `startPgBouncers`. */
export const stopPgBouncers = async (nodes: PgBouncerNodes): Promise<void> => {
  await Promise.all([nodes.primary, ...nodes.replicas].map(stopPgBouncer))
}
