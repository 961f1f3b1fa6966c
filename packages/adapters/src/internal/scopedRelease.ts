/**
 * `Effect.acquireRelease` for resources whose release is a plain synchronous call. `acquireRelease` runs each
 * finalizer with the FiberRefs the acquiring fiber had, which costs two FiberRefs diffs and patches every time the
 * scope closes; a connection reserved per transaction pays that on every transaction (BENCHMARKS.md, "Each lever").
 * A release that reads no FiberRef (giving a connection back to its pool) can skip it.
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
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
