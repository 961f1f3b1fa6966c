/**
 * The monitor's configuration resolved to thresholds, every problem collected: a duration that does not parse is a
 * problem in the list, never a defect, and its default stands in so one mistake does not report others.
 */
import { ConnectionValidation } from "@fastorm/adapters"
import * as Duration from "effect/Duration"
import type { HealthMonitorConfig } from "../HealthMonitor.js"
import type * as HealthState from "../HealthState.js"

/** The configurable durations and numbers (the monitor's configuration without its nodes and probe). */
export type Settings = Omit<HealthMonitorConfig, "nodes" | "probe" | "applicationName">

// Every key of `HealthMonitorConfig` (the type keeps the list complete): any other is a problem, as in the router's
// configuration (a misspelt `intervall` from JavaScript or a JSON file would otherwise leave the default in place).
const knownKeys: { readonly [K in keyof HealthMonitorConfig]-?: true } = {
  nodes: true,
  cluster: true,
  interval: true,
  timeout: true,
  degradedAfter: true,
  unhealthyAfter: true,
  failureThreshold: true,
  recoveryThreshold: true,
  backoffBase: true,
  backoffCap: true,
  authBackoffBase: true,
  authBackoffCap: true,
  smoothing: true,
  maxLag: true,
  applicationName: true,
  probe: true
}
const known: ReadonlySet<string> = new Set(Object.keys(knownKeys))
// The options an unknown key may have meant: the monitor's own, not the nodes and cluster a caller builds.
const listed = Object.keys(knownKeys).filter((k) => k !== "nodes" && k !== "cluster").join(", ")

/** The thresholds and every problem found on the way, unknown keys included. */
export const resolve = (
  config: Settings
): { readonly thresholds: HealthState.Thresholds; readonly problems: ReadonlyArray<string> } => {
  const problems: Array<string> = []
  for (const key of Object.keys(config)) {
    if (known.has(key)) continue
    problems.push(
      ConnectionValidation.isPrintableName(key)
        ? `unknown option "${key}" (options: ${listed})`
        : "an option with an unexpected name (not shown)"
    )
  }
  const duration = (name: string, input: unknown, fallback: Duration.Duration): Duration.Duration => {
    if (input === undefined) return fallback
    const decoded = Duration.decodeUnknown(input)
    if (decoded._tag === "None" || !Duration.isFinite(decoded.value) || (typeof input === "number" && input < 0)) {
      problems.push(`${name} must be a finite duration, e.g. "2 seconds" or a number of milliseconds`)
      return fallback
    }
    return decoded.value
  }
  const interval = duration("interval", config.interval, Duration.seconds(2))
  const thresholds: HealthState.Thresholds = {
    interval,
    timeout: duration("timeout", config.timeout, Duration.seconds(5)),
    degradedAfter: duration("degradedAfter", config.degradedAfter, Duration.seconds(1)),
    unhealthyAfter: duration("unhealthyAfter", config.unhealthyAfter, Duration.seconds(3)),
    failureThreshold: config.failureThreshold ?? 3,
    recoveryThreshold: config.recoveryThreshold ?? 2,
    backoffBase: duration("backoffBase", config.backoffBase, interval),
    backoffCap: duration("backoffCap", config.backoffCap, Duration.seconds(30)),
    authBackoffBase: duration("authBackoffBase", config.authBackoffBase, Duration.seconds(10)),
    authBackoffCap: duration("authBackoffCap", config.authBackoffCap, Duration.minutes(5)),
    smoothing: config.smoothing ?? 0.3,
    ...(config.maxLag === undefined ? {} : { maxLag: duration("maxLag", config.maxLag, Duration.infinity) })
  }
  return { thresholds, problems: [...problems, ...check(thresholds)] }
}

const check = (t: HealthState.Thresholds): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const positive = (label: string, d: Duration.Duration) => {
    if (!Duration.greaterThan(d, Duration.zero)) problems.push(`${label} must be positive`)
  }
  positive("interval", t.interval)
  positive("timeout", t.timeout)
  positive("backoffBase", t.backoffBase)
  positive("authBackoffBase", t.authBackoffBase)
  if (Duration.lessThan(t.unhealthyAfter, t.degradedAfter)) {
    problems.push("unhealthyAfter must not be below degradedAfter")
  }
  if (!Number.isInteger(t.failureThreshold) || t.failureThreshold < 1) {
    problems.push("failureThreshold must be an integer >= 1")
  }
  if (!Number.isInteger(t.recoveryThreshold) || t.recoveryThreshold < 1) {
    problems.push("recoveryThreshold must be an integer >= 1")
  }
  if (typeof t.smoothing !== "number" || !(t.smoothing > 0 && t.smoothing <= 1)) {
    problems.push("smoothing must be in (0, 1]")
  }
  return problems
}

/** Problems with the node names: at least one node, none empty, none twice. */
export const checkNames = (names: ReadonlyArray<string>): ReadonlyArray<string> => {
  const problems: Array<string> = []
  if (names.length === 0) problems.push("at least one node is needed")
  const seen = new Set<string>()
  for (const name of names) {
    if (name.length === 0) problems.push("a node name must not be empty")
    if (seen.has(name)) problems.push(`node name "${name}" is used twice`)
    seen.add(name)
  }
  return problems
}
