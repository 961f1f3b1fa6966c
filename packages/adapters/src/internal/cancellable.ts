/**
 * A driver callback's wait that an interruption cancels: what `Effect.async` with a canceller does, built so that the
 * statement's objects die young (BENCHMARKS.md, lever 24).
 *
 * `Effect.async` wraps a wait that returns a canceller in `Effect.onInterrupt`, whose handlers are object literals in
 * Effect's own code, shared by every interruptible wait in the process, sleeps and queue takes included. Objects of a
 * literal that mostly outlive a young-generation collection (a sleeping fiber's) make V8 allocate every later object
 * of that literal in the old generation (allocation-site pretenuring). From then on each statement's handlers are
 * old objects that keep the statement's closures, its driver callback and its timer alive through the next
 * scavenges: measured, 2.4 KB copied and promoted per point read, and scavenges four times as long. Here the
 * handlers are an instance of a class of this module, which no literal site allocates, around a wait with no
 * canceller.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"

/** Registers the wait with the driver; returns what cancels it, or nothing when there is nothing to cancel. */
export type Register<A, E> = (resume: (outcome: Effect.Effect<A, E>) => void) => (() => void) | void

/** The wait's handlers: the canceller runs when the wait ends by interruption only, as `Effect.onInterrupt` does. */
class Handlers<A, E> {
  cancel: (() => void) | void = undefined
  readonly onFailure = (cause: Cause.Cause<E>): Effect.Effect<A, E> => {
    const cancel = this.cancel
    this.cancel = undefined
    if (cancel !== undefined && Cause.isInterruptedOnly(cause)) cancel()
    return Effect.failCause(cause)
  }
  onSuccess(value: A): Effect.Effect<A, E> {
    return Effect.succeed(value)
  }
}

/**
 * Waits for `register`'s callback; when the waiting fiber is interrupted, runs the canceller `register` returned
 * (synchronously, uninterruptibly) and ends interrupted. A callback after that is ignored.
 */
export const cancellable = <A, E>(register: Register<A, E>): Effect.Effect<A, E> =>
  Effect.uninterruptibleMask((restore) => {
    const handlers = new Handlers<A, E>()
    // One parameter and no canceller returned: `Effect.async` adds no `onInterrupt` of its own.
    const wait = Effect.async<A, E>((resume) => {
      handlers.cancel = register(resume)
    })
    return Effect.matchCauseEffect(restore(wait), handlers)
  })
