/**
 * Waiting for a primary (ARCHITECTURE.md, "Waiting for a primary"): with `primaryWaitTimeout` set, a statement that
 * found no primary, or whose primary refused it before running it, is decided again after a pause, until a primary
 * takes it or the wait is over. Only failures that sent nothing, or a read whose connection died, are retried (a
 * `PrimaryUnavailable`); a write whose outcome is unknown (`WriteOutcomeUnknown`) never is.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { fromSqlError } from "../RouterError.js"
import { isAuthentication } from "./failures.js"
import * as Log from "./log.js"
import * as Metrics from "./metrics.js"

/** The first pause between two attempts; each next one doubles, up to `MAX_PAUSE_MS`. */
export const FIRST_PAUSE_MS = 25
/** The longest pause, when nothing tells the waiter that the primary changed (`Changes`). */
export const MAX_PAUSE_MS = 250

/** The pause before attempt `attempt + 1` (0 after the first failure), or undefined when the wait is over. */
export const nextPause = (attempt: number, now: number, deadline: number): number | undefined =>
  now >= deadline ? undefined : Math.min(FIRST_PAUSE_MS * 2 ** attempt, MAX_PAUSE_MS, deadline - now)

/**
 * Whether a failure is one a new primary may end: nothing was sent, or a read lost its connection. A refused login
 * is not: it stays refused, and waiting would only hide it.
 */
export const waitsFor = (error: SqlError): boolean => {
  const routerError = fromSqlError(error)
  if (Option.isNone(routerError) || routerError.value._tag !== "PrimaryUnavailable") return false
  const cause = routerError.value.cause
  return !(cause instanceof SqlError && isAuthentication(cause))
}

/** Runs a statement (or a placement, an acquisition) again while it finds no primary, for up to the wait. */
export type Around = <A, R>(attempt: Effect.Effect<A, SqlError, R>) => Effect.Effect<A, SqlError, R>

/**
 * Tells waiters that the primary may have changed: the router fires it when a new snapshot names another primary, or
 * the same one with another status (back after a restart). A waiter notes `seen` before its attempt, so a change
 * between the attempt's decision and its pause ends the pause at once.
 */
export interface Changes {
  /** How many changes there were so far: a number to read on every attempt, nothing allocated. */
  readonly seen: () => number
  /** Completes at once if a change came after `seen`, else at the next change. */
  readonly after: (seen: number) => Effect.Effect<void>
  readonly fire: () => void
}

/** A `Changes` with no fiber of its own: a count, and one Deferred replaced at each change. */
export const changes = (): Changes => {
  let count = 0
  let current = Deferred.unsafeMake<void>(FiberId.none)
  return {
    seen: () => count,
    after: (seen) => seen === count ? Deferred.await(current) : Effect.void,
    fire: () => {
      const fired = current
      count++
      current = Deferred.unsafeMake<void>(FiberId.none)
      Deferred.unsafeDone(fired, Exit.void)
    }
  }
}

/** Told of each wait that ended: how long it lasted, and whether a primary took the statement (`found`). */
export type Ended = (waitedMs: number, found: boolean) => Effect.Effect<void>

/** Each ended wait counted (`fastorm_primary_waits_total`, `fastorm_primary_wait_ms`) and logged at debug. */
export const reported = (cluster: string): Ended => {
  const metrics = Metrics.primaryWaits(cluster)
  return (waitedMs, found) =>
    Effect.withFiberRuntime((fiber) => {
      Metrics.recordWait(metrics, waitedMs, found, fiber.getFiberRef(FiberRef.currentMetricLabels))
      return Log.debugOn(fiber)
        ? Log.debug(cluster, found ? "a statement waited for a primary" : "a wait for a primary gave up", {
          reason: "primaryWait",
          found,
          waitedMs: Math.round(waitedMs)
        })
        : Effect.void
    })
}

/**
 * The wait of `timeout`: a pause ends early when `primary` changes. Undefined when the timeout is zero (the default:
 * fail at once, and the hot path is untouched). A statement inside a transaction never waits: it runs on the
 * transaction's connection or not at all (checked on its failure only, so a success pays nothing for it).
 */
export const make = (
  timeout: Duration.Duration,
  primary: Changes,
  ended: Ended = () => Effect.void
): Around | undefined => {
  const millis = Duration.toMillis(timeout)
  if (!(millis > 0)) return undefined
  return <A, R>(attempt: Effect.Effect<A, SqlError, R>) =>
    Effect.suspend(() => {
      const deadline = Date.now() + millis
      // Attempt `n`, `seen` the changes before it; `since`: when the first attempt failed (the wait began). Any answer
      // but a failure a primary may end ends the wait.
      const from = (n: number, since: number): Effect.Effect<A, SqlError, R> => {
        const seen = primary.seen()
        return Effect.matchEffect(attempt, {
          onSuccess: (a) => n === 0 ? Effect.succeed(a) : Effect.as(ended(Date.now() - since, true), a),
          onFailure: (error) => {
            if (!waitsFor(error)) {
              return n === 0 ? Effect.fail(error) : Effect.zipRight(ended(Date.now() - since, true), Effect.fail(error))
            }
            if (n > 0) return pauseThen(error, n, seen, since)
            return Effect.withFiberRuntime((fiber) =>
              Context.getOption(fiber.currentContext, SqlClient.TransactionConnection)._tag === "Some"
                ? Effect.fail(error)
                : pauseThen(error, 0, seen, Date.now())
            )
          }
        })
      }
      const pauseThen = (error: SqlError, n: number, seen: number, since: number): Effect.Effect<A, SqlError, R> => {
        const now = Date.now()
        const pause = nextPause(n, now, deadline)
        if (pause === undefined) return Effect.zipRight(ended(now - since, false), Effect.fail(error))
        // The pause holds nothing and can always be interrupted, also where the attempt cannot (a transaction's
        // connection is acquired uninterruptibly): the race's loser is then interrupted, not awaited.
        return Effect.zipRight(
          Effect.interruptible(Effect.raceFirst(Effect.sleep(pause), primary.after(seen))),
          from(n + 1, since)
        )
      }
      return from(0, 0)
    })
}
