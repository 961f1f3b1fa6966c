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
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import { DatabaseAdapterFactory, SqlCompiler } from "@fastorm/adapters"
import { CompiledStatement, ReadConnection, WriteConnection } from "@fastorm/core"
import { ErrorClassification, HealthMonitor } from "@fastorm/health"
import type { NodeHealth } from "@fastorm/health"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as ConnectionRouter from "./ConnectionRouter.js"
import type { InvalidReadWriteConfig, ReadWriteConfig } from "./ReadWriteConfig.js"

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
  | Controls

interface Failure {
  readonly kind: FailureKind
  remaining: number | undefined
}

interface NodeState {
  readonly name: string
  readonly configuredRole: NodeHealth.Role
  readonly weight: number
  status: NodeHealth.Status
  role: NodeHealth.Role
  latency: Duration.Duration
  lag: number | undefined
  replicating: boolean
  failure: Failure | undefined
  /** Periods during which probes of the node fail (a connection-class failure or a hang was injected). */
  readonly faults: Array<{ readonly start: number; end: number | undefined }>
  /** The last probe asked for explicitly (`check`, `checkNode`, `Controls.probe`). */
  probedAt: number | undefined
  lastChangeAt: number | undefined
}

const connectPhase: ReadonlySet<FailureKind> = new Set(["connection", "hangOnConnect", "authentication"])
const probeFails: ReadonlySet<FailureKind> = new Set(["connection", "reset", "hang", "hangOnConnect", "authentication"])

const injected = (code: string, text: string) =>
  new SqlError({
    message: `FastOrmTest: ${text}`,
    cause: Object.assign(new Error(`FastOrmTest: ${text}`), { code })
  })

const errorCode = (error: SqlError): string | undefined => {
  const code = (error.cause as { readonly code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

/**
 * The router writes each routed statement's reason on the statement's span (`sql.execute`, or a `fastorm.route` span
 * for a retry); statements on reserved connections (transactions, streams) have none.
 */
const routeReason: Effect.Effect<Reason | undefined> = Effect.map(Effect.option(Effect.currentSpan), (span) => {
  let current: Tracer.AnySpan | undefined = Option.getOrUndefined(span)
  while (current !== undefined && current._tag === "Span") {
    const reason = current.attributes.get("fastorm.reason")
    if (typeof reason === "string") return reason as Reason
    if (current.name === "sql.execute") return undefined
    current = Option.getOrUndefined(current.parent)
  }
  return undefined
})

const replicaOptions = (replicas: Options["replicas"]): ReadonlyArray<ReplicaOption> => {
  const given = replicas ?? 2
  if (typeof given === "number") return Array.from({ length: given }, (_, i) => ({ name: `replica-${i + 1}` }))
  return given.map((r) => typeof r === "string" ? { name: r } : r)
}

const build = (options: Options) =>
  Effect.gen(function*() {
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

    const fresh = (name: string, role: NodeHealth.Role, weight: number): NodeState => ({
      name,
      configuredRole: role,
      weight,
      status: "HEALTHY",
      role,
      latency: Duration.zero,
      lag: role === "replica" ? 0 : undefined,
      replicating: true,
      failure: undefined,
      faults: [],
      probedAt: undefined,
      lastChangeAt: undefined
    })
    const nodes = new Map<string, NodeState>([
      [primaryName, fresh(primaryName, "primary", 1)],
      ...replicaList.map((r) => [r.name, fresh(r.name, "replica", r.weight ?? 1)] as const)
    ])
    if (nodes.size !== replicaList.length + 1) return yield* Effect.dieMessage("FastOrmTest: two nodes have one name")
    const order = [...nodes.keys()]
    const node = (name: string) =>
      Effect.suspend(() => {
        const state = nodes.get(name)
        return state === undefined
          ? Effect.dieMessage(`FastOrmTest: no node named "${name}" (nodes: ${order.join(", ")})`)
          : Effect.succeed(state)
      })

    const now = Effect.clockWith((clock) => clock.currentTimeMillis)
    const start = yield* now

    /** Sets the node's failure and keeps the periods during which its probes fail. */
    const setFailure = (state: NodeState, failure: Failure | undefined, at: number) => {
      const open = state.faults.at(-1)?.end === undefined ? state.faults.at(-1) : undefined
      const failsProbes = failure !== undefined && probeFails.has(failure.kind)
      if (failsProbes && open === undefined) state.faults.push({ start: at, end: undefined })
      if (!failsProbes && open !== undefined) open.end = at
      // Only the recent past matters: the last probe lies within the last two periods.
      if (state.faults.length > 4) state.faults.splice(0, state.faults.length - 4)
      state.failure = failure
    }

    // ---- the statement log ----------------------------------------------------------------------------------

    const log: Array<RoutedStatement> = []
    const reports: Array<FailureReport> = []
    let connections = 0

    const begin = (entry: Omit<RoutedStatement, "seq" | "outcome">) =>
      Effect.sync(() => {
        const index = log.length
        log.push({ ...entry, seq: index + 1, outcome: "running" })
        return index
      })
    const end = (index: number, exit: Exit.Exit<unknown, SqlError>) =>
      Effect.sync(() => {
        const entry = log[index]
        if (entry === undefined) return // cleared meanwhile
        if (Exit.isSuccess(exit)) {
          log[index] = { ...entry, outcome: "ok" }
        } else {
          const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
          log[index] = error === undefined
            ? { ...entry, outcome: "interrupted" }
            : { ...entry, outcome: "failed", error: errorCode(error) }
        }
      })

    /** Takes the node's failure if it applies to `phase`, counting down limited ones. */
    const take = (state: NodeState, phase: "connect" | "statement", at: number): FailureKind | undefined => {
      const failure = state.failure
      if (failure === undefined || connectPhase.has(failure.kind) !== (phase === "connect")) return undefined
      if (failure.remaining !== undefined) {
        failure.remaining -= 1
        if (failure.remaining <= 0) setFailure(state, undefined, at)
      }
      return failure.kind
    }

    // ---- the controllable node clients ----------------------------------------------------------------------

    const wrapConnection = (state: NodeState, inner: Connection, connection: number): Connection => {
      const attempt = <A>(
        sql: string,
        params: ReadonlyArray<unknown>,
        fallbackReason: Reason,
        run: Effect.Effect<A, SqlError>
      ): Effect.Effect<A, SqlError> =>
        Effect.gen(function*() {
          const reason = (yield* routeReason) ?? fallbackReason
          const index = yield* begin({
            node: state.name,
            role: state.configuredRole,
            reason,
            sql,
            params,
            connection
          })
          const kind = take(state, "statement", yield* now)
          const outcome: Effect.Effect<A, SqlError> = Effect.zipRight(
            Duration.greaterThan(state.latency, Duration.zero) ? Effect.sleep(state.latency) : Effect.void,
            kind === "reset"
              ? Effect.fail(injected("ECONNRESET", `the connection to "${state.name}" was reset`))
              : kind === "statement"
              ? Effect.fail(injected("SQLITE_ERROR", `"${state.name}" refused the statement`))
              : kind === "hang"
              ? Effect.never
              : run
          )
          return yield* Effect.onExit(outcome, (exit) => end(index, exit))
        })
      return {
        execute: (sql, params, transformRows) =>
          attempt(sql, params, "transaction", inner.execute(sql, params, transformRows)),
        executeRaw: (sql, params) => attempt(sql, params, "transaction", inner.executeRaw(sql, params)),
        executeValues: (sql, params) => attempt(sql, params, "transaction", inner.executeValues(sql, params)),
        executeUnprepared: (sql, params, transformRows) =>
          attempt(sql, params, "transaction", inner.executeUnprepared(sql, params, transformRows)),
        executeStream: (sql, params, transformRows) =>
          // Rows are delivered as they come: only placement and injected failures apply to streams.
          Stream.unwrap(Effect.gen(function*() {
            const reason = (yield* routeReason) ?? "stream"
            const index = yield* begin({
              node: state.name,
              role: state.configuredRole,
              reason,
              sql,
              params,
              connection
            })
            const kind = take(state, "statement", yield* now)
            if (kind === "reset" || kind === "statement") {
              const error = kind === "reset"
                ? injected("ECONNRESET", `the connection to "${state.name}" was reset`)
                : injected("SQLITE_ERROR", `"${state.name}" refused the statement`)
              yield* end(index, Exit.fail(error))
              return Stream.fail(error)
            }
            if (kind === "hang") return Stream.never
            yield* end(index, Exit.void)
            return inner.executeStream(sql, params, transformRows)
          }))
      }
    }

    const wrapClient = (state: NodeState, inner: SqlClient.SqlClient) => {
      const acquirer: Effect.Effect<Connection, SqlError, Scope.Scope> = Effect.gen(function*() {
        const connection = ++connections
        const kind = take(state, "connect", yield* now)
        if (kind !== undefined) {
          const reason = (yield* routeReason) ?? "transaction"
          const index = yield* begin({
            node: state.name,
            role: state.configuredRole,
            reason,
            sql: undefined,
            params: [],
            connection
          })
          const outcome: Effect.Effect<never, SqlError> = kind === "connection"
            ? Effect.fail(injected("ECONNREFUSED", `connecting to "${state.name}" was refused`))
            : kind === "authentication"
            ? Effect.fail(injected("28P01", `password authentication failed on "${state.name}"`))
            : Effect.never
          return yield* Effect.onExit(outcome, (exit) => end(index, exit))
        }
        return wrapConnection(state, yield* inner.reserve, connection)
      })
      return SqlClient.make({
        acquirer,
        compiler: SqlCompiler.make("sqlite"),
        spanAttributes: [["fastorm.node", state.name]]
      })
    }

    const primaryClient = yield* wrapClient(nodes.get(primaryName)!, writer)
    const replicaClients = yield* Effect.forEach(
      replicaList,
      (r, i) => wrapClient(nodes.get(r.name)!, readers[i]!)
    )

    // ---- the test HealthMonitor -----------------------------------------------------------------------------

    // Probes are not run by a fiber: the state of the last probe is derived from the clock when asked for, so it is
    // exact right after `TestClock.adjust`, whatever the scheduler did meanwhile. A probe runs every `probeInterval`
    // from the layer's start (and when asked for); it fails while a connection-class failure or a hang is injected.
    const probeInterval = Math.max(1, Duration.toMillis(Duration.decode(options.probeInterval ?? Duration.seconds(1))))
    const tickAtOrBefore = (at: number) => start + Math.floor((at - start) / probeInterval) * probeInterval
    const failingAt = (state: NodeState, at: number) =>
      state.faults.find((f) => f.start <= at && (f.end === undefined || f.end > at))

    const health = (state: NodeState, at: number): NodeHealth.NodeHealth => {
      const tick = tickAtOrBefore(at)
      const checkedAt = Math.max(tick > start ? tick : -Infinity, state.probedAt ?? -Infinity)
      const checked = Number.isFinite(checkedAt)
      const fault = checked ? failingAt(state, checkedAt) : undefined
      // Consecutive failed probes: the ticks since the fault began, up to the last probe.
      const failures = fault === undefined
        ? 0
        : Math.max(
          1,
          Math.floor((checkedAt - start) / probeInterval) - Math.ceil((fault.start - start) / probeInterval) + 1
        )
      return {
        name: state.name,
        configuredRole: state.configuredRole,
        role: state.role,
        roleMismatch: state.role !== state.configuredRole,
        status: state.status,
        lastLatency: state.latency,
        smoothedLatency: state.latency,
        lagSeconds: state.configuredRole === "primary" ? 0 : state.lag,
        replicating: state.configuredRole === "primary" ? undefined : state.replicating,
        position: undefined,
        consecutiveFailures: failures,
        consecutiveSuccesses: checked && fault === undefined ? 1 : 0,
        lastError: fault === undefined ? undefined : {
          tag: state.failure?.kind === "connection" ? "ConnectionFailed" : "Timeout",
          message: "FastOrmTest: the simulated probe failed",
          at: checkedAt,
          source: "probe"
        },
        lastCheckedAt: checked ? checkedAt : undefined,
        lastChangeAt: state.lastChangeAt
      }
    }

    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<NodeHealth.StatusChange>(), PubSub.shutdown)
    const probeNode = (state: NodeState) =>
      Effect.map(now, (at) => {
        state.probedAt = at
      })
    const probeAll = Effect.forEach(nodes.values(), probeNode, { discard: true })

    const snapshot = Effect.map(now, (at) => order.map((name) => health(nodes.get(name)!, at)))
    const lookup = (name: string) =>
      Effect.suspend(() => {
        const state = nodes.get(name)
        return state === undefined ? Effect.fail(new HealthMonitor.UnknownNode({ node: name })) : Effect.succeed(state)
      })

    const monitor: HealthMonitor.HealthMonitorShape = {
      nodes: order.map((name) => ({ name, role: nodes.get(name)!.configuredRole })),
      snapshot,
      health: (name) => Effect.flatMap(lookup(name), (state) => Effect.map(now, (at) => health(state, at))),
      status: (name) => Effect.map(lookup(name), (state) => state.status),
      changes: Stream.fromPubSub(pubsub),
      subscribe: PubSub.subscribe(pubsub),
      check: Effect.zipRight(probeAll, snapshot),
      checkNode: (name) =>
        Effect.flatMap(
          lookup(name),
          (state) => Effect.zipRight(probeNode(state), Effect.map(now, (at) => health(state, at)))
        ),
      // The status stays what the test set: the router's own suspicion (until a later successful probe) applies.
      reportFailure: (name, error) =>
        Effect.flatMap(lookup(name), () => {
          const classification = ErrorClassification.classify(error)
          return Effect.map(now, (at) => {
            if (classification._tag !== "Statement") {
              reports.push({ node: name, classification: classification._tag, code: classification.code, at })
            }
            return classification
          })
        }),
      reportSuccess: (name) => Effect.asVoid(lookup(name))
    }

    // ---- the real router ------------------------------------------------------------------------------------

    const router = yield* ConnectionRouter.make({
      cluster: options.cluster ?? "test",
      dialect: "sqlite",
      primary: { name: primaryName, client: primaryClient, weight: 1 },
      replicas: replicaList.map((r, i) => ({ name: r.name, client: replicaClients[i]!, weight: r.weight ?? 1 })),
      readWrite: options.readWrite
    }).pipe(Effect.provideService(HealthMonitor.HealthMonitor, monitor))

    // ---- the controls ---------------------------------------------------------------------------------------

    const setStatus = (name: string, status: NodeHealth.Status) =>
      Effect.flatMap(node(name), (state) =>
        Effect.flatMap(now, (at) => {
          const from = state.status
          if (from === status) return Effect.void
          state.status = status
          state.lastChangeAt = at
          return PubSub.publish(pubsub, { node: name, from, to: status, at, health: health(state, at) })
        }))
    const update = (name: string, f: (state: NodeState) => void) =>
      Effect.flatMap(node(name), (state) => Effect.sync(() => f(state)))

    const controls: ControlsShape = {
      primary: primaryName,
      replicas: replicaList.map((r) => r.name),
      setStatus,
      setLatency: (name, latency) =>
        update(name, (state) => {
          state.latency = Duration.decode(latency)
        }),
      setLag: (name, seconds) =>
        update(name, (state) => {
          state.lag = seconds
        }),
      setReplicating: (name, replicating) =>
        update(name, (state) => {
          state.replicating = replicating
        }),
      setRole: (name, role) =>
        update(name, (state) => {
          state.role = role
        }),
      fail: (name, kind, failOptions) =>
        Effect.flatMap(now, (at) =>
          update(name, (state) => {
            setFailure(state, { kind, remaining: failOptions?.times }, at)
          })),
      recover: (name) =>
        Effect.zipRight(
          Effect.flatMap(now, (at) =>
            update(name, (state) => {
              setFailure(state, undefined, at)
              state.latency = Duration.zero
              state.lag = state.configuredRole === "replica" ? 0 : undefined
              state.replicating = true
              state.role = state.configuredRole
            })),
          setStatus(name, "HEALTHY")
        ),
      statements: Effect.sync(() => [...log]),
      reports: Effect.sync(() => [...reports]),
      clear: Effect.zipRight(
        Effect.sync(() => {
          log.length = 0
          reports.length = 0
        }),
        router.resetStats
      ),
      probe: probeAll
    }

    return Context.make(ConnectionRouter.ConnectionRouter, router).pipe(
      Context.add(ReadConnection, router.read),
      Context.add(WriteConnection, router.write),
      Context.add(SqlClient.SqlClient, router.write),
      Context.add(HealthMonitor.HealthMonitor, monitor),
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
  Layer.scopedContext(build(options)).pipe(Layer.provide(Reactivity.layer))

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
