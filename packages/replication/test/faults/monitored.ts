/**
 * The same cluster layer as `FastOrm.layer` (same adapters, clients, HealthMonitor and router), built from the public
 * pieces so that a scenario can also see the HealthMonitor (its `changes`, `snapshot`, `checkNode`) and every probe
 * the monitor runs (a counting wrapper around the default probe). `FastOrm.layer` does not expose its monitor.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { DatabaseAdapterFactory } from "@fastorm/adapters"
import type { DatabaseAdapter } from "@fastorm/adapters"
import { HealthMonitor, Probe } from "@fastorm/health"
import type { StatusChange } from "@fastorm/health"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { HealthConfig } from "../../src/FastOrm.js"
import { ConnectionRouter } from "../../src/index.js"
import type { Backend, OrmOptions } from "./kv.js"
import { CONNECT_TIMEOUT_MS, STATEMENT_TIMEOUT_MS } from "./kv.js"

/** One probe run by the monitor: when it started and ended (performance.now()), and how it went. */
export interface ProbeEvent {
  readonly node: string
  readonly startedAt: number
  readonly endedAt: number
  readonly ok: boolean
  readonly reason?: string | undefined
}

/** What the monitored layer records: every probe and every status change, from the moment the layer is built. */
export interface Observer {
  readonly probes: Array<ProbeEvent>
  readonly changes: Array<StatusChange & { readonly seenAt: number }>
}

/** The observer of the monitored layer. */
export class Observed extends Context.Tag("fastorm/test/faults/Observed")<Observed, Observer>() {}

/** The monitored layer's primary node client, so that a scenario can see its pool (`poolStatus`). */
export class PrimaryClient extends Context.Tag("fastorm/test/faults/PrimaryClient")<
  PrimaryClient,
  DatabaseAdapter.NodeClient
>() {}

/** The default probe, recording every run (interrupted ones included: the monitor's timeout interrupts them). */
const countingProbe = (observer: Observer): Probe.ProbeFactory => (node, settings) =>
  Effect.map(Probe.fromAdapter(node, settings), (probe) => ({
    run: Effect.suspend(() => {
      const startedAt = performance.now()
      return probe.run.pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            observer.probes.push({
              node: node.name,
              startedAt,
              endedAt: performance.now(),
              ok: Exit.isSuccess(exit),
              reason: Exit.isSuccess(exit) ? undefined : exit.cause._tag === "Fail"
                ? String(exit.cause.error.reason)
                : exit.cause._tag
            })
          })
        )
      )
    })
  }))

/** Options of the monitored layer: those of `ormLayer`, plus health settings. */
export interface MonitoredOptions extends OrmOptions {
  readonly health?: HealthConfig | undefined
  /** Per-replica user URLs (e.g. a dedicated role for one replica); default the node's app URL. */
  readonly replicaUrls?: ReadonlyArray<string | undefined> | undefined
}

/** The health settings of the fault scenarios (as in `ormLayer`). */
export const HEALTH = {
  interval: "200 millis",
  timeout: "1 second",
  failureThreshold: 2,
  backoffCap: "1 second"
} as const
export const PROBE_INTERVAL_MS = 200

/** `FastOrm.layer`'s services plus the HealthMonitor, the Observer and the primary's node client. */
export const monitoredLayer = (b: Backend, options: MonitoredOptions = {}) =>
  Layer.scopedContext(Effect.gen(function*() {
    const observer: Observer = { probes: [], changes: [] }
    const readWrite = {
      statementTimeout: Duration.millis(STATEMENT_TIMEOUT_MS),
      connectTimeout: Duration.millis(CONNECT_TIMEOUT_MS),
      sessionWaitTimeout: "200 millis",
      ...options.readWrite
    } as const
    const overrides = { connectTimeout: readWrite.connectTimeout, poolSize: 2, maxOverflow: 4, ...options.pool }
    const adapterOf = (url: string, name: string) =>
      Effect.orDie(DatabaseAdapterFactory.create(url, { name, config: overrides }))
    const primaryAdapter = yield* adapterOf(options.write ?? b.nodes.primary.url, b.nodes.primary.name)
    const replicaAdapters: Array<DatabaseAdapter.DatabaseAdapter> = []
    for (const [i, r] of b.nodes.replicas.entries()) {
      replicaAdapters.push(yield* adapterOf(options.replicaUrls?.[i] ?? options.read?.[i] ?? r.url, r.name))
    }
    const primaryClient = yield* Effect.orDie(primaryAdapter.makeClient({ verify: true }))
    const replicaClients = yield* Effect.forEach(replicaAdapters, (a) => Effect.orDie(a.makeClient({ readOnly: true })))
    const monitor = yield* Effect.orDie(HealthMonitor.make({
      ...HEALTH,
      ...options.health,
      probe: countingProbe(observer),
      nodes: [
        { name: b.nodes.primary.name, role: "primary", adapter: primaryAdapter },
        ...replicaAdapters.map((adapter, i) => ({ name: b.nodes.replicas[i]!.name, role: "replica" as const, adapter }))
      ]
    }))
    // Every transition, from now on (the subscription is open before this returns).
    const changes = yield* monitor.subscribe
    yield* Effect.forkScoped(
      Stream.fromQueue(changes).pipe(
        Stream.runForEach((change) =>
          Effect.sync(() => observer.changes.push({ ...change, seenAt: performance.now() }))
        )
      )
    )
    const router = yield* Effect.orDie(
      ConnectionRouter.make({
        cluster: `monitored-${b.name}`,
        dialect: primaryAdapter.dialect,
        primary: { name: b.nodes.primary.name, client: primaryClient, weight: 1 },
        replicas: replicaClients.map((client, i) => ({ name: b.nodes.replicas[i]!.name, client, weight: 1 })),
        readWrite
      }).pipe(Effect.provideService(HealthMonitor.HealthMonitor, monitor))
    )
    return ConnectionRouter.contextOf(router).pipe(
      Context.add(HealthMonitor.HealthMonitor, monitor),
      Context.add(Observed, observer),
      Context.add(PrimaryClient, primaryClient)
    )
  })).pipe(Layer.provide(Reactivity.layer))
