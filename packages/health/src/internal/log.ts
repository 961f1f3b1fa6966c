/**
 * The monitor's log lines: Effect `Logger` lines annotated with `cluster`, `node` and what changed, so a JSON or
 * logfmt logger gets fields, not prose. Node names and driver codes only: never a URL, so never a password.
 */
import * as Effect from "effect/Effect"
import type { NodeHealth } from "../NodeHealth.js"
import type * as TopologyTracker from "./topologyTracker.js"

/** The levels the monitor logs at. */
export type Level = "Debug" | "Info" | "Warning"

/** Logs one line with its annotations (undefined values left out), under `component=health`. */
export const make = (cluster: string | undefined) =>
(
  level: Level,
  message: string,
  annotations: Readonly<Record<string, string | number | boolean | undefined>>
): Effect.Effect<void> => {
  const fields: Record<string, unknown> = { component: "health" }
  if (cluster !== undefined) fields.cluster = cluster
  for (const [key, value] of Object.entries(annotations)) if (value !== undefined) fields[key] = value
  const line = level === "Warning"
    ? Effect.logWarning(message)
    : level === "Info"
    ? Effect.logInfo(message)
    : Effect.logDebug(message)
  return Effect.annotateLogs(line, fields)
}

/** The annotations of a status transition: node, from, to, and why (the last error's tag and driver code). */
export const transition = (before: NodeHealth, after: NodeHealth) => ({
  node: after.name,
  from: before.status,
  to: after.status,
  reason: after.status === "HEALTHY" || after.lastError === undefined ? undefined : after.lastError.tag,
  code: after.status === "HEALTHY" ? undefined : after.lastError?.code,
  role: after.role,
  configuredRole: after.roleMismatch ? after.configuredRole : undefined
})

/** A promotion followed, an old primary fenced, a conflict: each logged once, when it happens, at warning. */
export const topology = (log: ReturnType<typeof make>, annotated: TopologyTracker.Annotated): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (const change of annotated.changes) {
      if (change.to === "fenced") {
        yield* log(
          "Warning",
          `node ${change.health.name} is writable but is not the primary (a role conflict): it gets no statements`,
          { node: change.health.name, routing: "fenced" }
        )
      }
    }
    if (annotated.switched !== undefined) {
      yield* log(
        "Warning",
        `the primary is now ${annotated.switched.to} (was ${annotated.switched.from})`,
        { node: annotated.switched.to, previous: annotated.switched.from, routing: "primary" }
      )
    }
    if (annotated.newlyUnresolved === "conflict") {
      yield* log("Warning", "several nodes are writable and none can be named the primary: writes wait", {
        reason: "conflict"
      })
    } else if (annotated.newlyUnresolved === "demoted") {
      yield* log("Warning", "the configured primary answers as a replica: writes fail until it is back", {
        reason: "demoted"
      })
    }
  })
