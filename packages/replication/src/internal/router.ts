/**
 * The router of one cluster: two @effect/sql clients over a primary and its replicas. Every statement, whatever its
 * path (template, compiled, raw, values, unprepared, stream), asks `Decision.decide` where it runs; the primary and
 * replica modules carry that out (ARCHITECTURE.md, "The path of one statement").
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import { CompiledStatement, ConnectionWrapper, WriteOnly } from "@fastorm/core"
import { HealthMonitor } from "@fastorm/health"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import * as SessionToken from "../SessionToken.js"
import type { ConsistencyOps } from "./consistency.js"
import * as Decision from "./decision.js"
import type { Learnt, Topology } from "./eligibility.js"
import * as FairGate from "./fairGate.js"
import * as Primary from "./primary.js"
import * as Replicas from "./replicas.js"
import * as RouteStats from "./routeStats.js"
import * as Selection from "./selection.js"
import { kindOf } from "./statementKind.js"

/** One node the router can send statements to. */
export type NodeHandle = Primary.NodeHandle

/** Everything the router needs. */
export interface RouterOptions {
  /** The cluster's identity: session positions are kept per cluster. */
  readonly cluster: string
  readonly primary: NodeHandle
  readonly replicas: ReadonlyArray<NodeHandle>
  readonly config: ResolvedReadWriteConfig
  readonly compiler: Statement.Compiler
  /** Undefined for SQLite: every reader sees every commit. */
  readonly consistency: ConsistencyOps | undefined
}

/** What the router builds. */
export interface Router {
  readonly read: SqlClient.SqlClient
  readonly write: SqlClient.SqlClient
  readonly stats: Effect.Effect<RouteStats.RouteStats>
  readonly resetStats: Effect.Effect<void>
}

/** Builds the read and write clients of one cluster. */
export const make = (
  options: RouterOptions
): Effect.Effect<Router, never, HealthMonitor.HealthMonitor | Reactivity | Scope.Scope> =>
  Effect.gen(function*() {
    const { config, consistency, replicas } = options
    const monitor = yield* HealthMonitor.HealthMonitor
    const recorder = RouteStats.make(options.cluster)
    const topology: Topology = {
      primary: options.primary.name,
      replicas: replicas.map((r) => ({ name: r.name, weight: r.weight })),
      positionKind: consistency?.kind
    }
    const known = new Map<string, string>()
    const outstanding = new Map<string, number>(replicas.map((r) => [r.name, 0]))
    const learnt: Learnt = { known, outstanding }
    const selection = Selection.makeState(replicas.length)
    const report = (node: string, error: SqlError) => Effect.ignore(monitor.reportFailure(node, error.cause ?? error))
    const primary = Primary.make({
      cluster: options.cluster,
      node: options.primary,
      config,
      report,
      recorder,
      consistency
    })
    const onReplicas = Replicas.make({
      topology,
      replicas,
      config,
      monitor,
      report,
      recorder,
      primary,
      consistency,
      fallbackPermits: yield* FairGate.make(config.maxFallbackConcurrency),
      selection,
      learnt: { known, outstanding }
    })

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
      token: fiber.getFiberRef(SessionToken.currentTokens)[options.cluster]
    })

    const decideIn = <A, E, R>(
      client: Decision.Request["client"],
      sql: string,
      then: (route: Decision.Route, fiber: Fiber.RuntimeFiber<any, any>) => Effect.Effect<A, E, R>
    ) =>
      // In the caller's fiber, without a generator: this runs before every routed statement.
      Effect.withFiberRuntime<A, E, R>((fiber) => {
        const request = requestOf(fiber, client, sql)
        return Effect.flatMap(
          monitor.snapshot,
          (snapshot) => then(Decision.decide(request, { topology, config, snapshot, learnt, selection }), fiber)
        )
      })

    const transactionOf = (fiber: Fiber.RuntimeFiber<any, any>): Connection =>
      Context.unsafeGet(fiber.currentContext, SqlClient.TransactionConnection)[0]

    const execute = <A>(route: Decision.Route, run: Primary.Run<A>, fiber: Fiber.RuntimeFiber<any, any>) => {
      switch (route._tag) {
        case "Transaction":
          return run(transactionOf(fiber))
        case "Primary":
          return primary.run(route.reason, route.write, run)
        case "Replicas":
          return onReplicas.read(route.order, route.reason, run)
        case "Wait":
          return Effect.flatMap(
            onReplicas.waitFor(route.replica, route.token),
            (caughtUp): Effect.Effect<A, SqlError> =>
              caughtUp ? onReplicas.read([route.replica], "session", run) : execute(route.otherwise, run, fiber)
          )
        case "Fallback":
          return onReplicas.fallback(run)
        case "Refuse":
          return Effect.fail(onReplicas.noHealthyReplica)
      }
    }

    const statementsOf = (client: Decision.Request["client"]): ConnectionWrapper.Around => (sql, _params, run) =>
      decideIn(client, sql, (route, fiber) => execute(route, run, fiber))

    /**
     * A stream is placed like any statement but never retried: rows already delivered cannot be taken back. Its
     * connection (and a fallback permit, on the primary) is held until the stream ends.
     */
    const place = (
      route: Decision.Route,
      stream: (connection: Connection) => Stream.Stream<any, SqlError>,
      fiber: Fiber.RuntimeFiber<any, any>
    ): Effect.Effect<Stream.Stream<any, SqlError>, SqlError, Scope.Scope> => {
      switch (route._tag) {
        case "Transaction":
          return Effect.succeed(stream(transactionOf(fiber)))
        case "Primary":
          return Effect.map(primary.reserveFor(route.reason), stream)
        case "Replicas": {
          const first = route.order[0]!
          recorder.countIn(fiber, first.name, route.reason)
          return Effect.map(onReplicas.reserve(first), stream)
        }
        case "Wait":
          return Effect.flatMap(
            onReplicas.waitFor(route.replica, route.token),
            (caughtUp) =>
              place(
                caughtUp ? { _tag: "Replicas", reason: "session", order: [route.replica] } : route.otherwise,
                stream,
                fiber
              )
          )
        case "Fallback":
          return config.readPreference === "replicaOnly"
            ? Effect.fail(onReplicas.noHealthyReplica)
            : Effect.zipRight(onReplicas.fallbackPermit, Effect.map(primary.reserveFor("fallback"), stream))
        case "Refuse":
          return Effect.fail(onReplicas.noHealthyReplica)
      }
    }

    const streamsOf = (client: Decision.Request["client"]): ConnectionWrapper.AroundStream => (sql, _params, stream) =>
      Stream.unwrapScoped(decideIn(client, sql, (route, fiber) => place(route, stream, fiber)))

    const spanAttributes: ReadonlyArray<readonly [string, unknown]> = [["fastorm.cluster", options.cluster]]
    const clientOf = (client: Decision.Request["client"]) =>
      SqlClient.make({
        acquirer: Effect.succeed(ConnectionWrapper.make(statementsOf(client), streamsOf(client))),
        transactionAcquirer: primary.transaction,
        compiler: options.compiler,
        spanAttributes
      })
    const read = yield* clientOf("read")
    const write = yield* clientOf("write")

    /**
     * Compiled statements (repositories' hot reads) skip @effect/sql's Statement, scope and span: routed like any
     * statement, run as prepared statements on the node's pooled connection, traced only when a tracer listens.
     */
    const directRunner =
      (client: SqlClient.SqlClient, around: ConnectionWrapper.Around): CompiledStatement.Run => (statement, params) =>
        Effect.withFiberRuntime((fiber) => {
          // A statement transformer applies only on @effect/sql's own path.
          if (CompiledStatement.placement(fiber)._tag === "Statement") return client.unsafe(statement.sql, params)
          const effect = around(statement.sql, params, (c) => CompiledStatement.executeOn(c, statement, params))
          return CompiledStatement.isTracing(fiber)
            ? Effect.withSpan(effect, "sql.execute", {
              kind: "client",
              captureStackTrace: false,
              attributes: CompiledStatement.spanAttributes(statement, spanAttributes)
            })
            : effect
        })
    Object.assign(read, { [CompiledStatement.RunnerTypeId]: directRunner(read, statementsOf("read")) })
    Object.assign(write, { [CompiledStatement.RunnerTypeId]: directRunner(write, statementsOf("write")) })

    return { read, write, stats: recorder.stats, resetStats: recorder.resetStats }
  })
