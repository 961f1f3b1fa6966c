/**
 * What the application reports of its own statements on a node: a failure that makes the node suspect (and wakes its
 * probe to confirm), or a success that clears suspicion and feeds the smoothed latency.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import { type Classification, classify } from "../ErrorClassification.js"
import type { Apply } from "./apply.js"
import type { NodeRuntime } from "./nodes.js"

/** Classifies an error met on the node and applies it when it says something about the node. */
export const failure = (rt: NodeRuntime, error: unknown, apply: Apply): Effect.Effect<Classification> =>
  Effect.gen(function*() {
    const verdict = classify(error)
    // A statement error says nothing about the node; neither does a pool with no connection free.
    if (verdict._tag === "Statement" || verdict._tag === "Busy") return verdict
    const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    const [before, after] = yield* apply(rt, {
      _tag: "Failed",
      source: "report",
      tag: verdict._tag === "Authentication" ? "AuthenticationFailed" : "ConnectionFailed",
      ...(verdict.code === undefined ? {} : { code: verdict.code }),
      message: verdict._tag === "Authentication"
        ? "the application's login was refused"
        : "the application met a connection-class error",
      at
    })
    // Confirm a new suspicion with a probe now; an UNHEALTHY node keeps its backoff (no tight loop).
    if (before.status !== after.status && after.status !== "UNHEALTHY") yield* Queue.offer(rt.wake, undefined)
    return verdict
  })

/** Applies a statement that succeeded on the node in `latency`. */
export const success = (rt: NodeRuntime, latency: Duration.DurationInput, apply: Apply): Effect.Effect<void> =>
  Effect.gen(function*() {
    const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    yield* apply(rt, { _tag: "SuccessReported", latency: Duration.decode(latency), at })
  })
