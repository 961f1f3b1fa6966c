/**
 * A first-come, first-served permit gate. Effect's Semaphore lets a newcomer take a permit that was just released
 * ahead of the fibers already waiting; under a steady overload (every replica down, more readers than fallback
 * permits) some waiters then starve until their bound while others loop. Here a released permit always goes to the
 * oldest waiter.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"

/** A FIFO gate of a fixed number of permits. */
export interface FairGate {
  /** Waits for a permit, in arrival order. Interruptible: an interrupted wait holds no permit. */
  readonly take: Effect.Effect<void>
  /** Gives one permit back (to the oldest waiter, if any). */
  readonly release: Effect.Effect<void>
  /** Permits not taken. */
  readonly free: Effect.Effect<number>
}

/** A gate of `permits` permits. */
export const make = (permits: number): Effect.Effect<FairGate> =>
  Effect.sync(() => {
    let free = permits
    const waiters: Array<Deferred.Deferred<void>> = []

    const releaseUnsafe = () => {
      const next = waiters.shift()
      if (next === undefined) free++
      else Deferred.unsafeDone(next, Exit.void)
    }

    const take = Effect.suspend(() => {
      if (free > 0 && waiters.length === 0) {
        free--
        return Effect.void
      }
      const deferred = Deferred.unsafeMake<void>(FiberId.none)
      waiters.push(deferred)
      return Deferred.await(deferred).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => {
            const index = waiters.indexOf(deferred)
            // Still queued: leave the queue. Already handed a permit: pass it on.
            if (index >= 0) waiters.splice(index, 1)
            else releaseUnsafe()
          })
        )
      )
    })

    return {
      take,
      release: Effect.sync(releaseUnsafe),
      free: Effect.sync(() => free)
    }
  })
