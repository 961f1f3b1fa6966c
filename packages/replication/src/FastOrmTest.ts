/**
 * `FastOrmTest.layer(...)`: a cluster of mocked nodes for users' tests. The data lives in one SQLite file (WAL): the
 * primary is a writer connection and each replica a read-only reader on the same file. Every node's client records
 * the statements the real router sends it and obeys the test: latency (`Effect.sleep`, so `TestClock` drives it),
 * connection-class failures, statement errors, hangs. Health (status, lag, role, latency) comes from a test
 * HealthMonitor whose state the test sets through `Controls`. The routing engine is the real one
 * (`ConnectionRouter.make`), so an application can test its own behaviour under failover without any server.
 *
 * What it cannot show: replication delay of the data itself (every reader sees every commit of the one file; a lag
 * is only what the monitor reports) and session tokens (SQLite tokens are no-ops).
 *
 * ```ts
 * it.effect("my app survives a replica going down", () =>
 *   Effect.gen(function*() {
 *     yield* FastOrmTest.fail("replica-1", "connection")
 *     yield* myAppRead                                     // retried on replica-2: no error
 *     yield* FastOrmTest.setStatus("replica-2", "UNHEALTHY")
 *     yield* myAppRead                                     // no replica left: the primary serves it
 *     const log = yield* FastOrmTest.statements            // [{ node, reason, sql, outcome, ... }, ...]
 *     yield* FastOrmTest.recover("replica-1")
 *     yield* TestClock.adjust("1 second")                  // a successful probe clears the router's suspicion
 *   }).pipe(Effect.provide(FastOrmTest.layer({ replicas: 2, readWrite: { statementTimeout: "2 seconds" } }))))
 * ```
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import { DatabaseAdapterFactory } from "@fastorm/adapters"
import { CompiledStatement, type ReadConnection, type WriteConnection } from "@fastorm/core"
import type { ErrorClassification } from "@fastorm/health"
import { ClusterStatus, HealthMonitor } from "@fastorm/health"
import type { NodeHealth } from "@fastorm/health"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as ConnectionRouter from "./ConnectionRouter.js"
import * as StatementSpan from "./internal/statementSpan.js"
import * as TestControls from "./internal/testControls.js"
import * as TestMonitor from "./internal/testMonitor.js"
import * as TestNodes from "./internal/testNodes.js"
import type { InvalidReadWriteConfig, ReadWriteConfig } from "./ReadWriteConfig.js"
import { resolve } from "./ReadWriteConfig.js"

/**
 * What a node does wrong until `recover` (or for the next `times` statements):
 * - `connection`: connecting is refused (ECONNREFUSED): nothing reaches the server;
 * - `reset`: the connection drops while a statement runs (ECONNRESET); the statement is not applied;
 * - `statement`: the server answers with an error (an ordinary statement error, never retried);
 * - `hang`: the server never answers a statement (a frozen server); only the router's deadline ends it;
 * - `hangOnConnect`: connecting never completes (the handshake of a frozen server);
 * - `authentication`: the server refuses the login (SQLSTATE 28P01): nothing is sent, another node may serve.
 */
export type FailureKind = "connection" | "reset" | "statement" | "hang" | "hangOnConnect" | "authentication"

/** Why a statement ran where it did: the router's reason, or `transaction` / `stream` for reserved connections. */
export type Reason = ConnectionRouter.Reason | "transaction" | "stream"

/** One attempt to run a statement on one node, as the node saw it. */
export interface RoutedStatement {
  /** Order of the attempt in the log, from 1. */
  readonly seq: number
  readonly node: string
  readonly role: "primary" | "replica"
  readonly reason: Reason
  /** The SQL; undefined when the attempt failed while connecting (the statement never reached the node). */
  readonly sql: string | undefined
  readonly params: ReadonlyArray<unknown>
  /** A number per reserved connection: every statement of one transaction shares one. */
  readonly connection: number
  /** `running` until it ends; `failed` carries the injected error's code in `error`. */
  readonly outcome: "running" | "ok" | "failed" | "interrupted"
  readonly error?: string | undefined
}

/** A failure the router reported to the monitor (it does so at once on connection-class errors). */
export interface FailureReport {
  readonly node: string
  readonly classification: ErrorClassification.ErrorClass
  readonly code?: string | undefined
  /** Epoch milliseconds of the Effect `Clock` (the TestClock in tests). */
  readonly at: number
}

/** The handle a test uses to script the cluster and read what happened. */
export interface ControlsShape {
  readonly primary: string
  readonly replicas: ReadonlyArray<string>
  /** The status the monitor reports for `node` from now on. */
  readonly setStatus: (node: string, status: NodeHealth.Status) => Effect.Effect<void>
  /** Each statement on `node` takes this long (`Effect.sleep`); the monitor reports it as the node's latency. */
  readonly setLatency: (node: string, latency: Duration.DurationInput) => Effect.Effect<void>
  /** The replication lag the monitor reports for a replica; undefined means unknown. */
  readonly setLag: (node: string, seconds: number | undefined) => Effect.Effect<void>
  /** Whether the monitor sees the replica replicating (false: stopped replication, excluded from reads). */
  readonly setReplicating: (node: string, replicating: boolean) => Effect.Effect<void>
  /** The role the monitor observes (a replica observed as primary was promoted: a role mismatch). */
  readonly setRole: (node: string, role: NodeHealth.Role) => Effect.Effect<void>
  /** Makes `node` fail (see `FailureKind`) until `recover`, or for the next `times` attempts. */
  readonly fail: (node: string, kind: FailureKind, options?: { readonly times?: number | undefined }) => Effect.Effect<
    void
  >
  /** Brings `node` back to normal: no failure, HEALTHY, no latency, no lag, replicating, its configured role. */
  readonly recover: (node: string) => Effect.Effect<void>
  /** Every attempt so far, in order. */
  readonly statements: Effect.Effect<ReadonlyArray<RoutedStatement>>
  /** The failures the router reported to the monitor so far. */
  readonly reports: Effect.Effect<ReadonlyArray<FailureReport>>
  /** Forgets the recorded statements and reports (the router's own stats are reset too). */
  readonly clear: Effect.Effect<void>
  /** Counts as a probe of every node now (probes also happen every `probeInterval` of the clock). */
  readonly probe: Effect.Effect<void>
}

/** The controls of the test cluster. */
export class Controls extends Context.Tag("@fastorm/replication/FastOrmTest/Controls")<Controls, ControlsShape>() {}

/** A replica given by name, with its weight for the `weighted` strategy. */
export interface ReplicaOption {
  readonly name: string
  readonly weight?: number | undefined
}

/** Options of the test layer. */
export interface Options {
  /** The replicas: a count (named "replica-1", ...) or names. Default 2. */
  readonly replicas?: number | ReadonlyArray<string | ReplicaOption> | undefined
  /** The primary's name. Default "primary". */
  readonly primary?: string | undefined
  /** The router's configuration, exactly as for `FastOrm.layer`. */
  readonly readWrite?: ReadWriteConfig | undefined
  /**
   * Time between simulated probes. A probe succeeds on a node that is not failing by connection, reset or hang, and
   * that is what clears the router's suspicion of a node after a connection-class error. Default 1 second.
   */
  readonly probeInterval?: Duration.DurationInput | undefined
  /** The database file; default a fresh file in a temporary directory, removed when the layer is released. */
  readonly filename?: string | undefined
  /** The cluster's name. Default "test". */
  readonly cluster?: string | undefined
}

/** The services the test layer provides: those of `FastOrm.layer`, the HealthMonitor, and the controls. */
export type Services =
  | ConnectionRouter.ConnectionRouter
  | ReadConnection
  | WriteConnection
  | SqlClient.SqlClient
  | HealthMonitor.HealthMonitor
  | ClusterStatus.ClusterStatus
  | Controls

const replicaOptions = (replicas: Options["replicas"]): ReadonlyArray<ReplicaOption> => {
  const given = replicas ?? 2
  if (typeof given === "number") return Array.from({ length: given }, (_, i) => ({ name: `replica-${i + 1}` }))
  return given.map((r) => typeof r === "string" ? { name: r } : r)
}

const build = (options: Options) =>
  Effect.gen(function*() {
    const readWrite = yield* Either.match(resolve(options.readWrite), { onLeft: Effect.fail, onRight: Effect.succeed })
    let filename = options.filename
    if (filename === undefined) {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fastorm-test-"))),
        (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
      )
      filename = Path.join(dir, "cluster.db")
    }
    const primaryName = options.primary ?? "primary"
    const replicaList = replicaOptions(options.replicas)
    const adapter = yield* Effect.orDie(
      DatabaseAdapterFactory.create(`sqlite:///${Path.resolve(filename)}`, { name: primaryName })
    )
    // The writer creates the file and switches it to WAL before the readers open it read-only.
    const writer = yield* Effect.orDie(adapter.makeClient())
    const readers = yield* Effect.forEach(replicaList, () => Effect.orDie(adapter.makeClient({ readOnly: true })))

    const nodes = new Map<string, TestNodes.NodeState>([
      [primaryName, TestNodes.freshState(primaryName, "primary", 1)],
      ...replicaList.map((r) => [r.name, TestNodes.freshState(r.name, "replica", r.weight ?? 1)] as const)
    ])
    if (nodes.size !== replicaList.length + 1) return yield* Effect.dieMessage("FastOrmTest: two nodes have one name")

    // The scripted nodes and monitor, under the real router.
    const log = TestNodes.makeLog()
    // The node clients bound connecting and statements as the adapters' clients do under FastOrm.layer.
    const bounds = { connectTimeout: readWrite.connectTimeout, statementTimeout: readWrite.statementTimeout }
    const primaryClient = yield* TestNodes.makeClient(nodes.get(primaryName)!, writer, log, bounds)
    const replicaClients = yield* Effect.forEach(
      replicaList,
      (r, i) => TestNodes.makeClient(nodes.get(r.name)!, readers[i]!, log, bounds)
    )
    const tested = yield* TestMonitor.make(nodes, options.probeInterval ?? Duration.seconds(1))
    const router = yield* ConnectionRouter.makeResolved({
      cluster: options.cluster ?? "test",
      dialect: "sqlite",
      primary: { name: primaryName, client: primaryClient, weight: 1 },
      replicas: replicaList.map((r, i) => ({ name: r.name, client: replicaClients[i]!, weight: r.weight ?? 1 }))
    }, readWrite).pipe(Effect.provideService(HealthMonitor.HealthMonitor, tested.monitor))

    const controls = TestControls.make({
      primary: primaryName,
      replicas: replicaList.map((r) => r.name),
      nodes,
      monitor: tested,
      log,
      resetStats: router.resetStats
    })

    return ConnectionRouter.contextOf(router).pipe(
      Context.add(HealthMonitor.HealthMonitor, tested.monitor),
      Context.add(ClusterStatus.ClusterStatus, ClusterStatus.fromMonitor(router.cluster, tested.monitor)),
      Context.add(Controls, controls),
      // The statement log reads each statement's reason from the router's span, so spans are always opened here.
      Context.add(CompiledStatement.StatementSpans, "always")
    )
  })

/**
 * A mocked cluster for tests: one primary and `replicas` replicas over one SQLite file, routed by the real router,
 * scripted through `Controls`. Build it inside the test (`Effect.provide`) so its clock is the `TestClock`.
 */
export const layer = (options: Options = {}): Layer.Layer<Services, InvalidReadWriteConfig> =>
  Layer.scopedContext(build(options)).pipe(Layer.provide(Reactivity.layer), Layer.merge(StatementSpan.layer))

/** Sets the status the monitor reports for a node. */
export const setStatus = (node: string, status: NodeHealth.Status): Effect.Effect<void, never, Controls> =>
  Effect.flatMap(Controls, (c) => c.setStatus(node, status))

/** Makes every statement on a node take this long. */
export const setLatency = (node: string, latency: Duration.DurationInput): Effect.Effect<void, never, Controls> =>
  Effect.flatMap(Controls, (c) => c.setLatency(node, latency))

/** Sets the replication lag the monitor reports for a replica. */
export const setLag = (node: string, seconds: number | undefined): Effect.Effect<void, never, Controls> =>
  Effect.flatMap(Controls, (c) => c.setLag(node, seconds))

/** Makes a node fail until `recover` (or `times` attempts). */
export const fail = (
  node: string,
  kind: FailureKind,
  options?: { readonly times?: number | undefined }
): Effect.Effect<void, never, Controls> => Effect.flatMap(Controls, (c) => c.fail(node, kind, options))

/** Brings a node back to normal. */
export const recover = (node: string): Effect.Effect<void, never, Controls> =>
  Effect.flatMap(Controls, (c) => c.recover(node))

/** Every recorded attempt so far. */
export const statements: Effect.Effect<ReadonlyArray<RoutedStatement>, never, Controls> = Effect.flatMap(
  Controls,
  (c) => c.statements
)

/** Forgets the recorded attempts, reports and router stats. */
export const clear: Effect.Effect<void, never, Controls> = Effect.flatMap(Controls, (c) => c.clear)
