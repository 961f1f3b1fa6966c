/**
 * The cluster's Promise-based controls and queries, for tests written as Effects. A control that rejects is a defect
 * (the test fails with its message); an admin query fails with its typed NodeQueryError (node name, driver code, no
 * password), so a finalizer can ignore it.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { PgBouncerNode } from "./cluster/pgbouncer.js"
import { startPgBouncer, stopPgBouncer } from "./cluster/pgbouncer.js"
import { adminQuery, NodeQueryError } from "./cluster/sql.js"
import type { NodeInfo } from "./cluster/types.js"

/** Runs a promise-returning cluster control (`stopNode`, `pauseReplay`, ...) as an Effect. */
export const control = (f: () => Promise<unknown>): Effect.Effect<void> => Effect.asVoid(Effect.promise(f))

/** `adminQuery` as an Effect: one statement as the node's admin, in the app database; its rows. */
export const admin = <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = []
): Effect.Effect<Array<R>, NodeQueryError> =>
  Effect.tryPromise({
    try: () => adminQuery<R>(node, sql, params),
    catch: (e) => e instanceof NodeQueryError ? e : new NodeQueryError(node.name, undefined, undefined, String(e))
  })

/** A PgBouncer of a test's own in front of `backend` (`startPgBouncer`), stopped when the scope closes. */
export const scopedPgBouncer = (
  ...args: Parameters<typeof startPgBouncer>
): Effect.Effect<PgBouncerNode, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => startPgBouncer(...args)),
    (node) => Effect.promise(() => stopPgBouncer(node))
  )

/** What `scratchTable` needs of a client: its `unsafe` statement. */
export interface Unsafe<E> {
  readonly unsafe: (sql: string) => Effect.Effect<unknown, E>
}

/**
 * A test's own table `name (columns)`, created afresh through `client` (any left by an earlier run dropped first) and
 * dropped when the scope closes.
 */
export const scratchTable = <E>(
  client: Unsafe<E>,
  name: string,
  columns: string
): Effect.Effect<void, E, Scope.Scope> =>
  Effect.zipRight(
    Effect.zipRight(client.unsafe(`DROP TABLE IF EXISTS ${name}`), client.unsafe(`CREATE TABLE ${name} (${columns})`)),
    Effect.addFinalizer(() => Effect.ignore(client.unsafe(`DROP TABLE IF EXISTS ${name}`)))
  )
