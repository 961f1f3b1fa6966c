/**
 * How the router splits reads from writes: preference, consistency, replica selection and every bound it keeps.
 */
import { ConnectionValidation } from "@fastorm/adapters"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"

/** The read preferences, in the order errors list them. */
export const readPreferences = ["primary", "preferReplica", "replicaOnly"] as const

/** Where ordinary reads go: the primary only, a replica with the primary as fallback, or replicas only. */
export type ReadPreference = typeof readPreferences[number]

/** The consistency levels, in the order errors list them. */
export const consistencies = ["eventual", "session", "strong"] as const

/** `eventual`: any healthy replica; `session`: a replica that has the session's own writes; `strong`: the primary. */
export type Consistency = typeof consistencies[number]

/** The replica selection strategies, in the order errors list them. */
export const strategies = ["roundRobin", "random", "weighted", "leastLatency", "leastOutstanding"] as const

/** How a replica is picked among the eligible ones. */
export type Strategy = typeof strategies[number]

/** The router's configuration as users write it; every field optional, durations in any Effect form. */
export interface ReadWriteConfig {
  /** Off: every statement runs on the primary. Default on. */
  readonly enableReadWriteSplit?: boolean | undefined
  /** Default `preferReplica`. */
  readonly readPreference?: ReadPreference | undefined
  /** Default `session`: a session reads its own writes. */
  readonly consistency?: Consistency | undefined
  /** Default `roundRobin`. */
  readonly strategy?: Strategy | undefined
  /** A replica lagging more than this gets no ordinary reads. Default 10 seconds. */
  readonly maxReplicationLag?: Duration.DurationInput | undefined
  /** How long a session read waits for a replica to replay the session's writes before using the primary. */
  readonly sessionWaitTimeout?: Duration.DurationInput | undefined
  /**
   * How long a statement that finds no primary (a switchover or failover in progress, the primary restarting) waits
   * for one before failing with `PrimaryUnavailable`; only statements never sent are retried. Default 0: fail at once.
   */
  readonly primaryWaitTimeout?: Duration.DurationInput | undefined
  /** Client-side bound on one statement on a replica (a frozen server never answers). Default 30 seconds. */
  readonly statementTimeout?: Duration.DurationInput | undefined
  /** Bound on connecting to a node, and on the primary check at start. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Reads that may fall back to the primary at the same time; the rest wait (bounded). Default 8. */
  readonly maxFallbackConcurrency?: number | undefined
  /** Share of traffic a DEGRADED replica keeps relative to a HEALTHY one, in [0, 1]. Default 0.2. */
  readonly degradedWeight?: number | undefined
  /** Start even if the primary does not answer at start (writes fail with PrimaryUnavailable until it does). */
  readonly startDegraded?: boolean | undefined
}

/** The configuration with every default applied. */
export interface ResolvedReadWriteConfig {
  readonly enableReadWriteSplit: boolean
  readonly readPreference: ReadPreference
  readonly consistency: Consistency
  readonly strategy: Strategy
  readonly maxReplicationLag: Duration.Duration
  readonly sessionWaitTimeout: Duration.Duration
  readonly primaryWaitTimeout: Duration.Duration
  readonly statementTimeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
  readonly maxFallbackConcurrency: number
  readonly degradedWeight: number
  readonly startDegraded: boolean
}

/** The defaults. */
export const defaults: ResolvedReadWriteConfig = {
  enableReadWriteSplit: true,
  readPreference: "preferReplica",
  consistency: "session",
  strategy: "roundRobin",
  maxReplicationLag: Duration.seconds(10),
  sessionWaitTimeout: Duration.millis(500),
  primaryWaitTimeout: Duration.zero,
  statementTimeout: Duration.seconds(30),
  connectTimeout: Duration.seconds(5),
  maxFallbackConcurrency: 8,
  degradedWeight: 0.2,
  startDegraded: false
}

/** The configuration makes no sense; `problems` says why. */
export class InvalidReadWriteConfig extends Data.TaggedError("InvalidReadWriteConfig")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Invalid read/write configuration: ${this.problems.join("; ")}`
  }
}

const oneOf = <A extends string>(
  value: A | undefined,
  allowed: ReadonlyArray<A>,
  name: string,
  problems: Array<string>
) => {
  if (value !== undefined && !allowed.includes(value)) problems.push(`${name} must be one of ${allowed.join(", ")}`)
}

// Options that no longer exist, and what to use instead.
const removed: Readonly<Record<string, string>> = {
  forcePrimaryForTransaction: "forcePrimaryForTransaction is not an option: statements inside Database.transaction " +
    "always run on its connection (README, \"Guarantees and their limits\")"
}

const known: ReadonlySet<string> = new Set(Object.keys(defaults))

/** Applies the defaults and checks every field; keys it does not know are problems too (JavaScript, `Config`). */
export const resolve = (
  config: ReadWriteConfig = {}
): Either.Either<ResolvedReadWriteConfig, InvalidReadWriteConfig> => {
  const problems: Array<string> = []
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    return Either.left(new InvalidReadWriteConfig({ problems: ["the read/write configuration must be an object"] }))
  }
  for (const key of Object.keys(config)) {
    if (known.has(key)) continue
    problems.push(
      removed[key] ??
        (ConnectionValidation.isPrintableName(key)
          ? `unknown option "${key}" (options: ${[...known].join(", ")})`
          : "an option with an unexpected name (not shown)")
    )
  }
  const flag = (name: keyof ReadWriteConfig) => {
    const value = config[name]
    if (value !== undefined && typeof value !== "boolean") problems.push(`${name} must be true or false`)
  }
  flag("enableReadWriteSplit")
  flag("startDegraded")
  oneOf(config.readPreference, readPreferences, "readPreference", problems)
  oneOf(config.consistency, consistencies, "consistency", problems)
  oneOf(config.strategy, strategies, "strategy", problems)
  const duration = (name: string, input: Duration.DurationInput | undefined, fallback: Duration.Duration, min = 0) => {
    if (input === undefined) return fallback
    const decoded = Duration.decodeUnknown(input)
    if (decoded._tag === "None" || !Duration.isFinite(decoded.value) || Duration.toMillis(decoded.value) < min) {
      problems.push(`${name} must be a finite duration of at least ${min} ms`)
      return fallback
    }
    return decoded.value
  }
  const resolved: ResolvedReadWriteConfig = {
    enableReadWriteSplit: config.enableReadWriteSplit ?? defaults.enableReadWriteSplit,
    readPreference: config.readPreference ?? defaults.readPreference,
    consistency: config.consistency ?? defaults.consistency,
    strategy: config.strategy ?? defaults.strategy,
    maxReplicationLag: duration("maxReplicationLag", config.maxReplicationLag, defaults.maxReplicationLag),
    sessionWaitTimeout: duration("sessionWaitTimeout", config.sessionWaitTimeout, defaults.sessionWaitTimeout),
    primaryWaitTimeout: duration("primaryWaitTimeout", config.primaryWaitTimeout, defaults.primaryWaitTimeout),
    statementTimeout: duration("statementTimeout", config.statementTimeout, defaults.statementTimeout, 1),
    connectTimeout: duration("connectTimeout", config.connectTimeout, defaults.connectTimeout, 1),
    maxFallbackConcurrency: config.maxFallbackConcurrency ?? defaults.maxFallbackConcurrency,
    degradedWeight: config.degradedWeight ?? defaults.degradedWeight,
    startDegraded: config.startDegraded ?? defaults.startDegraded
  }
  if (!Number.isSafeInteger(resolved.maxFallbackConcurrency) || resolved.maxFallbackConcurrency < 1) {
    problems.push("maxFallbackConcurrency must be a positive integer")
  }
  if (typeof resolved.degradedWeight !== "number" || !(resolved.degradedWeight >= 0 && resolved.degradedWeight <= 1)) {
    problems.push("degradedWeight must be in [0, 1]")
  }
  return problems.length > 0 ? Either.left(new InvalidReadWriteConfig({ problems })) : Either.right(resolved)
}
