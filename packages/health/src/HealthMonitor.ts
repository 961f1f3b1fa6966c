/**
 * The HealthMonitor service: probes every node of a cluster concurrently, from the moment it is built, and keeps a
 * status per node (see `HealthState` for the rules). The router reads `snapshot` / `status`, listens to `changes`,
 * and reports what its own queries see with `reportFailure` / `reportSuccess`. The monitor only reports: it never
 * bans a node, and write failover stays with the router.
 */
import { TransactionConnection } from "@effect/sql/SqlClient"
import { type DatabaseAdapter, DatabaseAdapterFactory } from "@fastorm/adapters"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type Classification, classify } from "./ErrorClassification.js"
import * as HealthState from "./HealthState.js"
import * as Config from "./internal/config.js"
import * as Log from "./internal/log.js"
import * as Metrics from "./internal/metrics.js"
import { observe } from "./internal/observe.js"
import * as TopologyTracker from "./internal/topologyTracker.js"
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

const resolveNode = (
  node: Probe.NodeConfig | NodeUrlConfig
): Effect.Effect<Probe.NodeConfig, DatabaseAdapterFactory.AdapterCreateError> =>
  "url" in node
    ? Effect.map(
      DatabaseAdapterFactory.create(node.url, node.name === undefined ? {} : { name: node.name }),
      (adapter: DatabaseAdapter.DatabaseAdapter): Probe.NodeConfig => ({
        name: node.name ?? adapter.name,
        role: node.role,
        adapter
      })
    )
    : Effect.succeed(node)

interface NodeRuntime {
  readonly config: Probe.NodeConfig
  readonly state: Ref.Ref<NodeHealth>
  /** Serialises state updates, so transitions are published in the order they happened. */
  readonly updateLock: Effect.Semaphore
  /** One probe at a time per node: the probe owns one connection. */
  readonly probeLock: Effect.Semaphore
  /** Wakes the node's probe loop early (after a reported failure). */
  readonly wake: Queue.Queue<void>
  readonly probe: Probe.NodeProbe
  readonly metrics: Metrics.NodeMetrics
}

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
    const nodes = yield* Effect.forEach(config.nodes, resolveNode)
    const all = [...problems, ...Config.checkNames(nodes.map((n) => n.name))]
    if (all.length > 0) return yield* new InvalidHealthConfig({ problems: all })

    const log = Log.make(config.cluster)
    const factory = config.probe ?? Probe.fromAdapter
    const settings: Probe.ProbeSettings = { timeout, applicationName: config.applicationName ?? "fastorm-health" }
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<StatusChange>(), PubSub.shutdown)

    const runtimes = yield* Effect.forEach(nodes, (node) =>
      Effect.gen(function*() {
        const state = yield* Ref.make(HealthState.initial(node.name, node.role))
        const metrics = Metrics.forNode(node.name)
        yield* Metrics.record(metrics, yield* Ref.get(state))
        return {
          config: node,
          state,
          updateLock: yield* Effect.makeSemaphore(1),
          probeLock: yield* Effect.makeSemaphore(1),
          wake: yield* Queue.sliding<void>(1),
          probe: yield* factory(node, settings),
          metrics
        } satisfies NodeRuntime
      }))
    const byName = new Map(runtimes.map((rt) => [rt.config.name, rt]))
    // The router reads the snapshot on every statement: one immutable array, replaced when a state changes, costs a
    // single read instead of an Effect per node and a new array per statement.
    const indexOf = new Map(runtimes.map((rt, i) => [rt, i]))
    const topology = TopologyTracker.make()
    let published: ReadonlyArray<NodeHealth> = topology.annotate(
      runtimes.map((rt) => HealthState.initial(rt.config.name, rt.config.role))
    ).snapshot
    // Publishes a node's new state and re-resolves the cluster's topology over it (which node is the primary now).
    const publish = (rt: NodeRuntime, health: NodeHealth) => {
      const next = published.slice()
      next[indexOf.get(rt)!] = { ...health, routing: published[indexOf.get(rt)!]!.routing }
      const annotated = topology.annotate(next)
      published = annotated.snapshot
      return annotated
    }
    const lookup = (node: string) => {
      const rt = byName.get(node)
      return rt === undefined ? Effect.fail(new UnknownNode({ node })) : Effect.succeed(rt)
    }

    // Folds one observation into a node's state, publishes the transition if there is one, updates the gauges.
    const apply = (rt: NodeRuntime, observation: HealthState.Observation) =>
      rt.updateLock.withPermits(1)(Effect.gen(function*() {
        const before = yield* Ref.get(rt.state)
        const after = HealthState.step(before, observation, thresholds)
        yield* Ref.set(rt.state, after)
        const topologyChange = publish(rt, after)
        yield* Metrics.record(rt.metrics, after)
        yield* Log.topology(log, topologyChange)
        if (before.status !== after.status || before.roleMismatch !== after.roleMismatch) {
          const change: StatusChange = {
            node: rt.config.name,
            from: before.status,
            to: after.status,
            at: observation.at,
            health: after
          }
          yield* PubSub.publish(pubsub, change)
          yield* log(
            after.status === "UNHEALTHY" || after.roleMismatch ? "Warning" : "Info",
            `node ${rt.config.name} ${before.status} -> ${after.status}`,
            Log.transition(before, after)
          )
        }
        return [before, after] as const
      }))

    const probeOnce = (rt: NodeRuntime) =>
      rt.probeLock.withPermits(1)(
        Effect.flatMap(observe(rt.probe, rt.config.name, timeout), (observation) => apply(rt, observation))
      ).pipe(
        // Never inside a caller's transaction, even with a custom probe that uses an @effect/sql client
        // (ARCHITECTURE.md, "Health and suspicion").
        Effect.mapInputContext((context: Context.Context<never>) => Context.omit(TransactionConnection)(context))
      )

    const loop = (rt: NodeRuntime) =>
      Effect.gen(function*() {
        for (;;) {
          yield* probeOnce(rt)
          const delay = HealthState.nextDelay(yield* Ref.get(rt.state), thresholds)
          yield* Effect.raceFirst(Effect.sleep(delay), Queue.take(rt.wake))
        }
      })

    // The loops live as long as the monitor's scope; interrupting them closes each probe's connection.
    yield* Effect.forEach(runtimes, (rt) => Effect.forkScoped(loop(rt)), { discard: true })

    const snapshot = Effect.sync(() => published)

    const reportFailure = (node: string, error: unknown) =>
      Effect.gen(function*() {
        const rt = yield* lookup(node)
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

    const reportSuccess = (node: string, latency: Duration.DurationInput) =>
      Effect.gen(function*() {
        const rt = yield* lookup(node)
        const at = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        yield* apply(rt, { _tag: "SuccessReported", latency: Duration.decode(latency), at })
      })

    const checkNode = (node: string) =>
      Effect.flatMap(lookup(node), (rt) =>
        Effect.zipRight(probeOnce(rt), Effect.sync(() => published[indexOf.get(rt)!]!)))

    return {
      nodes: runtimes.map((rt) => ({ name: rt.config.name, role: rt.config.role })),
      snapshot,
      snapshotNow: () =>
        published,
      health: (node) => Effect.map(lookup(node), (rt) => published[indexOf.get(rt)!]!),
      status: (node) => Effect.flatMap(lookup(node), (rt) => Effect.map(Ref.get(rt.state), (s) => s.status)),
      changes: Stream.fromPubSub(pubsub),
      subscribe: PubSub.subscribe(pubsub),
      check: Effect.zipRight(
        Effect.forEach(runtimes, probeOnce, { concurrency: "unbounded", discard: true }),
        snapshot
      ),
      checkNode,
      reportFailure,
      reportSuccess
    } satisfies HealthMonitorShape
  })

/** The monitor as a scoped layer: probing starts when the layer is built and stops when it is released. */
export const layer = (
  config: HealthMonitorConfig
): Layer.Layer<HealthMonitor, InvalidHealthConfig | DatabaseAdapterFactory.AdapterCreateError> =>
  Layer.scoped(HealthMonitor, make(config))
