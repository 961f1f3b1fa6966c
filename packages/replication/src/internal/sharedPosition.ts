/**
 * One position read serves every write that completed before it started (ARCHITECTURE.md, "Read-your-writes"): a
 * position read on any primary connection after a write's commit returned covers that write. Writers that finish
 * while a read is under way join the next one, which starts as soon as the current one ends; so under load the
 * position costs a fraction of a statement per write instead of a reserved connection and a round trip each.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import type { Position } from "../SessionToken.js"

/** Reads a position that covers every write that completed before the call. */
export type Latest = Effect.Effect<Position | undefined, SqlError>

/**
 * Batches `read`. `start` joins the next read (starting it when none is under way: never one already under way,
 * which may have started before the caller's write committed) and returns at once with the effect that awaits it.
 */
export const make = (read: Latest): { readonly start: Effect.Effect<Latest> } => {
  // The batch the next read will serve; undefined when nobody waits for one.
  let waiting: Deferred.Deferred<Position | undefined, SqlError> | undefined
  let reading = false

  const readFor = (batch: Deferred.Deferred<Position | undefined, SqlError>): Effect.Effect<void> =>
    Effect.exit(read).pipe(
      Effect.flatMap((exit: Exit.Exit<Position | undefined, SqlError>) => Deferred.done(batch, exit)),
      Effect.zipRight(Effect.suspend(() => {
        const next = waiting
        if (next === undefined) {
          reading = false
          return Effect.void
        }
        waiting = undefined
        return readFor(next)
      }))
    )

  const start = Effect.suspend(() => {
    let batch = waiting
    if (batch === undefined) {
      batch = Deferred.unsafeMake<Position | undefined, SqlError>(FiberId.none)
      waiting = batch
    }
    const mine = batch
    const awaited: Latest = Deferred.await(mine)
    if (reading) return Effect.succeed(awaited)
    // Nobody reads now: this caller starts the read for its batch (and the batches that form meanwhile), in a
    // fiber of its own, so that no caller waits for it until it needs the position.
    reading = true
    waiting = undefined
    const reader = readFor(mine).pipe(
      // Only when the runtime shuts down: the waiters are told, and a later caller starts afresh.
      Effect.onInterrupt(() =>
        Effect.suspend(() => {
          reading = false
          const next = waiting
          waiting = undefined
          return Effect.zipRight(Deferred.interrupt(mine), next === undefined ? Effect.void : Deferred.interrupt(next))
        })
      )
    )
    return Effect.as(Effect.forkDaemon(reader), awaited)
  })
  return { start }
}
