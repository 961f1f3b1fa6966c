/**
 * The router of one cluster: two @effect/sql clients over a primary and its replicas. Every statement, whatever its
 * path (template, compiled, raw, values, unprepared, stream), asks `Decision.decide` where it runs; `Execution`
 * carries that out through the primary and replica modules (ARCHITECTURE.md, "The path of one statement").
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import { ConnectionWrapper, HoldTypeId, ReadPin, WriteOnly } from "@fastorm/core"
import { HealthMonitor } from "@fastorm/health"
import type { NodeHealth } from "@fastorm/health"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import * as SessionToken from "../SessionToken.js"
import type { ConsistencyOps } from "./consistency.js"
import * as CutReads from "./cutReads.js"
import * as Decision from "./decision.js"
import * as DirectRunners from "./directRunners.js"
import type { Topology } from "./eligibility.js"
import { noteUpstreams, primaryOf, withRouting } from "./eligibility.js"
import * as Execution from "./execution.js"
import * as FairGate from "./fairGate.js"
import * as Metrics from "./metrics.js"
import { pinned, selectionFor } from "./pin.js"
import * as Primary from "./primary.js"
import * as PrimaryWait from "./primaryWait.js"
import * as Replicas from "./replicas.js"
import * as RouteStats from "./routeStats.js"
import * as Selection from "./selection.js"
import { kindOf } from "./statementKind.js"
import * as StatementSpan from "./statementSpan.js"
import * as Transactions from "./transactions.js"

/** One node the router can send statements to. */
export type NodeHandle = Primary.NodeHandle

/** Everything the router needs. */
export interface RouterOptions {
  /** The cluster's identity: session positions are kept per cluster. */
  readonly cluster: string
  /**
   * The nodes: a configured primary and its replicas, or (`learnt`) nodes of which the monitor says which one is the
   * primary now (ARCHITECTURE.md, "Topology").
   */
  readonly nodes:
    | { readonly roles: "configured"; readonly primary: NodeHandle; readonly replicas: ReadonlyArray<NodeHandle> }
    | { readonly roles: "learnt"; readonly nodes: ReadonlyArray<NodeHandle> }
  readonly config: ResolvedReadWriteConfig
  readonly compiler: Statement.Compiler
  /** Undefined for SQLite: every reader sees every commit. */
  readonly consistency: ConsistencyOps | undefined
  /** The database, for the OpenTelemetry `db.system.name` and `db.namespace` span attributes. */
  readonly database?: Database | undefined
}

/** The database a cluster serves, as OpenTelemetry names it. */
export interface Database {
  /** `postgresql`, `mariadb`, `mysql` or `sqlite`. */
  readonly system: string
  /** The database name (SQLite: the file). */
  readonly namespace?: string | undefined
}

/** What the router builds. */
export interface Router {
  readonly read: SqlClient.SqlClient
  readonly write: SqlClient.SqlClient
  readonly stats: Effect.Effect<RouteStats.RouteStats>
  readonly resetStats: Effect.Effect<void>
}

const inTransaction: Decision.Route = { _tag: "Transaction" }

/** Builds the read and write clients of one cluster. */
export const make = (
  options: RouterOptions
): Effect.Effect<Router, never, HealthMonitor.HealthMonitor | Reactivity | Scope.Scope> =>
  Effect.gen(function*() {
    const { config, consistency } = options
    const monitor = yield* HealthMonitor.HealthMonitor
    const snapshotNow = monitor.snapshotNow
    // Every path that finds no primary fails with the same error: nothing was sent.
    const noPrimary = Execution.noPrimaryError("none")
    const handles = options.nodes.roles === "configured"
      ? [options.nodes.primary, ...options.nodes.replicas]
      : options.nodes.nodes
    const recorder = RouteStats.make(
      options.cluster,
      new Map(handles.flatMap((h) => h.server === undefined ? [] : [[h.name, h.server] as const]))
    )
    // Nodes that may serve reads, and nodes that may take writes: with learnt roles, every node may be either.
    const replicas = options.nodes.roles === "configured" ? options.nodes.replicas : options.nodes.nodes
    const writers = options.nodes.roles === "configured" ? [options.nodes.primary] : options.nodes.nodes
    const topology: Topology = {
      roles: options.nodes.roles,
      replicas: replicas.map((r) => ({ name: r.name, weight: r.weight })),
      positionKind: consistency?.kind
    }
    yield* Metrics.samplePools(handles, "1 second")
    const known = new Map<string, string>()
    const failings = new Map<string, number>()
    // A replica found down: the reads waiting on it end at once and run elsewhere; one found failing, for any reason,
    // loses the position the router's waits learnt there (cutReads.ts), and the session waits on it poll no more.
    yield* CutReads.start(options.cluster, monitor, replicas, (node) => {
      known.delete(node)
      failings.set(node, (failings.get(node) ?? 0) + 1)
    })
    const outstanding = new Map<string, number>(replicas.map((r) => [r.name, 0]))
    // The primary each replica was last seen replicating from, noted once per snapshot (`routed`).
    const upstream = new Map<string, string>()
    const learnt = { known, outstanding, upstream, failings }
    const selection = Selection.makeState(replicas.length)
    const report = (node: string, error: SqlError) => Effect.ignore(monitor.reportFailure(node, error.cause ?? error))
    // A node that refused a write as read-only was demoted since its last probe: probe it now, in the background.
    const recheck = (node: string) => Effect.asVoid(Effect.forkDaemon(Effect.ignore(monitor.checkNode(node))))
    const primaries = new Map(writers.map((node) => [
      node.name,
      Primary.make({ cluster: options.cluster, node, config, report, recheck, recorder, consistency })
    ]))
    const primaryOn = (node: string) => primaries.get(node)!
    const onReplicas = Replicas.make({
      cluster: options.cluster,
      topology,
      replicas,
      config,
      monitor,
      report,
      recorder,
      primaries: primaryOn,
      noPrimary,
      consistency,
      fallbackPermits: yield* FairGate.make(config.maxFallbackConcurrency),
      selection,
      learnt
    })

    // The snapshot is one immutable array, replaced on each change: routings are resolved once per snapshot.
    let lastSnapshot: ReadonlyArray<NodeHealth.NodeHealth> | undefined
    let lastRouted: ReadonlyArray<NodeHealth.NodeHealth> = []
    // Statements waiting for a primary (primaryWait.ts) are told when a snapshot names another one, or the same one
    // with another status: any statement's decision notices it first.
    const primaryChanges = PrimaryWait.changes()
    let lastPrimary = ""
    const routed = (snapshot: ReadonlyArray<NodeHealth.NodeHealth>) => {
      if (snapshot !== lastSnapshot) {
        lastSnapshot = snapshot
        lastRouted = withRouting(snapshot)
        noteUpstreams(lastRouted, upstream)
        const primary = primaryOf(lastRouted)
        const named = primary === undefined ? "" : `${primary.name}|${primary.status}`
        if (named !== lastPrimary) {
          lastPrimary = named
          primaryChanges.fire()
        }
      }
      return lastRouted
    }

    /** The statement's situation, read in the caller's fiber. */
    const requestOf = (
      fiber: Fiber.RuntimeFiber<any, any>,
      client: Decision.Request["client"],
      sql: string
    ): Decision.Request => ({
      client,
      kind: kindOf(sql),
      writeOnly: Context.get(fiber.currentContext, WriteOnly),
      inTransaction: Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)._tag === "Some",
      token: SessionToken.positionOf(fiber.getFiberRef(SessionToken.currentTokens), options.cluster)
    })

    const decideIn = <A, E, R>(
      client: Decision.Request["client"],
      sql: string,
      then: (route: Decision.Route, fiber: Fiber.RuntimeFiber<any, any>) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E, R> =>
      // In the caller's fiber, without a generator: this runs before every routed statement.
      Effect.withFiberRuntime<A, E, R>((fiber) => decideWith(fiber, client, sql, then))

    /** The decision in `fiber`, the fiber that runs what it returns (`decideIn`, or a direct runner that has it). */
    const decideWith = <A, E, R>(
      fiber: Fiber.RuntimeFiber<any, any>,
      client: Decision.Request["client"],
      sql: string,
      then: (route: Decision.Route, fiber: Fiber.RuntimeFiber<any, any>) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E, R> => {
      // A read after the session's writes whose positions are pending: those are read first (a write never waits), and
      // the session is noted as one that reads its writes (its writes may then tell their positions themselves).
      if (client === "read") {
        const tokens = fiber.getFiberRef(SessionToken.currentTokens)
        if (SessionToken.pendingOf(tokens)[options.cluster] !== undefined) {
          SessionToken.noteReadAfterWrite(tokens, options.cluster)
          return Effect.zipRight(SessionToken.settle(options.cluster), decideIn(client, sql, then))
        }
      }
      // In a transaction the decision is the transaction's own connection, whatever the snapshot (`decide`'s
      // first rule): no statement kind, no snapshot read.
      if (Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)._tag === "Some") {
        return StatementSpan.under(fiber, then(inTransaction, fiber))
      }
      const request = requestOf(fiber, client, sql)
      const decide = (snapshot: ReadonlyArray<NodeHealth.NodeHealth>) => {
        const pin = Context.get(fiber.currentContext, ReadPin)
        const view = {
          topology,
          config,
          snapshot: routed(snapshot),
          learnt,
          selection: selectionFor(pin, selection)
        }
        return then(pinned(pin, Decision.decide(request, view)), fiber)
      }
      const decided = snapshotNow === undefined ? Effect.flatMap(monitor.snapshot, decide) : decide(snapshotNow())
      // A template statement's own span becomes the parent of its attempts (README, "Tracing").
      return StatementSpan.under(fiber, decided)
    }

    const { execute, place } = Execution.make({ config, primaries: primaryOn, replicas: onReplicas, recorder })

    // With `primaryWaitTimeout`, whatever finds no primary is decided again until one answers (primaryWait.ts);
    // without it (the default) nothing is wrapped.
    const waitForPrimary = PrimaryWait.make(
      config.primaryWaitTimeout,
      primaryChanges,
      PrimaryWait.reported(options.cluster)
    )
    const waiting: PrimaryWait.Around = waitForPrimary ?? ((attempt) => attempt)

    const statementsOf = (client: Decision.Request["client"]): ConnectionWrapper.Around =>
      waitForPrimary === undefined
        ? (sql, _params, run) => decideIn(client, sql, (route, fiber) => execute(route, run, fiber))
        : (sql, _params, run) => waitForPrimary(decideIn(client, sql, (route, fiber) => execute(route, run, fiber)))

    // A direct runner that knows the running fiber decides in it, unless a wait for the primary may decide again.
    const directOf = (client: Decision.Request["client"]): DirectRunners.AroundIn => {
      const statements = statementsOf(client)
      return (fiber, sql, params, run) =>
        fiber === undefined || waitForPrimary !== undefined
          ? statements(sql, params, run)
          : decideWith(fiber, client, sql, (route, fiber) => execute(route, run, fiber))
    }

    // A stream is placed (its connection reserved) before any row: a placement that finds no primary may wait.
    const streamsOf = (client: Decision.Request["client"]): ConnectionWrapper.AroundStream => (sql, _params, stream) =>
      Stream.unwrapScoped(waiting(decideIn(client, sql, (route, fiber) => place(route, stream, fiber))))

    // A transaction begins on the node that is the primary when it begins, and stays there.
    const transactions = Transactions.make({
      snapshot: monitor.snapshot,
      snapshotNow,
      routed,
      primaries,
      noPrimary
    })
    const transactionAcquirer = waiting(transactions.transactionAcquirer)
    const transactionHold = transactions.transactionHold === undefined
      ? undefined
      : waiting(transactions.transactionHold)

    const spanAttributes: ReadonlyArray<readonly [string, unknown]> = [
      ["fastorm.cluster", options.cluster],
      ...(options.database === undefined ? [] : [
        ["db.system.name", options.database.system] as const,
        ...(options.database.namespace === undefined ? [] : [["db.namespace", options.database.namespace] as const])
      ])
    ]
    const clientOf = (client: Decision.Request["client"]) =>
      SqlClient.make({
        acquirer: Effect.succeed(ConnectionWrapper.make(statementsOf(client), streamsOf(client))),
        transactionAcquirer,
        compiler: options.compiler,
        spanAttributes
      })
    const read = yield* clientOf("read")
    const write = yield* clientOf("write")

    DirectRunners.offer(read, directOf("read"), streamsOf("read"), spanAttributes)
    DirectRunners.offer(write, directOf("write"), streamsOf("write"), spanAttributes)
    if (transactionHold !== undefined) Object.assign(write, { [HoldTypeId]: transactionHold })

    return { read, write, stats: recorder.stats, resetStats: recorder.resetStats }
  })
