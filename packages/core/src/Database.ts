/**
 * Transactions on the primary and the `WriteOnly` switch.
 *
 * @effect/sql 0.52's `withTransaction` turns COMMIT/ROLLBACK failures into defects and lets sibling fibers reuse one
 * savepoint name, so the transaction is implemented here over `client.reserve`: one reserved connection on
 * `WriteConnection`, published through `SqlClient.TransactionConnection` so every statement of the write client
 * (and, in v3, of any client) runs on it, with typed outcomes and serialised savepoints.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { HeldConnection } from "./Connections.js"
import { holdOf, WriteConnection, WriteOnly } from "./Connections.js"
import { fromClient } from "./Dialect.js"
import type { ConnectionError } from "./Errors.js"
import { liftConnectionErrors, TransactionOutcomeUnknown } from "./Errors.js"
import { isServerAnswer } from "./internal/sqlErrors.js"

/** The state of the innermost open transaction level (internal, but exported for the other packages' tests). */
export interface TransactionState {
  readonly connection: Connection
  readonly depth: number
  /** Taken by each nested transaction opened directly at this level, so sibling savepoints never interleave. */
  readonly lock: Effect.Semaphore
}

/** A level's state; its lock is made at the first nested transaction (most transactions open none). */
class Level implements TransactionState {
  private semaphore: Effect.Semaphore | undefined = undefined
  constructor(readonly connection: Connection, readonly depth: number) {}
  get lock(): Effect.Semaphore {
    return this.semaphore ??= Effect.unsafeMakeSemaphore(1)
  }
}

/** The innermost open `Database.transaction` level, if any. */
export class CurrentTransaction extends Context.Tag("@fastorm/core/CurrentTransaction")<
  CurrentTransaction,
  TransactionState
>() {}

/**
 * Runs `effect` with `WriteOnly` set: every read inside goes to the primary, so the type asks for `WriteConnection`
 * (without it such a read fails with `MissingWriteConnection`).
 */
export const forceWrite = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | WriteConnection> =>
  Effect.provideService(effect, WriteOnly, true)

/** Whether the current fiber is inside `Database.transaction`. */
export const inTransaction: Effect.Effect<boolean> = Effect.map(
  Effect.serviceOption(CurrentTransaction),
  Option.isSome
)

/** The caller's context with a level's three services: one copy of the caller's map, no second map to merge. */
const levelContext = <R>(caller: Context.Context<R>, state: TransactionState): Context.Context<R> => {
  const services = new Map(caller.unsafeMap)
  services.set(CurrentTransaction.key, state)
  services.set(SqlClient.TransactionConnection.key, [state.connection, state.depth] as const)
  services.set(WriteOnly.key, true)
  return Context.unsafeMake(services)
}

const provideLevel = <A, E, R>(effect: Effect.Effect<A, E, R>, state: TransactionState): Effect.Effect<A, E, R> =>
  Effect.mapInputContext(effect, (context: Context.Context<R>) => levelContext(context, state))

/** The fiber's own setter, which the public `FiberRef.set` calls in a step of its own. */
interface ContextSetter {
  readonly setFiberRef: <X>(fiberRef: FiberRef.FiberRef<X>, value: X) => void
}

/**
 * Replaces the running fiber's context, in the caller's step. Only for a change that the same fiber undoes in every
 * way out of the region it covers (`outer`'s handlers do): `Effect.provide` would pay `acquireUseRelease` for it.
 */
const setContext = (fiber: Fiber.RuntimeFiber<unknown, unknown>, context: Context.Context<never>): void =>
  (fiber as unknown as ContextSetter).setFiberRef(FiberRef.currentContext, context)

let savepointCounter = 0

/** The transaction's own statements; a connection error arrives by its own tag (see `ConnectionError`). */
const unprepared = (connection: Connection, sql: string): Effect.Effect<void, SqlError | ConnectionError> =>
  liftConnectionErrors(Effect.asVoid(connection.executeUnprepared(sql, [], undefined)))

/** Adds a cleanup failure after the original cause, so the caller sees both and the original comes first. */
const withCleanupFailure = <E, C>(cause: Cause.Cause<E>, cleanup: Exit.Exit<void, C>): Cause.Cause<E | C> =>
  Exit.isFailure(cleanup) ? Cause.sequential(cause, cleanup.cause) : cause

const nested = <A, E, R>(
  parent: TransactionState,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError | ConnectionError, R> =>
  parent.lock.withPermits(1)(
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        // A fresh name per savepoint: never reused, even by concurrent siblings (the bug of @effect/sql 0.52).
        const name = `fastorm_sp_${++savepointCounter}`
        const { connection } = parent
        yield* unprepared(connection, `SAVEPOINT ${name}`)
        const level = new Level(connection, parent.depth + 1)
        const exit = yield* Effect.exit(provideLevel(restore(effect), level))
        if (Exit.isSuccess(exit)) {
          yield* unprepared(connection, `RELEASE SAVEPOINT ${name}`)
          return exit.value
        }
        const rollback = yield* Effect.exit(
          Effect.zipRight(
            unprepared(connection, `ROLLBACK TO SAVEPOINT ${name}`),
            unprepared(connection, `RELEASE SAVEPOINT ${name}`)
          )
        )
        return yield* Effect.failCause(withCleanupFailure(exit.cause, rollback))
      })
    )
  )

type Outcome<A, E, R> = Effect.Effect<A, E | SqlError | TransactionOutcomeUnknown | ConnectionError, R>

/** Closes `scope` with the failure lifted (connection errors by their tag), then fails with it. */
const closeFailed = (scope: Scope.CloseableScope, cause: Cause.Cause<unknown>): Effect.Effect<never, any> =>
  Effect.flatMap(
    Effect.exit(liftConnectionErrors(Effect.failCause(cause))),
    (lifted) => Effect.zipRight(Scope.close(scope, lifted), lifted)
  )

/** Gives the connection back with the failure lifted (connection errors by their tag), then fails with it. */
const releaseFailed = (held: HeldConnection, cause: Cause.Cause<unknown>): Effect.Effect<never, any> =>
  Effect.flatMap(
    Effect.exit(liftConnectionErrors(Effect.failCause(cause))),
    (lifted) => Effect.zipRight(held.release(lifted), lifted)
  )

/**
 * A connection of a client that does not offer `Holds` (a router, a foreign client): `client.reserve` in a scope
 * of its own, which the release closes. The scope is set in the fiber's context directly; on success the caller
 * sets the context next (the transaction's level), on failure it is put back here.
 */
const reserveInScope = (
  client: SqlClient.SqlClient,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>
): Effect.Effect<HeldConnection, any> =>
  Effect.flatMap(Scope.make(), (scope) => {
    const caller = fiber.currentContext
    setContext(fiber, Context.add(caller, Scope.Scope, scope))
    // Its Scope is the one just set in the fiber's context.
    const reserve = client.reserve as Effect.Effect<Connection, SqlError>
    return Effect.matchCauseEffect(restore(reserve), {
      onFailure: (cause) => {
        setContext(fiber, caller)
        return closeFailed(scope, cause)
      },
      onSuccess: (connection) => Effect.succeed({ connection, release: (exit) => Scope.close(scope, exit) })
    })
  })

const outer = <A, E, R>(
  client: SqlClient.SqlClient,
  effect: Effect.Effect<A, E, R>
): Outcome<A, E, R> =>
  // A chain of combinators rather than a generator: this runs once per transaction, on the hot path of every write
  // that reads first (bench:micro "transaction"). Each step is one `matchCauseEffect` (no `exit` + `flatMap`), and
  // connection errors are lifted on the failure paths only. The connection is held with no scope where the client
  // offers it (`Holds`). The level's context is set directly and the caller's put back first thing in every
  // handler: an `Effect.provide` was a copy of the context and an `acquireUseRelease` around the region.
  Effect.uninterruptibleMask((restore) =>
    Effect.withFiberRuntime((fiber): Outcome<A, E, R> => {
      const caller = fiber.currentContext
      const hold = holdOf(client)
      // A hold runs uninterruptibly (`Holds`): an interruption at the end of an interruptible region around it would
      // lose the connection, which no scope holds yet.
      return Effect.matchCauseEffect(hold !== undefined ? hold : reserveInScope(client, fiber, restore), {
        onFailure: (cause) => liftConnectionErrors(Effect.failCause(cause)),
        onSuccess: (held): Outcome<A, E, R> => {
          const connection = held.connection
          const level = new Level(connection, 0)
          // BEGIN runs on the connection itself: the level's services change nothing for it.
          setContext(fiber, levelContext(caller, level))
          // SQLite: take the write lock at BEGIN, so a transaction that reads first cannot fail later with
          // SQLITE_BUSY.
          return Effect.matchCauseEffect(connection.executeUnprepared(beginOf(client), [], undefined), {
            onFailure: (cause) => {
              setContext(fiber, caller)
              return releaseFailed(held, cause)
            },
            onSuccess: (): Outcome<A, E, R> =>
              Effect.matchCauseEffect(restore(effect), {
                onFailure: (cause) => {
                  setContext(fiber, caller)
                  return Effect.flatMap(Effect.exit(unprepared(connection, "ROLLBACK")), (rollback) =>
                    Effect.zipRight(
                      held.release(Exit.isFailure(rollback) ? rollback : Exit.failCause(cause)),
                      Effect.failCause(withCleanupFailure(cause, rollback))
                    ))
                },
                onSuccess: (value) => {
                  setContext(fiber, caller)
                  return commit(held, value)
                }
              })
          })
        }
      })
    })
  )

const beginOf = (client: SqlClient.SqlClient): string => fromClient(client) === "sqlite" ? "BEGIN IMMEDIATE" : "BEGIN"

/** Commits and gives the connection back; the outcome decides between `value`, a refusal and an unknown. */
const commit = <A>(held: HeldConnection, value: A): Effect.Effect<A, SqlError | TransactionOutcomeUnknown> =>
  // Not lifted: whether the server answered decides between a refused commit and an unknown outcome.
  Effect.matchCauseEffect(held.connection.executeUnprepared("COMMIT", [], undefined), {
    onSuccess: () => Effect.as(held.release(Exit.void), value),
    // A failed commit leaves the connection suspect: it goes back with the failure so pools can drop it.
    onFailure: (cause) =>
      Effect.zipRight(
        held.release(Exit.failCause(cause)),
        Effect.suspend((): Effect.Effect<A, SqlError | TransactionOutcomeUnknown> => {
          const error = Cause.failureOption(cause)
          if (Option.isSome(error) && !isServerAnswer(error.value)) {
            // No answer from the server: the commit may have been applied. Typed, never retried.
            return Effect.fail(new TransactionOutcomeUnknown({ cause: error.value }))
          }
          // The server refused the commit (e.g. a deferred constraint): the transaction is rolled back.
          return Effect.failCause(cause)
        })
      )
  })

/**
 * Runs `effect` in one transaction on the primary (`WriteConnection`) with `WriteOnly` set, so every read inside
 * runs on the transaction's own connection. Nested calls become savepoints, serialised per level. Failure or
 * interruption rolls back; a connection lost during COMMIT fails with `TransactionOutcomeUnknown`. A connection
 * error of its own statements (e.g. `PrimaryUnavailable` at BEGIN) arrives by its tag; `effect`'s errors are its own.
 */
export const transaction = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError | TransactionOutcomeUnknown | ConnectionError, R | WriteConnection> =>
  // One read of the fiber's context for the three services (three `serviceOption`s were six steps).
  Effect.withFiberRuntime((fiber) => {
    const context = fiber.currentContext as Context.Context<WriteConnection>
    const current = Context.getOption(context, CurrentTransaction)
    if (Option.isSome(current)) return nested(current.value, effect)
    const foreign = Context.getOption(context, SqlClient.TransactionConnection)
    if (Option.isSome(foreign)) {
      // Inside a plain @effect/sql `withTransaction`: reserving another connection could deadlock (sqlite) or
      // escape it, so nest on its connection instead.
      const [connection, depth] = foreign.value
      return nested(new Level(connection, depth), effect)
    }
    const client = Context.getOption(context, WriteConnection)
    // Missing: the usual "Service not found" defect of a service read.
    return Option.isSome(client)
      ? outer(client.value, effect)
      : Effect.flatMap(WriteConnection, (client) => outer(client, effect))
  })

/**
 * Runs `effect` on one connection of the primary: as is inside a transaction, else in a new transaction. Used for
 * write-then-read-back sequences on servers without RETURNING.
 */
export const onOneConnection = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError | TransactionOutcomeUnknown | ConnectionError, R | WriteConnection> =>
  Effect.flatMap(
    Effect.serviceOption(SqlClient.TransactionConnection),
    (current) => Option.isSome(current) ? effect : transaction(effect)
  )

/**
 * Runs `effect` outside any open transaction: its statements take their own connections again (in @effect/sql v3
 * the transaction connection is one context entry shared by every client). For health probes, audit writes that
 * must survive a rollback, or killing a session from the side. `WriteOnly` is left as it is.
 */
export const outsideTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.mapInputContext(
    effect,
    (context: Context.Context<R>) =>
      Context.omit(CurrentTransaction, SqlClient.TransactionConnection)(context) as Context.Context<R>
  )
