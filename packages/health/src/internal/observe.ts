/**
 * One probe of one node as the observation `HealthState.step` folds in: bounded by the probe timeout, a defect
 * counted as a failed probe, the probe's error turned into the node's failure tag.
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as HealthState from "../HealthState.js"
import * as Probe from "../Probe.js"

const failureTag = (reason: Probe.ProbeError["reason"]) => {
  switch (reason) {
    case "Connection":
      return "ConnectionFailed" as const
    case "Authentication":
      return "AuthenticationFailed" as const
    case "Timeout":
      return "Timeout" as const
    case "Statement":
      return "StatementFailed" as const
  }
}

const failureObservation = (cause: Cause.Cause<Probe.ProbeError>, at: number): HealthState.Observation => {
  const error = Option.getOrUndefined(Cause.failureOption(cause))
  return {
    _tag: "Failed",
    source: "probe",
    tag: error === undefined ? "StatementFailed" : failureTag(error.reason),
    ...(error?.code === undefined ? {} : { code: error.code }),
    message: error?.detail ?? "the probe was interrupted",
    at
  }
}

/** Runs the probe once within `timeout`; never fails: a failure is an observation too. */
export const observe = (
  probe: Probe.NodeProbe,
  node: string,
  timeout: Duration.Duration
): Effect.Effect<HealthState.Observation> =>
  Effect.gen(function*() {
    const [elapsed, exit] = yield* Effect.timed(Effect.exit(
      probe.run.pipe(
        // A defect in a probe is a failed probe, not a dead monitor.
        Effect.catchAllDefect((defect) =>
          Effect.fail(new Probe.ProbeError({ node, reason: "Statement", detail: `probe defect: ${defect}` }))
        ),
        // The probe's own interruption handler closes its connection, so the timeout is exact.
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new Probe.ProbeError({ node, reason: "Timeout", detail: `no answer within ${Duration.format(timeout)}` })
        })
      )
    ))
    const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    return exit._tag === "Success"
      ? { _tag: "ProbeSucceeded", latency: elapsed, result: exit.value, at }
      : failureObservation(exit.cause, at)
  })
