/**
 * Releases of the adapters' resources.
 *
 * `acquireReleaseSync` is `Effect.acquireRelease` for resources whose release is a plain synchronous call.
 * `acquireRelease` runs each finalizer with the FiberRefs the acquiring fiber had, which costs two FiberRefs diffs
 * and patches every time the scope closes; a connection reserved per transaction pays that on every transaction
 * (BENCHMARKS.md, "Each lever"). A release that reads no FiberRef (giving a connection back to its pool) can skip it.
 *
 * `endWithin` ends a node's pool within `RELEASE_BOUND_MS` (RELIABILITY.md, "Closing").
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"

/** Acquires uninterruptibly, as `acquireRelease` does, and adds `release` to the scope as a plain finalizer. */
export const acquireReleaseSync = <A, E, R>(
  acquire: Effect.Effect<A, E, R>,
  release: (resource: A, exit: Exit.Exit<unknown, unknown>) => void
): Effect.Effect<A, E, R | Scope.Scope> =>
  Effect.uninterruptible(
    Effect.flatMap(Scope.Scope, (scope) =>
      Effect.tap(
        acquire,
        (resource) => Scope.addFinalizerExit(scope, (exit) => Effect.sync(() => release(resource, exit)))
      ))
  )

/** How long closing a node's pool may wait for its connections to say goodbye before it closes them itself. */
export const RELEASE_BOUND_MS = 2_000

/**
 * Waits for `end` (a pool's own close, which waits for its connections' goodbyes: a statement still running, or a
 * link that went dark, can keep it waiting for ever) at most `RELEASE_BOUND_MS`; past it, `force` closes the sockets
 * left and says how many, and a warning names the node. A finalizer runs uninterruptibly, and `Effect.timeout`
 * waits for an uninterruptible effect to finish before it answers: the wait is made interruptible here, or the bound
 * would bound nothing.
 */
export const endWithin = (alias: string, end: Effect.Effect<void>, force: () => number): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.timeoutOption(Effect.interruptible(end), Duration.millis(RELEASE_BOUND_MS)),
    (ended) =>
      Option.isSome(ended) ? Effect.void : Effect.suspend(() => {
        const closed = force()
        return Effect.logWarning(
          `Closing the pool of ${alias} took more than ${RELEASE_BOUND_MS} ms: ${closed} connection(s) closed without their goodbye`
        )
      })
  )
