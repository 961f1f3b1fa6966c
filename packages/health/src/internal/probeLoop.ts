/**
 * A node's probes: one probe applied to its state, and the loop that repeats it at the delay its state asks for, or
 * sooner when a reported failure wakes it.
 */
import { TransactionConnection } from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as HealthState from "../HealthState.js"
import type { Apply } from "./apply.js"
import type { NodeRuntime } from "./nodes.js"
import { observe } from "./observe.js"

/** Probes the node once (one probe at a time per node) and applies what it observed. */
export const probeOnce = (rt: NodeRuntime, timeout: Duration.Duration, apply: Apply) =>
  rt.probeLock.withPermits(1)(
    Effect.flatMap(observe(rt.probe, rt.config.name, timeout), (observation) => apply(rt, observation))
  ).pipe(
    // Never inside a caller's transaction, even with a custom probe that uses an @effect/sql client
    // (ARCHITECTURE.md, "Health and suspicion").
    Effect.mapInputContext((context: Context.Context<never>) => Context.omit(TransactionConnection)(context))
  )

/** Probes the node for ever: forked by the monitor, it runs until the monitor's scope closes. */
export const loop = (rt: NodeRuntime, thresholds: HealthState.Thresholds, apply: Apply) =>
  Effect.gen(function*() {
    for (;;) {
      yield* probeOnce(rt, thresholds.timeout, apply)
      const delay = HealthState.nextDelay(yield* Ref.get(rt.state), thresholds)
      yield* Effect.raceFirst(Effect.sleep(delay), Queue.take(rt.wake))
    }
  })
