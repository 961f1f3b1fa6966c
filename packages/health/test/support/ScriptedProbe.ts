/**
 * A probe whose answers the test scripts, node by node, so the monitor's timing and transitions can be driven by the
 * TestClock without any server.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import type { ProbeFactory, ProbeResult } from "../../src/Probe.js"
import { ProbeError } from "../../src/Probe.js"

/** What a node's probe does when run. */
export type Behaviour =
  | { readonly _tag: "Answer"; readonly latency: Duration.DurationInput; readonly result: ProbeResult }
  | {
    readonly _tag: "Fail"
    readonly reason: ProbeError["reason"]
    readonly code?: string
    readonly after?: Duration.DurationInput
  }
  | { readonly _tag: "Hang" }

/** A healthy answer after `latency`. */
export const answer = (
  latency: Duration.DurationInput = Duration.millis(5),
  result: ProbeResult = { role: "replica", replicating: true, lagSeconds: 0 }
): Behaviour => ({ _tag: "Answer", latency, result })

/** A failure of the given reason. */
export const failWith = (reason: ProbeError["reason"], code?: string): Behaviour =>
  code === undefined ? { _tag: "Fail", reason } : { _tag: "Fail", reason, code }

/** A probe that never answers. */
export const hang: Behaviour = { _tag: "Hang" }

/** The scripted probe factory and its controls. */
export interface Scripted {
  readonly factory: ProbeFactory
  readonly set: (node: string, behaviour: Behaviour) => void
  /** How many probes of the node started. */
  readonly calls: (node: string) => number
  /** How many probes of the node were interrupted (timed out) before they answered. */
  readonly interrupted: (node: string) => number
  /** How many probes of the node were running at the same time, at most. */
  readonly maxConcurrent: (node: string) => number
  /** Whether the probe's scope was closed. */
  readonly released: (node: string) => boolean
}

/** Makes a scripted probe; nodes answer `initial` until told otherwise. */
export const make = (initial: Behaviour = answer()): Scripted => {
  const behaviours = new Map<string, Behaviour>()
  const calls = new Map<string, number>()
  const interrupted = new Map<string, number>()
  const running = new Map<string, number>()
  const maxRunning = new Map<string, number>()
  const released = new Set<string>()
  const bump = (m: Map<string, number>, k: string, by = 1) => m.set(k, (m.get(k) ?? 0) + by)

  const factory: ProbeFactory = (node) =>
    Effect.as(
      Effect.addFinalizer(() => Effect.sync(() => released.add(node.name))),
      {
        run: Effect.suspend(() => {
          bump(calls, node.name)
          bump(running, node.name)
          maxRunning.set(node.name, Math.max(maxRunning.get(node.name) ?? 0, running.get(node.name)!))
          const b = behaviours.get(node.name) ?? initial
          const body: Effect.Effect<ProbeResult, ProbeError> = b._tag === "Answer"
            ? Effect.as(Effect.sleep(b.latency), b.result)
            : b._tag === "Fail"
            ? Effect.zipRight(
              Effect.sleep(b.after ?? Duration.zero),
              Effect.fail(
                new ProbeError({
                  node: node.name,
                  reason: b.reason,
                  ...(b.code === undefined ? {} : { code: b.code }),
                  detail: "scripted"
                })
              )
            )
            : Effect.never
          return body.pipe(
            Effect.onInterrupt(() => Effect.sync(() => bump(interrupted, node.name))),
            Effect.ensuring(Effect.sync(() => bump(running, node.name, -1)))
          )
        })
      }
    )

  return {
    factory,
    set: (node, behaviour) => behaviours.set(node, behaviour),
    calls: (node) => calls.get(node) ?? 0,
    interrupted: (node) => interrupted.get(node) ?? 0,
    maxConcurrent: (node) => maxRunning.get(node) ?? 0,
    released: (node) => released.has(node)
  }
}

/** Lets forked fibers run (the monitor's probe loops), then moves the TestClock forward. */
export const advance = (ms: number) => Effect.zipRight(Effect.yieldNow(), TestClock.adjust(Duration.millis(ms)))
