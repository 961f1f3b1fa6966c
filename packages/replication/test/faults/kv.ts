/**
 * Shared pieces of the fault scenarios (free of vitest, so `npm run chaos` can use them too): the two backends, a FastOrm layer over the cluster (optionally through
 * FaultProxies), a key/value workload that records into a History, the final state read from the primary, and the
 * baseline checks (server sessions, proxy connections) every scenario ends with.
 */
import { ReadConnection, WriteConnection } from "@fastorm/core"
import type { ClusterNodes, FaultProxy, NodeInfo } from "@fastorm/test-support"
import {
  appQuery,
  History,
  loadCluster,
  sessionCount,
  waitReplicated,
  waitSessions,
  waitUntil
} from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { FastOrm, RouterError } from "../../src/index.js"
import type { ReadWriteConfig } from "../../src/index.js"

export const cluster = loadCluster()

/** One server family and its SQL. */
export interface Backend {
  readonly name: "postgres" | "mariadb"
  readonly nodes: ClusterNodes
  /** Bind placeholder number i (1-based). */
  readonly p: (i: number) => string
  /** `SELECT <seconds of sleep>` plus the serving port, as a plain read. */
  readonly sleepSql: (seconds: number) => string
}

export const backends: ReadonlyArray<Backend> = [
  {
    name: "postgres",
    nodes: cluster.postgres,
    p: (i) => `$${i}`,
    sleepSql: (s) => `SELECT pg_sleep(${s}) AS s, inet_server_port() AS port`
  },
  {
    name: "mariadb",
    nodes: cluster.mariadb,
    p: () => "?",
    sleepSql: (s) => `SELECT SLEEP(${s}) AS s, @@port AS port`
  }
]

export const allNodes = (b: Backend): ReadonlyArray<NodeInfo> => [b.nodes.primary, ...b.nodes.replicas]

export const nodeByPort = (b: Backend, port: unknown): string =>
  allNodes(b).find((n) => n.port === Number(port))?.name ?? `port-${String(port)}`

/** The fault table: (k, v) pairs, unique values. */
export const KV_TABLE = "fault_kv"

/** One statement on the primary as the app user, on a fresh driver connection (not through the code under test). */
export const primaryQuery = <R = Record<string, unknown>>(
  b: Backend,
  sql: string,
  params: ReadonlyArray<unknown> = []
): Promise<Array<R>> => appQuery<R>(b.nodes.primary, sql, params)

/** Creates the fault table on the primary and waits until the replicas have it. */
export const ensureTable = async (b: Backend): Promise<void> => {
  await primaryQuery(
    b,
    b.name === "postgres"
      ? `CREATE TABLE IF NOT EXISTS ${KV_TABLE} (id SERIAL PRIMARY KEY, k VARCHAR(64) NOT NULL, v VARCHAR(64) NOT NULL)`
      : `CREATE TABLE IF NOT EXISTS ${KV_TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(64) NOT NULL, v VARCHAR(64) NOT NULL)`
  )
  await waitReplicated(b.nodes, { timeoutMs: 20_000 })
}

/** Every (k, v) of the given keys, read from the primary directly. */
export const finalState = async (b: Backend, keys: ReadonlyArray<string>): Promise<History.FinalState> => {
  if (keys.length === 0) return new Map()
  const marks = keys.map((_, i) => b.p(i + 1)).join(", ")
  const rows = await primaryQuery<{ k: string; v: string }>(
    b,
    `SELECT k, v FROM ${KV_TABLE} WHERE k IN (${marks})`,
    keys
  )
  return History.finalStateOf(rows.map((r) => ({ key: r.k, value: r.v })))
}

/** How many rows hold value `v` (a retried write would show as 2). */
export const copiesOf = async (b: Backend, v: string): Promise<number> => {
  const rows = await primaryQuery<{ n: unknown }>(b, `SELECT count(*) AS n FROM ${KV_TABLE} WHERE v = ${b.p(1)}`, [v])
  return Number(rows[0]!.n)
}

/** Settings the scenarios share: short bounds, fast probes. */
export interface OrmOptions {
  readonly write?: string | undefined
  readonly read?: ReadonlyArray<string> | undefined
  readonly readWrite?: ReadWriteConfig.ReadWriteConfig | undefined
  readonly pool?: Record<string, unknown> | undefined
}

export const STATEMENT_TIMEOUT_MS = 2_000
export const CONNECT_TIMEOUT_MS = 1_000

/** `FastOrm.layer` over the backend, with node names from the cluster and URLs that may go through proxies. */
export const ormLayer = (b: Backend, options: OrmOptions = {}) =>
  FastOrm.layer({
    name: `faults-${b.name}`,
    write: { url: options.write ?? b.nodes.primary.url, name: b.nodes.primary.name },
    read: b.nodes.replicas.map((r, i) => ({ url: options.read?.[i] ?? r.url, name: r.name })),
    readWrite: {
      statementTimeout: Duration.millis(STATEMENT_TIMEOUT_MS),
      connectTimeout: Duration.millis(CONNECT_TIMEOUT_MS),
      sessionWaitTimeout: "200 millis",
      ...options.readWrite
    },
    health: { interval: "200 millis", timeout: "1 second", failureThreshold: 2, backoffCap: "1 second" },
    pool: { poolSize: 2, maxOverflow: 4, ...options.pool }
  })

/** A write of a unique value, through WriteConnection, lifted router errors. */
export const writeKv = (b: Backend, key: string, value: string) =>
  Effect.flatMap(
    WriteConnection,
    (write) =>
      RouterError.refine(write.unsafe(`INSERT INTO ${KV_TABLE} (k, v) VALUES (${b.p(1)}, ${b.p(2)})`, [key, value]))
  ).pipe(
    Effect.as({ node: b.nodes.primary.name } as History.Served)
  )

/** A read of every value of a key and the serving node, through ReadConnection. */
export const readKv = (b: Backend, key: string) =>
  Effect.flatMap(ReadConnection, (read) =>
    RouterError.refine(
      read.unsafe<{ port: unknown; v: string | null }>(
        b.name === "postgres"
          ? `SELECT p.port, t.v FROM (SELECT inet_server_port() AS port) p LEFT JOIN ${KV_TABLE} t ON t.k = $1`
          : `SELECT p.port, t.v FROM (SELECT @@port AS port) p LEFT JOIN ${KV_TABLE} t ON t.k = ?`,
        [key]
      )
    )).pipe(
      Effect.map((rows): History.Served => ({
        node: nodeByPort(b, rows[0]?.port),
        observed: rows.flatMap((r) => r.v === null ? [] : [r.v])
      }))
    )

let runCounter = 0
/** A prefix unique to this run, for keys and values. */
export const runId = (tag: string): string => `${tag}-${Date.now().toString(36)}-${++runCounter}`

/** Options of the mixed workload. */
export interface WorkloadOptions {
  readonly history: History.History
  readonly prefix: string
  readonly sessions: number
  /** Runs until this Effect completes (e.g. a fault script) or `opsPerSession` is reached. */
  readonly opsPerSession: number
  /** Share of writes, in [0, 1]. */
  readonly writeRatio?: number
  readonly deadlineMs: number
  /** Pause between operations of a session. */
  readonly thinkMs?: number
}

/**
 * A mixed workload: `sessions` fibers (each its own router session, forked from a fresh fiber), each writing unique
 * values to its own key and to a shared key and reading them back. Every operation is recorded; a client-side
 * safety timeout of 3× the deadline keeps a hung operation from hanging the test (it shows in the deadline check).
 */
export const workload = (b: Backend, options: WorkloadOptions) => {
  const { history, prefix } = options
  const writeRatio = options.writeRatio ?? 0.3
  const session = (s: number) =>
    Effect.gen(function*() {
      const name = `${prefix}-s${s}`
      for (let i = 0; i < options.opsPerSession; i++) {
        const key = i % 3 === 0 ? `${prefix}-shared` : `${prefix}-k${s}`
        const isWrite = (i * 7919 + s * 104729) % 1000 < writeRatio * 1000
        const safety = <A, E, R>(e: Effect.Effect<A, E, R>) =>
          Effect.timeoutFail(e, {
            duration: Duration.millis(options.deadlineMs * 3),
            onTimeout: () => ({ _tag: "ClientSafetyTimeout" as const })
          })
        if (isWrite) {
          const value = `${name}-${i}`
          yield* History.record(
            history,
            { session: name, kind: "write", key, value, deadlineMs: options.deadlineMs },
            safety(writeKv(b, key, value)),
            {
              classify: (e) =>
                History.unknownOutcomeTags.has(History.errorTag(e)) || History.errorTag(e) === "ClientSafetyTimeout"
                  ? "unknown"
                  : "failed"
            }
          )
        } else {
          yield* History.record(
            history,
            { session: name, kind: "read", key, deadlineMs: options.deadlineMs },
            safety(readKv(b, key))
          )
        }
        if (options.thinkMs !== undefined) yield* Effect.sleep(Duration.millis(options.thinkMs))
      }
    })
  return Effect.forEach(
    Array.from({ length: options.sessions }, (_, s) => s),
    (s) => session(s),
    { concurrency: "unbounded", discard: true }
  )
}

/** The keys a workload of that prefix touches. */
export const workloadKeys = (prefix: string, sessions: number): ReadonlyArray<string> => [
  `${prefix}-shared`,
  ...Array.from({ length: sessions }, (_, s) => `${prefix}-k${s}`)
]

/** App-user session counts of every node of the backend. */
export const sessionBaseline = (b: Backend): Promise<Record<string, number>> =>
  Promise.all(allNodes(b).map(async (n) => [n.name, await sessionCount(n)] as const)).then(Object.fromEntries)

/**
 * Waits (bounded) until every node's app sessions are back to at most their baseline; returns how long it took.
 * Run after the layer's scope closed.
 */
export const expectSessionsBack = (b: Backend, baseline: Record<string, number>, timeoutMs = 10_000) =>
  Effect.promise(async () => {
    const started = Date.now()
    await Promise.all(allNodes(b).map((n) => waitSessions(n, (c) => c <= baseline[n.name]!, { timeoutMs })))
    return Date.now() - started
  })

/** Waits (bounded) until a proxy has no client connection left; returns how long it took. */
export const expectProxyDrained = (proxy: FaultProxy.FaultProxy, timeoutMs = 5_000) =>
  waitUntil(proxy.connections, (open) => open === 0, {
    what: `proxy ${proxy.port} to have no client connection left`,
    timeoutMs,
    intervalMs: 50
  })
