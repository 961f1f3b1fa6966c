/**
 * Counting routed statements (for `ConnectionRouter.stats` and the `fastorm_routed_statements_total` metric) and
 * telling the trace where each attempt ran (ARCHITECTURE.md, "The path of one statement").
 */
import { CompiledStatement } from "@fastorm/core"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import type { Reason } from "./decision.js"
import * as Metrics from "./metrics.js"

/** Counts of routed statements by node and reason, for tests and dashboards. */
export interface RouteStats {
  readonly byNode: Readonly<Record<string, number>>
  readonly byReason: Readonly<Record<string, number>>
  readonly byNodeAndReason: Readonly<Record<string, number>>
}

const routedCounterKey = MetricKey.counter("fastorm_routed_statements_total", {
  description: "Statements routed by FastORM, by node and reason",
  incremental: true
})

/** The counters of one router and the span each attempt carries. */
export interface Recorder {
  /** Counts a routed statement, synchronously, inside the caller's fiber. */
  readonly countIn: (fiber: Fiber.RuntimeFiber<any, any>, node: string, reason: Reason) => void
  /**
   * Counts an attempt and, when a tracer listens, tells the trace where it ran. `fiber`: the fiber about to run it,
   * when the caller has it (the router's decision reads it anyway); with no tracer listening, counting and timing
   * then take no runtime step of their own.
   */
  readonly traced: <A, E>(
    node: string,
    reason: Reason,
    effect: Effect.Effect<A, E>,
    fiber?: Fiber.RuntimeFiber<any, any>
  ) => Effect.Effect<A, E>
  /**
   * `traced` in parts, for a caller with outcome handlers of its own: counts an attempt in `fiber` now and returns
   * what records its duration, to call when the attempt ends...
   */
  readonly begin: (fiber: Fiber.RuntimeFiber<any, any>, node: string, reason: Reason) => () => void
  /**
   * Counts an attempt that began at `started` (`performance.now()`) and has ended, with its duration: for an attempt
   * that counts only once its outcome is known (a session read that carried its replica's poll, thrown away with the
   * poll when the replica was behind).
   */
  readonly countSince: (fiber: Fiber.RuntimeFiber<any, any>, node: string, reason: Reason, started: number) => void
  /** ...and tells the trace where the attempt ran, when a tracer listens: on the span current when it runs. */
  readonly spanned: <A, E>(
    fiber: Fiber.RuntimeFiber<any, any>,
    node: string,
    reason: Reason,
    effect: Effect.Effect<A, E>
  ) => Effect.Effect<A, E>
  readonly stats: Effect.Effect<RouteStats>
  readonly resetStats: Effect.Effect<void>
}

/** Where a node listens, for the OpenTelemetry `server.*` attributes. */
export interface Server {
  readonly address: string
  readonly port?: number | undefined
}

/** A recorder for the cluster `cluster`, whose nodes listen at `servers`. */
export const make = (cluster: string, servers: ReadonlyMap<string, Server> = new Map()): Recorder => {
  /** The attributes of an attempt on `node` (OpenTelemetry database semantic conventions beside FastORM's own). */
  const attributesOf = (node: string, reason: Reason): Record<string, unknown> => {
    const server = servers.get(node)
    return {
      "fastorm.node": node,
      "fastorm.reason": reason,
      "fastorm.cluster": cluster,
      ...(server === undefined ? {} : { "server.address": server.address }),
      ...(server?.port === undefined ? {} : { "server.port": server.port })
    }
  }

  // One slot per node and reason: a plain count for `stats` and the metric, tags resolved once.
  const slots = new Map<string, Map<Reason, { n: number; readonly counter: Metric.Metric.Counter<number> }>>()

  const slotOf = (node: string, reason: Reason) => {
    let byReason = slots.get(node)
    if (byReason === undefined) {
      byReason = new Map()
      slots.set(node, byReason)
    }
    let slot = byReason.get(reason)
    if (slot === undefined) {
      // Tags in the key, not added per call: Metric.tagged builds a new key (hashed, looked up) on every increment.
      slot = {
        n: 0,
        counter: Metric.fromMetricKey(
          routedCounterKey.pipe(MetricKey.tagged("node", node), MetricKey.tagged("reason", reason))
        )
      }
      byReason.set(reason, slot)
    }
    return slot
  }

  const durations = new Map<string, Metric.Metric.Histogram<number>>()
  const durationOf = (node: string) => {
    let histogram = durations.get(node)
    if (histogram === undefined) {
      histogram = Metrics.statementDuration(node)
      durations.set(node, histogram)
    }
    return histogram
  }

  const countIn = (fiber: Fiber.RuntimeFiber<any, any>, node: string, reason: Reason) => {
    const slot = slotOf(node, reason)
    slot.n++
    slot.counter.unsafeUpdate(1, fiber.getFiberRef(FiberRef.currentMetricLabels))
  }

  /** Records the time since `started` into `fastorm_statement_duration_ms`. */
  const timeSince = (fiber: Fiber.RuntimeFiber<any, any>, node: string, started: number) =>
    durationOf(node).unsafeUpdate(performance.now() - started, fiber.getFiberRef(FiberRef.currentMetricLabels))

  /** Counts an attempt; what it returns records the attempt's time. */
  const begin = (fiber: Fiber.RuntimeFiber<any, any>, node: string, reason: Reason) => {
    countIn(fiber, node, reason)
    const started = performance.now()
    return () => timeSince(fiber, node, started)
  }

  const countSince = (fiber: Fiber.RuntimeFiber<any, any>, node: string, reason: Reason, started: number) => {
    countIn(fiber, node, reason)
    timeSince(fiber, node, started)
  }

  /** Counts and times an attempt, failed attempts included. */
  const timed = <A, E>(
    fiber: Fiber.RuntimeFiber<any, any>,
    node: string,
    reason: Reason,
    effect: Effect.Effect<A, E>
  ) => {
    const record = begin(fiber, node, reason)
    // Not `ensuring`: a finalizer region per statement costs more than the record itself (`npm run bench:micro`).
    return Effect.matchCauseEffect(effect, {
      onFailure: (cause) => {
        record()
        return Effect.failCause(cause)
      },
      onSuccess: (a) => {
        record()
        return Effect.succeed(a)
      }
    })
  }

  /**
   * The statement's own `sql.execute` span carries the first attempt's route (one span per statement, as @effect/sql
   * makes); every later attempt (a retry, the fallback) gets a `fastorm.route` child span of its own, so a failed
   * attempt stays visible. A span nobody listens to is not opened at all.
   */
  const spanIn = <A, E>(
    fiber: Fiber.RuntimeFiber<any, any>,
    node: string,
    reason: Reason,
    effect: Effect.Effect<A, E>
  ): Effect.Effect<A, E> => {
    if (!CompiledStatement.isTracing(fiber)) return effect
    const span = fiber.currentSpan
    if (
      span !== undefined && span._tag === "Span" && span.name === "sql.execute" &&
      !span.attributes.has("fastorm.reason")
    ) {
      for (const [key, value] of Object.entries(attributesOf(node, reason))) span.attribute(key, value)
      return effect
    }
    return Effect.withSpan(effect, "fastorm.route", {
      kind: "internal",
      // A stack trace per statement costs more than the routing itself.
      captureStackTrace: false,
      attributes: attributesOf(node, reason)
    })
  }

  // The statement's span is current only once the attempt runs (`StatementSpan.under` sets it around the attempt
  // built at the decision): under a tracer it is looked up then, whoever calls.
  const spanned = <A, E>(
    fiber: Fiber.RuntimeFiber<any, any>,
    node: string,
    reason: Reason,
    effect: Effect.Effect<A, E>
  ): Effect.Effect<A, E> =>
    CompiledStatement.isTracing(fiber)
      ? Effect.withFiberRuntime<A, E>((running) => spanIn(running, node, reason, effect))
      : effect

  const tracedIn = <A, E>(
    fiber: Fiber.RuntimeFiber<any, any>,
    node: string,
    reason: Reason,
    effect: Effect.Effect<A, E>
  ) => spanIn(fiber, node, reason, timed(fiber, node, reason, effect))

  // With a tracer, the span is found when the attempt runs (the decision's span may be set around it after).
  const traced = <A, E>(
    node: string,
    reason: Reason,
    effect: Effect.Effect<A, E>,
    caller?: Fiber.RuntimeFiber<any, any>
  ) =>
    caller !== undefined && !CompiledStatement.isTracing(caller)
      ? tracedIn(caller, node, reason, effect)
      : Effect.withFiberRuntime<A, E>((fiber) => tracedIn(fiber, node, reason, effect))

  const stats = Effect.sync((): RouteStats => {
    const byNode: Record<string, number> = {}
    const byReason: Record<string, number> = {}
    const byNodeAndReason: Record<string, number> = {}
    for (const [node, byReasonOfNode] of slots) {
      for (const [reason, { n }] of byReasonOfNode) {
        if (n === 0) continue
        byNode[node] = (byNode[node] ?? 0) + n
        byReason[reason] = (byReason[reason] ?? 0) + n
        byNodeAndReason[`${node}|${reason}`] = n
      }
    }
    return { byNode, byReason, byNodeAndReason }
  })

  const resetStats = Effect.sync(() => {
    for (const byReasonOfNode of slots.values()) for (const slot of byReasonOfNode.values()) slot.n = 0
  })

  return { countIn, traced, begin, countSince, spanned, stats, resetStats }
}
