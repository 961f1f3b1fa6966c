/**
 * The lock of a SQLite node's one connection. Transactions hold it from their first statement to their scope's end;
 * a statement outside a transaction runs at once when it is free and waits its turn when it is held. Taking it
 * when free is one flag, with no fiber, scope or semaphore: the common case of a transaction nobody waits for.
 *
 * A release does not hand the lock to the first waiter at once: it frees it and looks again in a microtask, once the
 * releasing fiber has stopped running. Handing it over at each release formed a convoy: with many callers every
 * transaction waited and was resumed by the scheduler (bench `transaction`, 16 callers: every one of 32 000
 * transactions waited), although a fiber that keeps running can take the free lock and finish its next transaction
 * in the same step. Each waiter still gets its turn: if the microtask finds the lock taken again, or after `turns`
 * releases that freed it while others waited, the next release hands it to the first waiter directly.
 */
import * as Effect from "effect/Effect"
import { cancellable } from "./cancellable.js"

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
  /** Frees the lock (the first waiter gets it once the releasing fiber stops), or hands it to a waiter owed it. */
  readonly release: () => void
}

// Transactions a fiber may run in a row while others wait: the cost of a hand-over (the next fiber's resumption)
// spread over many, and a waiter's wait bounded by transactions, not by how long the running fiber keeps running.
// Bench `transaction`, 16 callers, loaded machine, 2-4 runs each: CPU per transaction 47-49 us unbounded, 43-48 at
// 16, 50-53 at 8; p99 16-35 ms unbounded, 14-23 ms at 16, 18-19 ms at 8 (5-13 ms handing over at each release).
const TURNS = 16

/** A free lock; `turns`: how many releases may free it while others wait before one hands it over. */
export const make = (turns: number = TURNS): Lock => {
  let held = false
  // Releases that freed the lock while others waited, since a waiter last got it.
  let freed = 0
  const waiters: Array<() => void> = []
  // A microtask is queued to give the free lock to the first waiter.
  let queued = false
  // That microtask found the lock taken again: the next release hands it to the first waiter.
  let owed = false
  const settle = () => {
    queued = false
    if (waiters.length === 0) return
    if (held) {
      owed = true
      return
    }
    held = true
    freed = 0
    waiters.shift()!()
  }
  const wait = cancellable<void, never>((resume) => {
    // Resumed holding the lock.
    const waiter = () => resume(Effect.void)
    waiters.push(waiter)
    // Interrupted while waiting: leave the queue (a waiter given the lock is no longer in it, and holds it).
    return () => {
      const index = waiters.indexOf(waiter)
      if (index >= 0) waiters.splice(index, 1)
      if (waiters.length === 0) {
        owed = false
        freed = 0
      }
    }
  })
  const tryAcquire = () => {
    if (held) return false
    held = true
    return true
  }
  const acquire = Effect.suspend(() => tryAcquire() ? Effect.void : wait)
  const release = () => {
    if (owed || (waiters.length > 0 && ++freed >= turns)) {
      owed = false
      freed = 0
      const next = waiters.shift()
      // Handed over: the lock stays held, by the waiter that was passed over once or has waited `turns` releases.
      if (next !== undefined) return next()
    }
    held = false
    if (waiters.length > 0 && !queued) {
      queued = true
      queueMicrotask(settle)
    }
  }
  return { isHeld: () => held, acquire, tryAcquire, release }
}
