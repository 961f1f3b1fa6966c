/**
 * The lock of a SQLite node's one connection. Transactions hold it from their first statement to their scope's end;
 * a statement outside a transaction runs at once when it is free and waits its turn when it is held. Taking it
 * when free is one flag, with no fiber, scope or semaphore: the common case of a transaction nobody waits for.
 */
import * as Effect from "effect/Effect"

/** A lock over one connection, handed to its waiters in turn. */
export interface Lock {
  /** Whether a transaction (or a waiting statement's turn) holds it. */
  readonly isHeld: () => boolean
  /**
   * Takes the lock, waiting while it is held. Run it under `restore` in an uninterruptible region, and release in
   * that region once it succeeded (as Effect's semaphore is used).
   */
  readonly acquire: Effect.Effect<void>
  /** Takes the lock now if it is free (no effect, no fiber step); false if it is held. */
  readonly tryAcquire: () => boolean
  /** Gives the lock to the first waiter, or frees it. */
  readonly release: () => void
}

/** A free lock. */
export const make = (): Lock => {
  let held = false
  const waiters: Array<() => void> = []
  const wait = Effect.async<void>((resume) => {
    const waiter = () => resume(Effect.void)
    waiters.push(waiter)
    // Interrupted while waiting: leave the queue (a waiter given the lock is no longer in it, and holds it).
    return Effect.sync(() => {
      const index = waiters.indexOf(waiter)
      if (index >= 0) waiters.splice(index, 1)
    })
  })
  const acquire = Effect.suspend(() => {
    if (held) return wait
    held = true
    return Effect.void
  })
  const tryAcquire = () => {
    if (held) return false
    held = true
    return true
  }
  const release = () => {
    const next = waiters.shift()
    // Handed over: the lock stays held, by the next in line.
    if (next !== undefined) next()
    else held = false
  }
  return { isHeld: () => held, acquire, tryAcquire, release }
}
