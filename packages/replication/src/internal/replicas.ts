/**
 * Reads on replicas: the replicas the decision ordered (a second one after a node fault), then the primary within the
 * fallback permits, then, when the primary is down too, a replica that only lost it; and a session read's wait for a
 * replica to replay its writes (`sessionReads.ts`). ARCHITECTURE.md, "Replicas, retries and fallback".
 */
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type { HealthMonitor } from "@fastorm/health"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import { FallbackCapacityExceeded, fromSqlError, NoHealthyReplica, toSqlError } from "../RouterError.js"
import type { ConsistencyOps } from "./consistency.js"
import type { Reason } from "./decision.js"
import type { Learnt, Topology } from "./eligibility.js"
import { replicaCandidates, withRouting } from "./eligibility.js"
import { isBusy, isNodeFault, isReadOnlyRefusal } from "./failures.js"
import type * as FairGate from "./fairGate.js"
import * as Guard from "./guard.js"
import * as Log from "./log.js"
import * as LogThrottle from "./logThrottle.js"
import type { NodeHandle, Primary, Run } from "./primary.js"
import type { Recorder } from "./routeStats.js"
import * as Selection from "./selection.js"
import * as SessionReads from "./sessionReads.js"

/** What replica reads need. */
export interface ReplicasOptions {
  /** The cluster's name, in log lines. */
  readonly cluster: string
  readonly topology: Topology
  readonly replicas: ReadonlyArray<NodeHandle>
  readonly config: ResolvedReadWriteConfig
  readonly monitor: HealthMonitor.HealthMonitorShape
  /** Tells the monitor about a failure the application saw on a node. */
  readonly report: (node: string, error: SqlError) => Effect.Effect<void>
  readonly recorder: Recorder
  /** Execution on a node as the primary (the one the decision named). */
  readonly primaries: (node: string) => Primary
  /** The failure of a write that found no primary. */
  readonly noPrimary: SqlError
  readonly consistency: ConsistencyOps | undefined
  readonly fallbackPermits: FairGate.FairGate
  readonly selection: Selection.SelectionState
  /**
   * Replay positions learnt from waits (fresher than the monitor's between probes), statements in flight, and how
   * many times the monitor found each replica failing (a session wait started before the last time gives up).
   */
  readonly learnt: Learnt & {
    readonly known: Map<string, string>
    readonly outstanding: Map<string, number>
    readonly failings: ReadonlyMap<string, number>
  }
}

/** Reads on replicas, and a session read's wait for one (`SessionReads`). */
export interface Replicas extends SessionReads.SessionReads {
  /**
   * Tries the ordered replicas (at most two), then the fallback on `primary` (the node that is the primary now, if
   * any). Statement errors are final. `fiber`, when the caller has it, is the fiber about to run the read
   * (`Primary.run`).
   */
  readonly read: <A>(
    order: ReadonlyArray<Selection.Candidate>,
    reason: Reason,
    run: Run<A>,
    primary: string | undefined,
    fiber?: Fiber.RuntimeFiber<any, any>
  ) => Effect.Effect<A, SqlError>
  /** The primary `node` within the fallback permits (`NoHealthyReplica` with `replicaOnly`). */
  readonly fallback: <A>(run: Run<A>, node: string | undefined) => Effect.Effect<A, SqlError>
  /** A fallback permit held for a scope (a stream on the primary), bounded like a fallback read's wait. */
  readonly fallbackPermit: Effect.Effect<void, SqlError, Scope.Scope>
  /** The `NoHealthyReplica` error of this cluster. */
  readonly noHealthyReplica: SqlError
  /** A reserved connection of a replica for a stream: bounded, its node faults reported, never retried. */
  readonly reserve: (candidate: Selection.Candidate) => Effect.Effect<Connection, SqlError, Scope.Scope>
}

/** Builds replica reads. */
export const make = (options: ReplicasOptions): Replicas => {
  const { config, consistency, fallbackPermits, learnt, monitor, primaries, recorder, replicas, report } = options
  const { failings, known, outstanding } = learnt
  const tracksOutstanding = config.strategy === "leastOutstanding"
  const noHealthyReplica = toSqlError(new NoHealthyReplica({ replicas: replicas.map((r) => r.name) }))
  const handle = (c: Selection.Candidate) => replicas[c.index]!
  const guards = replicas.map((replica) => Guard.make(replica, config))

  // A statement on replica `index`: bounded by its guard, and counted in flight where leastOutstanding looks.
  const attemptOn = <A>(index: number, run: Run<A>, connection: Connection): Effect.Effect<A, SqlError> => {
    const replica = replicas[index]!
    const statement = guards[index]!.statement(run(connection))
    // Only leastOutstanding looks at statements in flight: the others need not pay for counting them.
    if (!tracksOutstanding) return statement
    outstanding.set(replica.name, (outstanding.get(replica.name) ?? 0) + 1)
    return Effect.ensuring(
      statement,
      Effect.sync(() => outstanding.set(replica.name, (outstanding.get(replica.name) ?? 1) - 1))
    )
  }

  const onReplica = <A>(
    index: number,
    reason: Reason,
    run: Run<A>,
    fiber: Fiber.RuntimeFiber<any, any> | undefined
  ): Effect.Effect<A, SqlError> => {
    const replica = replicas[index]!
    // The replica path's own connection: its reads are ended at once if the node is found down (cutReads.ts).
    const attempt = () => attemptOn(index, run, replica.client.reads.connection)
    // Given the fiber that runs it, the attempt is being run now: built at once, with no step to defer it.
    return recorder.traced(replica.name, reason, fiber === undefined ? Effect.suspend(attempt) : attempt(), fiber)
  }

  // Retries and fallbacks repeat per statement while a node is down: one warning per kind and node per interval.
  const warnings = LogThrottle.make()

  const takePermit = fallbackPermits.take.pipe(
    Effect.interruptible,
    Effect.timeoutFail({
      duration: config.statementTimeout,
      onTimeout: () => toSqlError(new FallbackCapacityExceeded({ limit: config.maxFallbackConcurrency }))
    })
  )

  // Losing every replica must not flood the primary: fallback reads share a bounded number of permits. Only a permit
  // actually taken is given back (a wait that timed out or was interrupted took none).
  const fallbackPermit = Effect.acquireRelease(takePermit, () => fallbackPermits.release)

  const fallback = <A>(run: Run<A>, node: string | undefined): Effect.Effect<A, SqlError> =>
    config.readPreference === "replicaOnly"
      ? Effect.fail(noHealthyReplica)
      : Effect.acquireUseRelease(
        takePermit,
        () =>
          node === undefined ? Effect.fail(options.noPrimary) : Effect.zipRight(
            Log.throttledWarning(
              warnings,
              `fallback ${node}`,
              options.cluster,
              "no replica can serve the read: it falls back to the primary",
              { node, reason: "fallback" }
            ),
            primaries(node).run("fallback", false, run)
          ),
        () => fallbackPermits.release
      ).pipe(Effect.catchAll((error) => lastResort(run, error)))

  /**
   * The primary could not serve a fallback read because it is down: the replicas that only lost it (and so were not
   * candidates) still can, stale but available. Any other error stands.
   */
  const lastResort = <A>(run: Run<A>, error: SqlError): Effect.Effect<A, SqlError> => {
    const routerError = fromSqlError(error)
    if (Option.isNone(routerError) || routerError.value._tag !== "PrimaryUnavailable") return Effect.fail(error)
    return Effect.flatMap(monitor.snapshot, (snapshot) => {
      const stale = replicaCandidates(options.topology, config, withRouting(snapshot), learnt, true)
      if (stale.length === 0) return Effect.fail(error)
      return attempts(
        Selection.order(config.strategy, stale, options.selection),
        "retry",
        run,
        () => Effect.fail(error)
      )
    })
  }

  const attempts = <A>(
    order: ReadonlyArray<Selection.Candidate>,
    reason: Reason,
    run: Run<A>,
    exhausted: () => Effect.Effect<A, SqlError>,
    primary?: string | undefined,
    fiber?: Fiber.RuntimeFiber<any, any>
  ): Effect.Effect<A, SqlError> => {
    const attempt = (i: number): Effect.Effect<A, SqlError> => {
      const c = order[i]
      if (c === undefined || i >= 2) return exhausted()
      const replica = handle(c)
      return onReplica(c.index, i === 0 ? reason : "retry", run, fiber).pipe(
        Effect.catchAll((error) => {
          // The statement writes after all (a function with side effects): the primary runs it, as a write.
          if (isReadOnlyRefusal(error)) {
            return primary === undefined ? Effect.fail(options.noPrimary) : primaries(primary).run("write", true, run)
          }
          // A pooler with no connection free ran nothing: the next node may serve, and this one is not at fault.
          if (isBusy(error)) return attempt(i + 1)
          if (!isNodeFault(error)) return Effect.fail(error)
          return Effect.zipRight(
            report(replica.name, error),
            Effect.zipRight(
              Log.throttledWarning(
                warnings,
                `retry ${replica.name}`,
                options.cluster,
                `read failed on ${replica.name}: trying the next node`,
                {
                  node: replica.name,
                  reason: i === 0 ? reason : "retry",
                  next: order[i + 1] === undefined || i + 1 >= 2 ? "fallback" : order[i + 1]!.name,
                  ...Log.failure(error)
                }
              ),
              attempt(i + 1)
            )
          )
        })
      )
    }
    return attempt(0)
  }

  const read = <A>(
    order: ReadonlyArray<Selection.Candidate>,
    reason: Reason,
    run: Run<A>,
    primary: string | undefined,
    fiber?: Fiber.RuntimeFiber<any, any>
  ) => attempts(order, reason, run, () => fallback(run, primary), primary, fiber)

  const sessionReads = SessionReads.make({
    cluster: options.cluster,
    replicas,
    config,
    consistency,
    known,
    failings,
    report,
    recorder,
    attemptOn
  })

  const reserve = (c: Selection.Candidate) => {
    const replica = handle(c)
    // Held for a stream of reads: the node's `reads.cut` ends it at once when the monitor finds the node down.
    return guards[c.index]!.reserve(replica.client.reads.reserve).pipe(
      Effect.tapError((error) => isNodeFault(error) ? report(replica.name, error) : Effect.void)
    )
  }

  return {
    read,
    fallback,
    readCarried: sessionReads.readCarried,
    waitFor: sessionReads.waitFor,
    fallbackPermit,
    noHealthyReplica,
    reserve
  }
}
