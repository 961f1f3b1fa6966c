/**
 * A session read's wait for a replica to replay the session's writes (ARCHITECTURE.md, "Read-your-writes"): the
 * bounded wait itself (`ConsistencyOps.waitFor`), and the read that carries the wait's first poll (MariaDB: the wait
 * itself) in its own round trip, thrown away when the replica turns out behind (`ConsistencyOps.carried`). What a wait
 * shows a replica has replayed is kept for the sessions after it.
 */
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import * as SessionToken from "../SessionToken.js"
import type { ConsistencyOps } from "./consistency.js"
import { WAIT_MARGIN_MS } from "./consistency.js"
import { isBusy, isNodeFault, isReadOnlyRefusal } from "./failures.js"
import * as Log from "./log.js"
import * as Metrics from "./metrics.js"
import type { NodeHandle, Run } from "./primary.js"
import type { Recorder } from "./routeStats.js"
import type * as Selection from "./selection.js"

/** The replica had not replayed the session's writes when its carried poll ran (or no poll was carried). */
export const behind: unique symbol = Symbol.for("@fastorm/replication/SessionReads/behind")
/** The replica could not serve a carried read (a node fault, a pooler with no connection free). */
export const failed: unique symbol = Symbol.for("@fastorm/replication/SessionReads/failed")

/** A wait carried in front of the read ran its bound without the replica catching up: the read was thrown away. */
export const gaveUp: unique symbol = Symbol.for("@fastorm/replication/SessionReads/gaveUp")

/** The outcome of a carried session read (`SessionReads.readCarried`). */
export type Carried<A> = { readonly value: A } | typeof behind | typeof failed | typeof gaveUp

/** The most session reads in a row that wait without carrying a poll on a replica its carried polls find behind. */
export const MAX_SKIPS = 64

/**
 * After a carried poll on a replica: how many of the next session reads there wait without carrying one. A replica
 * found behind lags for now, and a read carried to it would be thrown away: 1, 2, 4 ... up to `MAX_SKIPS` while it
 * keeps being found behind; none once a poll finds it caught up. `last` is the previous answer.
 */
export const backoff = (last: number, foundBehind: boolean): number =>
  foundBehind ? Math.min(Math.max(1, last * 2), MAX_SKIPS) : 0

/** What session reads need of the router. */
export interface SessionReadsOptions {
  /** The cluster's name, in log lines. */
  readonly cluster: string
  readonly replicas: ReadonlyArray<NodeHandle>
  readonly config: ResolvedReadWriteConfig
  readonly consistency: ConsistencyOps | undefined
  /** Replay positions learnt from waits, by replica (fresher than the monitor's between probes). */
  readonly known: Map<string, string>
  /** How many times the monitor found each replica failing (a wait started before the last time gives up). */
  readonly failings: ReadonlyMap<string, number>
  /** Tells the monitor about a failure the application saw on a node. */
  readonly report: (node: string, error: SqlError) => Effect.Effect<void>
  readonly recorder: Recorder
  /** A statement on the replica at `index` over `connection`: bounded, counted in flight (`Replicas`). */
  readonly attemptOn: <A>(index: number, run: Run<A>, connection: Connection) => Effect.Effect<A, SqlError>
}

/** A session read's wait, and the read that carries its first poll. */
export interface SessionReads {
  /** Waits up to `sessionWaitTimeout` for the replica to replay `token`; true when it has. Never fails. */
  readonly waitFor: (replica: Selection.Candidate, token: SessionToken.Position) => Effect.Effect<boolean>
  /**
   * A session read on `replica` with the wait's first poll (MariaDB: the wait itself) in front of it, in the read's
   * round trip: the read's outcome when the poll shows `token` replayed there; `behind` when it does not, or the
   * dialect or node cannot carry a poll, or the replica was found behind lately (`backoff`), or the statement turned
   * out to write (the read, if it ran, is thrown away: the caller waits, then reads as usual); `gaveUp` when a carried
   * wait ran its bound (the read is thrown away: the caller reads elsewhere, with no second wait); `failed` when the
   * replica could not serve it (the caller goes on without it). Statement errors are final.
   */
  readonly readCarried: <A>(
    replica: Selection.Candidate,
    token: SessionToken.Position,
    run: Run<A>,
    fiber: Fiber.RuntimeFiber<any, any>
  ) => Effect.Effect<Carried<A>, SqlError>
}

/** Builds the session reads of one router. */
export const make = (options: SessionReadsOptions): SessionReads => {
  const { attemptOn, config, consistency, failings, known, recorder, replicas, report } = options
  const waitMetrics = replicas.map((replica) => Metrics.sessionWaits(replica.name))

  /**
   * Keeps what a wait showed a replica has replayed, unless an earlier one showed more: a session whose position it
   * covers reads there with no wait (`Eligibility.coveringCandidates`).
   */
  const learn = (name: string, replayed: SessionToken.Position): true => {
    if (!SessionToken.covers(known.get(name), replayed)) known.set(name, replayed.value)
    return true
  }

  /**
   * Records a finished wait on `c` (its metrics, and a debug line built only when debug lines are written) and
   * answers `outcome`. `carried`: the wait was one poll in front of the read.
   */
  const waited = <B>(
    c: Selection.Candidate,
    fiber: Fiber.RuntimeFiber<any, any>,
    started: number,
    ok: boolean,
    carried: boolean,
    outcome: B
  ): Effect.Effect<B> => {
    const waitedMs = performance.now() - started
    Metrics.recordWait(waitMetrics[c.index]!, waitedMs, ok, fiber.getFiberRef(FiberRef.currentMetricLabels))
    if (!Log.debugOn(fiber)) return Effect.succeed(outcome)
    return Effect.as(
      Log.debug(options.cluster, `session read waited for ${c.name} to replay the session's writes`, {
        node: c.name,
        reason: "session",
        caughtUp: ok,
        carried,
        waitedMs: Math.round(waitedMs)
      }),
      outcome
    )
  }

  // One runtime step around the wait, none for its metrics: a session read waits after most of its session's writes
  // (bench: the 90/10 mix).
  const waitFor = (c: Selection.Candidate, token: SessionToken.Position): Effect.Effect<boolean> => {
    if (consistency === undefined) return Effect.succeed(false)
    const replica = replicas[c.index]!
    return Effect.withFiberRuntime((fiber) => {
      const started = performance.now()
      // On the replica's read connection: a wait on a node the monitor finds down ends at once (cutReads.ts), and
      // one found failing between two of its statements sends no more.
      const failingsBefore = failings.get(c.name) ?? 0
      const abandoned = () => (failings.get(c.name) ?? 0) !== failingsBefore
      const wait = consistency.waitFor(replica.client.reads.connection, token, config.sessionWaitTimeout, abandoned)
      return Effect.matchEffect(wait, {
        onFailure: (error) => Effect.as(isNodeFault(error) ? report(replica.name, error) : Effect.void, false),
        onSuccess: (replayed) => {
          const ok = replayed !== undefined && learn(c.name, replayed)
          return waited(c, fiber, started, ok, false, ok)
        }
      })
    })
  }

  const carried = consistency?.carried
  const behindNow: Effect.Effect<Carried<never>> = Effect.succeed(behind)
  const failedNow: Effect.Effect<Carried<never>> = Effect.succeed(failed)
  // A wait carried in front of the read (MariaDB) may take up to the session's bound before the read runs: the read's
  // own deadline is extended by that much.
  const carriedWaitMs = carried?.waits === true ? Duration.toMillis(config.sessionWaitTimeout) + WAIT_MARGIN_MS : 0
  // Per replica: its last backoff (`backoff`), and how many session reads are left to wait there without a poll.
  const penalties = replicas.map(() => 0)
  const skips = replicas.map(() => 0)

  // The usual case of a session read: its replica has replayed the write by the time the poll runs (1.01 polls per
  // wait, BENCHMARKS.md), so the poll rides in front of the read and the read costs no round trip of its own. A read
  // thrown away with its poll belongs to the wait: it is neither counted as routed nor recorded as a wait here (the
  // wait that follows is).
  const readCarried = <A>(
    c: Selection.Candidate,
    token: SessionToken.Position,
    run: Run<A>,
    fiber: Fiber.RuntimeFiber<any, any>
  ): Effect.Effect<Carried<A>, SqlError> => {
    const replica = replicas[c.index]!
    const leading = replica.client.reads.leading
    if (carried === undefined || leading === undefined) return behindNow
    if (skips[c.index]! > 0) {
      skips[c.index]!--
      return behindNow
    }
    const sql = carried.sql(token, config.sessionWaitTimeout)
    if (sql === undefined) return behindNow
    const started = performance.now()
    let replayed: SessionToken.Position | undefined
    const connection = leading(sql, (rows) => {
      replayed = carried.replayed(rows, token)
    }, carriedWaitMs)
    const attempt = recorder.spanned(fiber, replica.name, "session", attemptOn(c.index, run, connection))
    return Effect.matchEffect(attempt, {
      onFailure: (error) => {
        // The statement writes after all: the usual read after the wait hands it to the primary, as a write.
        if (isReadOnlyRefusal(error)) return behindNow
        recorder.countSince(fiber, replica.name, "session", started)
        if (isNodeFault(error)) return Effect.zipRight(report(replica.name, error), failedNow)
        return isBusy(error) ? failedNow : Effect.fail(error)
      },
      onSuccess: (value): Effect.Effect<Carried<A>> => {
        if (replayed === undefined) {
          // The carried wait gave up (or failed, and said nothing): as a plain wait that did, with no second one.
          if (carried.waits) return waited(c, fiber, started, false, true, gaveUp)
          penalties[c.index] = skips[c.index] = backoff(penalties[c.index]!, true)
          return behindNow
        }
        penalties[c.index] = backoff(penalties[c.index]!, false)
        recorder.countSince(fiber, replica.name, "session", started)
        return waited(c, fiber, started, learn(c.name, replayed), true, { value })
      }
    })
  }

  return { waitFor, readCarried }
}
