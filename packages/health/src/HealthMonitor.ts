/**
 * The HealthMonitor service: probes every node of a cluster concurrently, from the moment it is built, and keeps a
 * status per node (see `HealthState` for the rules). The router reads `snapshot` / `status`, listens to `changes`,
 * and reports what its own queries see with `reportFailure` / `reportSuccess`. The monitor only reports: it never
 * bans a node, and write failover stays with the router.
 */
import type { DatabaseAdapterFactory } from "@fastorm/adapters"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import type * as Queue from "effect/Queue"
import type * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Classification } from "./ErrorClassification.js"
import type * as HealthState from "./HealthState.js"
import * as Apply from "./internal/apply.js"
import * as Config from "./internal/config.js"
import * as Log from "./internal/log.js"
import * as Nodes from "./internal/nodes.js"
import * as ProbeLoop from "./internal/probeLoop.js"
import * as Published from "./internal/published.js"
import * as Reports from "./internal/reports.js"
import type { ConfiguredRole, NodeHealth, Status, StatusChange } from "./NodeHealth.js"
import * as Probe from "./Probe.js"

/** A node given by URL: the monitor makes its adapter (the name defaults to the adapter's password-free alias). */
export interface NodeUrlConfig {
  readonly name?: string | undefined
  readonly role: ConfiguredRole
  readonly url: string | Redacted.Redacted<string>
}

/** The monitor's configuration; every duration accepts any Effect `DurationInput` (tests use milliseconds). */
export interface HealthMonitorConfig {
  readonly nodes: ReadonlyArray<Probe.NodeConfig | NodeUrlConfig>
  /** The cluster's name, as the `cluster` annotation of the monitor's log lines. */
  readonly cluster?: string | undefined
  /** Time between probes of a node that is not UNHEALTHY. Default 2 seconds. */
  readonly interval?: Duration.DurationInput | undefined
  /**
   * Bound on one probe, connect included. Default 5 seconds. When it is at least `unhealthyAfter`, a probe that hits
   * it makes the node UNHEALTHY at once (it was slower than `unhealthyAfter`); otherwise it counts as a failure.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** A probe slower than this makes the node DEGRADED. Default 1 second. */
  readonly degradedAfter?: Duration.DurationInput | undefined
  /** A probe slower than this makes the node UNHEALTHY. Default 3 seconds. */
  readonly unhealthyAfter?: Duration.DurationInput | undefined
  /** Consecutive failures that make a node UNHEALTHY. Default 3. */
  readonly failureThreshold?: number | undefined
  /** Consecutive successes that bring an UNHEALTHY node back. Default 2. */
  readonly recoveryThreshold?: number | undefined
  /** First re-probe delay of an UNHEALTHY node, doubling after every failure. Default: `interval`. */
  readonly backoffBase?: Duration.DurationInput | undefined
  /** Longest re-probe delay of an UNHEALTHY node. Default 30 seconds. */
  readonly backoffCap?: Duration.DurationInput | undefined
  /** First re-probe delay after an authentication failure. Default 10 seconds. */
  readonly authBackoffBase?: Duration.DurationInput | undefined
  /** Longest re-probe delay after authentication failures. Default 5 minutes. */
  readonly authBackoffCap?: Duration.DurationInput | undefined
  /** Weight of the newest sample in the smoothed latency, in (0, 1]. Default 0.3. */
  readonly smoothing?: number | undefined
  /** Lag above which a replica is DEGRADED. Default: none. */
  readonly maxLag?: Duration.DurationInput | undefined
  /** `application_name` of the PostgreSQL probe sessions. Default "fastorm-health". */
  readonly applicationName?: string | undefined
  /** How to probe a node; default `Probe.fromAdapter` (a dedicated driver connection per node). */
  readonly probe?: Probe.ProbeFactory | undefined
}

/** The configuration does not make sense; `problems` lists why. */
export class InvalidHealthConfig extends Data.TaggedError("InvalidHealthConfig")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Invalid health monitor configuration: ${this.problems.join("; ")}`
  }
}

/** No node of that name is monitored. */
export class UnknownNode extends Data.TaggedError("UnknownNode")<{ readonly node: string }> {
  override get message(): string {
    return `The health monitor does not know a node named "${this.node}"`
  }
}

/** The HealthMonitor service. */
export interface HealthMonitorShape {
  /** The monitored nodes, in configuration order. */
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly role: ConfiguredRole }>
  /** The state of every node, in configuration order. */
  readonly snapshot: Effect.Effect<ReadonlyArray<NodeHealth>>
  /**
   * The same snapshot read synchronously, offered by a monitor that needs no effect to read it (the live one): the
   * router reads it before every statement without a runtime step. Absent: readers use `snapshot`.
   */
  readonly snapshotNow?: () => ReadonlyArray<NodeHealth>
  /** The state of one node. */
  readonly health: (node: string) => Effect.Effect<NodeHealth, UnknownNode>
  /** The status of one node. */
  readonly status: (node: string) => Effect.Effect<Status, UnknownNode>
  /** Status transitions (and role mismatch changes) from the moment the stream is run. */
  readonly changes: Stream.Stream<StatusChange>
  /** A subscription to the transitions, open from the moment this returns (no change can slip in between). */
  readonly subscribe: Effect.Effect<Queue.Dequeue<StatusChange>, never, Scope.Scope>
  /** Probes every node now, concurrently, and returns the snapshot after. */
  readonly check: Effect.Effect<ReadonlyArray<NodeHealth>>
  /** Probes one node now and returns its state after. */
  readonly checkNode: (node: string) => Effect.Effect<NodeHealth, UnknownNode>
  /**
   * Reports an error the application met on a node. Connection-class errors make a HEALTHY node suspect (DEGRADED)
   * at once and trigger a probe; they never make it UNHEALTHY by themselves (a probe has to confirm). Authentication
   * failures make it UNHEALTHY. Ordinary statement errors are ignored. Returns the classification.
   */
  readonly reportFailure: (node: string, error: unknown) => Effect.Effect<Classification, UnknownNode>
  /** Reports a statement that succeeded on a node: clears suspicion, counts toward recovery, feeds smoothed latency. */
  readonly reportSuccess: (node: string, latency: Duration.DurationInput) => Effect.Effect<void, UnknownNode>
}

/** The HealthMonitor service tag. */
export class HealthMonitor extends Context.Tag("@fastorm/health/HealthMonitor")<HealthMonitor, HealthMonitorShape>() {}

/**
 * The thresholds a configuration resolves to, with every default applied, or every problem with it (a duration that
 * does not parse, a threshold out of range) in one `InvalidHealthConfig`. Pure: `FastOrm.layer` checks its `health`
 * option with it before connecting to anything.
 */
export const checkConfig = (
  config: Omit<HealthMonitorConfig, "nodes">
): Either.Either<HealthState.Thresholds, InvalidHealthConfig> => {
  const { problems, thresholds } = Config.resolve(config)
  return problems.length > 0 ? Either.left(new InvalidHealthConfig({ problems })) : Either.right(thresholds)
}

/** The thresholds of a configuration known to be valid; a bad one throws its `InvalidHealthConfig` (tests). */
export const resolveThresholds = (config: Omit<HealthMonitorConfig, "nodes">): HealthState.Thresholds =>
  Either.getOrThrowWith(checkConfig(config), (error) => error)

/**
 * Builds the monitor and starts probing every node at once; everything (probe loops, connections) is released with
 * the scope. Probe loops run in fibers forked here, outside any caller's transaction.
 */
export const make = (
  config: HealthMonitorConfig
): Effect.Effect<
  HealthMonitorShape,
  InvalidHealthConfig | DatabaseAdapterFactory.AdapterCreateError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const { problems, thresholds } = Config.resolve(config)
    const timeout = thresholds.timeout
    const nodes = yield* Effect.forEach(config.nodes, Nodes.resolve)
    const all = [...problems, ...Config.checkNames(nodes.map((n) => n.name))]
    if (all.length > 0) return yield* new InvalidHealthConfig({ problems: all })

    const log = Log.make(config.cluster)
    const factory = config.probe ?? Probe.fromAdapter
    const settings: Probe.ProbeSettings = { timeout, applicationName: config.applicationName ?? "fastorm-health" }
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<StatusChange>(), PubSub.shutdown)

    const runtimes = yield* Effect.forEach(nodes, (node) => Nodes.makeRuntime(node, factory, settings))
    const byName = new Map(runtimes.map((rt) => [rt.config.name, rt]))
    const published = Published.make(runtimes)
    const lookup = (node: string) => {
      const rt = byName.get(node)
      return rt === undefined ? Effect.fail(new UnknownNode({ node })) : Effect.succeed(rt)
    }
    const apply = Apply.make({ thresholds, log, pubsub, published })
    const probeOnce = (rt: Nodes.NodeRuntime) => ProbeLoop.probeOnce(rt, timeout, apply)

    // The loops live as long as the monitor's scope; interrupting them closes each probe's connection.
    yield* Effect.forEach(runtimes, (rt) => Effect.forkScoped(ProbeLoop.loop(rt, thresholds, apply)), {
      discard: true
    })

    const snapshot = Effect.sync(published.current)

    return {
      nodes: runtimes.map((rt) => ({ name: rt.config.name, role: rt.config.role })),
      snapshot,
      snapshotNow: published.current,
      health: (node) => Effect.map(lookup(node), published.of),
      status: (node) => Effect.flatMap(lookup(node), (rt) => Effect.map(Ref.get(rt.state), (s) => s.status)),
      changes: Stream.fromPubSub(pubsub),
      subscribe: PubSub.subscribe(pubsub),
      check: Effect.zipRight(
        Effect.forEach(runtimes, probeOnce, { concurrency: "unbounded", discard: true }),
        snapshot
      ),
      checkNode: (node) =>
        Effect.flatMap(lookup(node), (rt) => Effect.zipRight(probeOnce(rt), Effect.sync(() => published.of(rt)))),
      reportFailure: (node, error) => Effect.flatMap(lookup(node), (rt) => Reports.failure(rt, error, apply)),
      reportSuccess: (node, latency) => Effect.flatMap(lookup(node), (rt) => Reports.success(rt, latency, apply))
    } satisfies HealthMonitorShape
  })

/** The monitor as a scoped layer: probing starts when the layer is built and stops when it is released. */
export const layer = (
  config: HealthMonitorConfig
): Layer.Layer<HealthMonitor, InvalidHealthConfig | DatabaseAdapterFactory.AdapterCreateError> =>
  Layer.scoped(HealthMonitor, make(config))
