/**
 * Helpers of the router's fault tests: the two clusters as backends, a layer with short health intervals, a read load
 * that records which node answered each read and how long it took, and the down-and-back sequence of a node.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { ClusterNodes, NodeInfo } from "@fastorm/test-support"
import {
  control,
  freezeNode,
  killNode,
  loadCluster,
  pauseReplay,
  resumeReplay,
  startNode,
  stopNode,
  unfreezeNode,
  waitReplicated,
  waitUntil
} from "@fastorm/test-support"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { type ConnectionRouter, FastOrm, RouterError, SessionToken } from "../../src/index.js"
import type { ReadWriteConfig } from "../../src/index.js"

/** One cluster under test. */
export interface Backend {
  readonly name: "postgres" | "mariadb"
  readonly nodes: ClusterNodes
  /** The answering server's own port (the node, even behind a proxy). */
  readonly whoSql: string
  /** The same, holding the session for `ms` milliseconds; its text carries `slowMarker`. */
  readonly slowWhoSql: (ms: number) => string
  readonly createTable: string
  readonly table: string
  /** The n-th bound parameter's placeholder. */
  readonly param: (n: number) => string
}

/** A word in `slowWhoSql` that server-side activity views can be searched for. */
export const slowMarker = "fastorm_slow_read_marker"

/** Both clusters. */
export const backends = (): ReadonlyArray<Backend> => {
  const cluster = loadCluster()
  return [
    {
      name: "postgres",
      nodes: cluster.postgres,
      whoSql: "SELECT inet_server_port() AS port",
      slowWhoSql: (ms) => `SELECT inet_server_port() AS port, pg_sleep(${ms / 1000})::text AS ${slowMarker}`,
      createTable:
        "CREATE TABLE IF NOT EXISTS failover_items (id SERIAL PRIMARY KEY, label TEXT NOT NULL, created_at TIMESTAMPTZ DEFAULT now())",
      table: "failover_items",
      param: (n) => `$${n}`
    },
    {
      name: "mariadb",
      nodes: cluster.mariadb,
      whoSql: "SELECT @@port AS port",
      slowWhoSql: (ms) => `SELECT @@port AS port, SLEEP(${ms / 1000}) AS ${slowMarker}`,
      createTable:
        "CREATE TABLE IF NOT EXISTS failover_items (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(100) NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
      table: "failover_items",
      param: () => "?"
    }
  ]
}

/** Health settings of the fault tests: a fault is seen within a few hundred milliseconds. */
export const health = {
  interval: "100 millis",
  timeout: "500 millis",
  failureThreshold: 2,
  recoveryThreshold: 2,
  // The monitor re-probes a node that is down on a doubling backoff; capped, the recovery bound is known.
  backoffCap: "400 millis"
} as const

/**
 * The bound within which a restarted replica serves again: the next re-probe (backoffCap), then the recovery probes
 * (recoveryThreshold × interval, each up to the probe timeout), plus the replica's own restart of replication: its
 * WAL receiver reconnects after wal_retrieve_retry_interval (200 ms in the test cluster), and until a probe sees it
 * streaming again the replica is "not replicating" (stale) and rightly gets no reads: one more interval and timeout.
 */
export const recoveryBoundMs = 400 + (health.recoveryThreshold + 1) * 100 + 2 * 500 + 200

/** A replica given to the layer (defaults: the cluster's replicas under their own names). */
export interface ReplicaSpec {
  readonly url: string
  readonly name: string
  readonly weight?: number
}

/** `FastOrm.layer` over a cluster with the fault tests' settings (`monitor`: another health configuration). */
export const fastOrm = (
  b: Backend,
  readWrite: ReadWriteConfig.ReadWriteConfig = {},
  replicas?: ReadonlyArray<ReplicaSpec>,
  monitor: FastOrm.HealthConfig = health
) =>
  FastOrm.layer({
    name: b.name,
    write: { url: b.nodes.primary.url, name: b.nodes.primary.name },
    read: replicas ?? b.nodes.replicas.map((r) => ({ url: r.url, name: r.name })),
    readWrite: { statementTimeout: "1 second", connectTimeout: "1 second", ...readWrite },
    health: monitor
  })

/** The node listening on `port`. */
export const nodeByPort = (b: Backend, port: number): NodeInfo => {
  const node = [b.nodes.primary, ...b.nodes.replicas].find((n) => n.port === Number(port))
  if (node === undefined) throw new Error(`no node on port ${port}`)
  return node
}

/** Runs `effect` outside any session: its reads are ordinary reads, whatever the caller wrote before. */
export const noSession = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.locally(effect, SessionToken.currentTokens, {})

/** One read: which node answered it (by the server's word). */
export const who = (b: Backend, client: SqlClient.SqlClient, sql = b.whoSql) =>
  noSession(Effect.map(client.unsafe<{ port: number }>(sql), (rows) => nodeByPort(b, rows[0]!.port).name))

/** `n` reads one after the other; the name of the node that answered each. */
export const whoMany = (b: Backend, client: SqlClient.SqlClient, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => who(b, client))

/** What a failed statement was: the router error's tag, else the driver code, else the message. */
export const describeError = (error: unknown): string => {
  const routed = RouterError.fromSqlError(error)
  if (Option.isSome(routed)) return routed.value._tag
  const e = error as { readonly cause?: { readonly code?: unknown; readonly message?: unknown }; message?: unknown }
  return String(e.cause?.code ?? e.cause?.message ?? e.message ?? error)
}

/** One read of a load. */
export interface Sample {
  readonly fiber: number
  /** Epoch milliseconds at the start of the read. */
  readonly start: number
  readonly ms: number
  /** The node that answered; undefined when the read failed. */
  readonly node: string | undefined
  readonly error: string | undefined
}

/** A running read load. */
export interface Load {
  readonly samples: Array<Sample>
  /** Stops every fiber after its current read and waits for them. */
  readonly stop: Effect.Effect<void>
}

/**
 * `fibers` fibers running `read` in a loop (`k` counts each fiber's reads), each run recorded: the node that answered,
 * or why it failed. Stopped with the scope at the latest.
 */
export const startLoadOf = <R>(
  fibers: number,
  read: (fiber: number, k: number) => Effect.Effect<string, unknown, R>
): Effect.Effect<Load, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const samples: Array<Sample> = []
    let running = true
    const loop = (fiber: number) =>
      Effect.gen(function*() {
        for (let k = 0; running; k++) {
          const start = Date.now()
          const exit = yield* Effect.exit(read(fiber, k))
          const ms = Date.now() - start
          if (exit._tag === "Success") {
            samples.push({ fiber, start, ms, node: exit.value, error: undefined })
          } else {
            samples.push({ fiber, start, ms, node: undefined, error: describeError(Cause.squash(exit.cause)) })
            // Never a tight loop of instant failures: it would starve the event loop (and the test's own timers).
            yield* Effect.sleep("5 millis")
          }
        }
      })
    const handles = yield* Effect.forEach(
      Array.from({ length: fibers }, (_, i) => i),
      (i) => Effect.forkScoped(loop(i))
    )
    const stop = Effect.suspend(() => {
      running = false
      return Fiber.joinAll(handles)
    })
    yield* Effect.addFinalizer(() => stop)
    return { samples, stop }
  })

/** `fibers` fibers reading in a loop, outside any session, each read recorded. Stopped with the scope at the latest. */
export const startLoad = (
  b: Backend,
  client: SqlClient.SqlClient,
  fibers: number,
  sql = b.whoSql
): Effect.Effect<Load, never, Scope.Scope> => startLoadOf(fibers, () => who(b, client, sql))

/** Waits until `count` reads in a row were answered by replicas, and both replicas answered at least once. */
export const warmUp = (b: Backend, client: SqlClient.SqlClient, replicas = b.nodes.replicas) =>
  waitUntil(
    whoMany(b, client, 20),
    (names) => replicas.every((r) => names.includes(r.name)) && !names.includes(b.nodes.primary.name),
    { what: "every replica serving reads, none on the primary", timeoutMs: 10_000 }
  )

/** Figures for the test log. */
export const report = (label: string, figures: Record<string, unknown>) =>
  Effect.sync(() => console.log(`[figures] ${label} ${JSON.stringify(figures)}`))

/** Quantile of numbers (0..1). */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/** How many times each name occurs (undefined ones skipped). */
export const countBy = (names: ReadonlyArray<string | undefined>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const name of names) if (name !== undefined) out[name] = (out[name] ?? 0) + 1
  return out
}

/** Brings a node back whatever the test did to it (idempotent: a running node is left alone). */
export const restore = (node: NodeInfo): Effect.Effect<void> =>
  Effect.promise(() => unfreezeNode(node).catch(() => undefined)).pipe(
    Effect.zipRight(Effect.promise(() => startNode(node, { timeoutMs: 60_000 }))),
    Effect.asVoid
  )

/** Every node of the cluster back, and the replicas caught up. */
export const restoreCluster = (b: Backend): Effect.Effect<void> =>
  Effect.forEach([b.nodes.primary, ...b.nodes.replicas], restore, { concurrency: "unbounded", discard: true }).pipe(
    Effect.zipRight(Effect.promise(() => waitReplicated(b.nodes, { timeoutMs: 60_000 })))
  )

/** When a node went down under a load and when it served again, with the router's attempts on it meanwhile. */
export interface DownAndBack {
  readonly downAt: number
  /** Statements the router had sent the node 1 s after it went down, and just before its restart. */
  readonly attemptsAfter1s: number
  readonly attemptsBeforeRestart: number
  /** The restart began and ended. */
  readonly startedAt: number
  readonly upAt: number
  /** The end of the first read the node served after it went down. */
  readonly firstBack: number
}

/**
 * Takes `target` down (stopped or killed) under a running load, keeps it down 2.5 s, restarts it, waits until the load
 * is served by it again, then stops the load.
 */
export const downAndBack = (
  target: NodeInfo,
  fault: "stop" | "kill",
  load: Load,
  router: ConnectionRouter.ConnectionRouterShape
): Effect.Effect<DownAndBack> =>
  Effect.gen(function*() {
    yield* control(() => fault === "stop" ? stopNode(target) : killNode(target))
    const downAt = Date.now()
    yield* Effect.sleep("1 second")
    const attemptsAfter1s = (yield* router.stats).byNode[target.name] ?? 0
    yield* Effect.sleep("1500 millis")
    const attemptsBeforeRestart = (yield* router.stats).byNode[target.name] ?? 0
    const startedAt = Date.now()
    yield* control(() => startNode(target, { timeoutMs: 30_000 }))
    const upAt = Date.now()
    yield* waitUntil(
      Effect.sync(() => load.samples.some((s) => s.node === target.name && s.start > downAt + 1_000)),
      (back) => back,
      {
        what: `${target.name} serving again`,
        timeoutMs: 10_000,
        detail: () => ({
          reads: load.samples.length,
          since: countBy(load.samples.filter((s) => s.start > upAt).map((s) => s.node ?? s.error)),
          stats: Effect.runSync(router.stats)
        })
      }
    )
    const back = load.samples.filter((s) => s.node === target.name && s.start > downAt + 1_000)
    const firstBack = Math.min(...back.map((s) => s.start + s.ms))
    yield* Effect.sleep("300 millis")
    yield* load.stop
    return { downAt, attemptsAfter1s, attemptsBeforeRestart, startedAt, upAt, firstBack }
  })

/** Replay paused on every replica of `b` until the scope closes (then resumed). */
export const pausedReplay = (b: Backend): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.acquireRelease(
    Effect.promise(() => Promise.all(b.nodes.replicas.map(pauseReplay))),
    () => Effect.promise(() => Promise.all(b.nodes.replicas.map(resumeReplay)))
  ))

/** A replica frozen under a read load: the node, the load (still running) and when it froze and thawed. */
export interface FrozenUnderLoad {
  readonly target: NodeInfo
  readonly load: Load
  readonly frozenAt: number
  readonly thawedAt: number
}

/**
 * Warms up, starts a 20-fiber read load on `read`, freezes `b`'s first replica (SIGSTOP) for `frozenMs` half a second
 * later and thaws it; the load goes on (the caller stops it). The cluster is restored when the scope closes.
 */
export const frozenUnderLoad = (
  b: Backend,
  read: SqlClient.SqlClient,
  frozenMs: number
): Effect.Effect<FrozenUnderLoad, SqlError, Scope.Scope> =>
  Effect.gen(function*() {
    const target = b.nodes.replicas[0]!
    yield* Effect.addFinalizer(() => restoreCluster(b))
    yield* warmUp(b, read)
    const load = yield* startLoad(b, read, 20)
    yield* Effect.sleep("500 millis")
    yield* control(() => freezeNode(target))
    const frozenAt = Date.now()
    yield* Effect.sleep(`${frozenMs} millis`).pipe(Effect.ensuring(control(() => unfreezeNode(target))))
    return { target, load, frozenAt, thawedAt: Date.now() }
  })
