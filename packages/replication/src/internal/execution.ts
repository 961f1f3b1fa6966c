/**
 * Carrying out a decided route (ARCHITECTURE.md, "The path of one statement"): a statement runs where
 * `Decision.decide` sent it, through the primary and replica modules; a stream is placed there. Built once per
 * router: the functions are made here once, and a statement pays no closure and no Effect wrapper for them.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import { PrimaryUnavailable, toSqlError } from "../RouterError.js"
import type * as Decision from "./decision.js"
import type * as Primary from "./primary.js"
import type { Replicas } from "./replicas.js"
import type { Recorder } from "./routeStats.js"
import * as SessionReads from "./sessionReads.js"

const why: Record<"none" | "conflict" | "demoted", string> = {
  none: "no node answers as the primary now (a promotion or switchover may be in progress)",
  conflict: "several nodes answer as writable and none can be named the primary (a role conflict)",
  demoted: "the configured primary answers as a replica"
}

/** A write that found no primary: nothing was sent. */
export const noPrimaryError = (reason: keyof typeof why): SqlError =>
  toSqlError(new PrimaryUnavailable({ node: "(none)", reason: why[reason] }))

/** What carrying out a route needs. */
export interface ExecutionOptions {
  readonly config: ResolvedReadWriteConfig
  /** Execution on a node as the primary (the one the decision named). */
  readonly primaries: (node: string) => Primary.Primary
  readonly replicas: Replicas
  readonly recorder: Recorder
}

/** Carrying out a route: a statement's (`execute`) and a stream's (`place`). */
export interface Execution {
  /** Runs a statement on the route's connection, in the caller's fiber `fiber`. */
  readonly execute: <A>(
    route: Decision.Route,
    run: Primary.Run<A>,
    fiber: Fiber.RuntimeFiber<any, any>
  ) => Effect.Effect<A, SqlError>
  /**
   * A stream is placed like any statement but never retried: rows already delivered cannot be taken back. Its
   * connection (and a fallback permit, on the primary) is held until the stream ends.
   */
  readonly place: (
    route: Decision.Route,
    stream: (connection: Connection) => Stream.Stream<any, SqlError>,
    fiber: Fiber.RuntimeFiber<any, any>
  ) => Effect.Effect<Stream.Stream<any, SqlError>, SqlError, Scope.Scope>
}

const transactionOf = (fiber: Fiber.RuntimeFiber<any, any>): Connection =>
  Context.unsafeGet(fiber.currentContext, SqlClient.TransactionConnection)[0]

/** Builds the execution of one router's routes. */
export const make = (options: ExecutionOptions): Execution => {
  const { config, primaries: primaryOn, recorder, replicas: onReplicas } = options

  const execute: Execution["execute"] = <A>(
    route: Decision.Route,
    run: Primary.Run<A>,
    fiber: Fiber.RuntimeFiber<any, any>
  ): Effect.Effect<A, SqlError> => {
    switch (route._tag) {
      case "Transaction":
        return run(transactionOf(fiber))
      case "Primary":
        return primaryOn(route.node).run(route.reason, route.write, run, fiber)
      case "NoPrimary":
        return Effect.fail(noPrimaryError(route.why))
      case "Replicas":
        return onReplicas.read(route.order, route.reason, run, route.primary, fiber)
      case "Wait":
        // The wait's first poll rides in front of the read; only a replica found behind is waited for.
        return Effect.flatMap(
          onReplicas.readCarried(route.replica, route.token, run, fiber),
          (carried): Effect.Effect<A, SqlError> =>
            carried === SessionReads.failed || carried === SessionReads.gaveUp
              ? execute(route.otherwise, run, fiber)
              : carried === SessionReads.behind
              ? waitThenRead(route, run, fiber)
              : Effect.succeed(carried.value)
        )
      case "Fallback":
        return onReplicas.fallback(run, route.node)
      case "Refuse":
        return Effect.fail(onReplicas.noHealthyReplica)
    }
  }

  /** A wait on the route's replica, then the read there if it caught up, else the route's `otherwise`. */
  const waitThenRead = <A>(
    route: Extract<Decision.Route, { readonly _tag: "Wait" }>,
    run: Primary.Run<A>,
    fiber: Fiber.RuntimeFiber<any, any>
  ): Effect.Effect<A, SqlError> =>
    Effect.flatMap(
      onReplicas.waitFor(route.replica, route.token),
      (caughtUp): Effect.Effect<A, SqlError> =>
        caughtUp
          ? onReplicas.read([route.replica], "session", run, route.primary, fiber)
          : execute(route.otherwise, run, fiber)
    )

  const place: Execution["place"] = (route, stream, fiber) => {
    switch (route._tag) {
      case "Transaction":
        return Effect.succeed(stream(transactionOf(fiber)))
      case "Primary":
        return Effect.map(primaryOn(route.node).reserveFor(route.reason), stream)
      case "NoPrimary":
        return Effect.fail(noPrimaryError(route.why))
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
              caughtUp
                ? { _tag: "Replicas", reason: "session", order: [route.replica], primary: route.primary }
                : route.otherwise,
              stream,
              fiber
            )
        )
      case "Fallback":
        return config.readPreference === "replicaOnly"
          ? Effect.fail(onReplicas.noHealthyReplica)
          : Effect.zipRight(
            onReplicas.fallbackPermit,
            Effect.map(primaryOn(route.node).reserveFor("fallback"), stream)
          )
      case "Refuse":
        return Effect.fail(onReplicas.noHealthyReplica)
    }
  }

  return { execute, place }
}
