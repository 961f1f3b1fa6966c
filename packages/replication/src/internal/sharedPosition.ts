/**
 * One position read serves every write that completed before it started (ARCHITECTURE.md, "Read-your-writes"): a
 * position read on any primary connection after a write's commit returned covers that write. A write does not start
 * one: it joins the next batch, which is read when a session needs it (its next read awaits the batch, and starts it
 * at once) or at the latest `gather` after the first write joined, whichever comes first. So writes that no read
 * follows share one statement per `gather` however many they are, and a read after a write waits no longer than
 * it would for a read started by the write. Once `QUIET_BATCHES` batches in a row were read with no session awaiting
 * any batch (writes that no read follows: a writer, a job), a batch is read unasked only after `idleGather`, until a
 * session awaits one again.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type { Position } from "../SessionToken.js"

/** Reads a position that covers every write that completed before the call. */
export type Latest = Effect.Effect<Position | undefined, SqlError>

/**
 * How long a batch gathers writes before it is read unasked. Short: a position still unread when the primary fails
 * leaves its session on the primary until its next write (RELIABILITY.md), so the batch is read soon after anyway.
 */
export const GATHER = Duration.millis(5)

/**
 * How long a batch gathers writes while sessions do not read after them (`QUIET_BATCHES`): a read unasked serves no
 * one then, and it costs a statement on the primary (through a pooler, a pass through it too); any session's read
 * still starts a batch at once. Bounds how long a write's position stays unread then (RELIABILITY.md).
 */
export const IDLE_GATHER = Duration.millis(100)

/** Batches read in a row with no session awaiting any, after which a batch gathers for `IDLE_GATHER`. */
export const QUIET_BATCHES = 8

type Batch = Deferred.Deferred<Position | undefined, SqlError>

/** A batch not yet read, with the await every write that joins it shares (one object per batch, not per write). */
interface Waiting {
  readonly batch: Batch
  readonly awaited: Latest
}

/**
 * Joining the next batch: the effect that awaits it (the same for every write of the batch), and the timer to start
 * when the batch has none yet (undefined when it has one, or a read under way will chain to it).
 */
export type Joined = readonly [awaited: Latest, timer: Effect.Effect<void> | undefined]

/**
 * Batches `read`. `join` joins the next batch (never a read already under way, which may have started before the
 * caller's write committed), synchronously: a write pays no runtime step for it. Awaiting the batch starts the read
 * if it has not started, so only a write whose session reads next makes it start early.
 */
export const make = (
  read: Latest,
  gather: Duration.DurationInput = GATHER,
  idleGather: Duration.DurationInput = IDLE_GATHER
): { readonly join: () => Joined } => {
  const gatherFor = Duration.decode(gather)
  const idleFor = Duration.decode(idleGather)
  // A session awaited a batch since the last one was scheduled; how many were scheduled in a row with none awaited.
  let awaitedSince = false
  let quiet = 0
  // The batch the next read will serve, with its await shared by every write that joins it; undefined when nobody
  // waits for one. One variable, so the batch and its await are set and cleared together.
  let waiting: Waiting | undefined
  // A read is under way: when it ends, the waiting batch (if any) is read next or scheduled.
  let reading = false
  // A timer will start the waiting batch.
  let scheduled = false
  // A session awaits the waiting batch while a read is under way: it is read as soon as that read ends.
  let demanded = false

  /**
   * Reads the waiting batch in the current fiber, then goes on in the same fiber while batches keep waiting: at once
   * for one a session awaits, else after `gather`. A fiber that reads never forks the next reader or timer: a fork
   * copies its parent's FiberRefs and pushes the child on their stacks, so a chain of daemons, each forked by the one
   * before, grew those stacks by one per batch for as long as writes kept coming (memory, and a longer copy each time).
   */
  const readWaiting: Effect.Effect<void> = Effect.suspend(() => {
    if (reading || waiting === undefined) return Effect.void
    const batch = waiting.batch
    reading = true
    waiting = undefined
    demanded = false
    const readOne = Effect.exit(read).pipe(
      Effect.flatMap((exit: Exit.Exit<Position | undefined, SqlError>) => Deferred.done(batch, exit)),
      // Only when the runtime shuts down: the waiters are told, and a later caller starts afresh.
      Effect.onInterrupt(() =>
        Effect.suspend(() => {
          reading = false
          const next = waiting
          waiting = undefined
          return Effect.zipRight(
            Deferred.interrupt(batch),
            next === undefined ? Effect.void : Deferred.interrupt(next.batch)
          )
        })
      )
    )
    // The next batch in tail position, outside `onInterrupt`: the loop keeps no frame per batch.
    return Effect.zipRight(
      readOne,
      Effect.suspend(() => {
        reading = false
        if (waiting === undefined) return Effect.void
        return demanded ? readWaiting : gatherThenRead
      })
    )
  })

  /** How long the batch being scheduled gathers: `gather`, or `idleGather` once sessions stopped awaiting batches. */
  const gatherNow = (): Duration.Duration => {
    quiet = awaitedSince ? 0 : quiet + 1
    awaitedSince = false
    return quiet > QUIET_BATCHES ? idleFor : gatherFor
  }

  const unschedule = Effect.sync(() => {
    scheduled = false
  })

  /** Waits `delay` (the caller set `scheduled`), then reads the waiting batch unless a session's read took it. */
  const sleepThenRead = (delay: Duration.Duration): Effect.Effect<void> =>
    Effect.zipRight(Effect.ensuring(Effect.sleep(delay), unschedule), readWaiting)

  /** In a reading fiber: the waiting batch after `gather`, unless a timer already waits for it. */
  const gatherThenRead: Effect.Effect<void> = Effect.suspend(() => {
    if (scheduled) return Effect.void
    if (Duration.isZero(gatherFor)) return readWaiting
    scheduled = true
    return sleepThenRead(gatherNow())
  })

  // Started from a writer's or a session's fiber, never from a reading one (`readWaiting`).
  /** Starts reading the waiting batch, unless a read is under way (it goes on to the batch when it ends). */
  const kick: Effect.Effect<void> = Effect.suspend(() =>
    reading || waiting === undefined ? Effect.void : Effect.asVoid(Effect.forkDaemon(readWaiting))
  )

  /** Reads the waiting batch after `gather`, unless a session's read starts it sooner. */
  const schedule: Effect.Effect<void> = Effect.suspend(() => {
    if (scheduled) return Effect.void
    if (Duration.isZero(gatherFor)) return kick
    scheduled = true
    return Effect.asVoid(Effect.forkDaemon(sleepThenRead(gatherNow())))
  })

  const join = (): Joined => {
    let joined = waiting
    if (joined === undefined) {
      const mine = Deferred.unsafeMake<Position | undefined, SqlError>(FiberId.none)
      // Whoever needs the position starts its read if nobody has yet: a read never waits for the timer.
      const awaited: Latest = Effect.zipRight(
        Effect.suspend(() => {
          awaitedSince = true
          if (waiting?.batch !== mine) return Effect.void
          demanded = true
          return kick
        }),
        Deferred.await(mine)
      )
      joined = { batch: mine, awaited }
      waiting = joined
    }
    return [joined.awaited, reading || scheduled ? undefined : schedule]
  }
  return { join }
}
