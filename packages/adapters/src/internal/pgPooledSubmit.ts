/**
 * One statement on a client checked out of the node's pool for it (`pgClient.ts`'s path when no lane or batch takes
 * the statement): the client is given back once the statement is answered, or destroyed when the outcome left it
 * unusable (a lost socket, a deadline the server did not meet, an interruption mid-statement).
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type Pg from "pg"
import type { NodePool } from "./pgPool.js"
import type { Within } from "./pgSubmit.js"
import { acquireError, submitWithin } from "./pgSubmit.js"

/**
 * Checks a client out for `statement`, submits it under its deadline (`submitWithin`) and returns its canceller. With
 * `within.expired` (a caller's own deadline, `executeWithin`) the checkout counts against the deadline too, and
 * `expired` is the outcome past it; the statement then gets what is left of it.
 */
export const submitPooled = <A>(
  pool: NodePool,
  statement: Pg.QueryConfig | Pg.Query,
  map: (result: any) => A,
  within: Within<A>,
  resume: (outcome: Effect.Effect<A, SqlError>) => void
): () => void => {
  const { expired, guard } = within
  let timer: ReturnType<typeof setTimeout> | undefined
  let giveBack: ((cause?: Error) => void) | undefined
  const onError = (cause: Error) => {
    // The socket died under a statement in flight; pg reports it on the query as well.
    giveBack?.(cause)
    giveBack = undefined
  }
  const started = expired === undefined ? 0 : performance.now()
  const checkout = expired === undefined ? undefined : setTimeout(() => {
    if (guard.claim()) resume(expired)
  }, within.deadlineMs)
  pool.connect((error, client, release) => {
    if (checkout !== undefined) clearTimeout(checkout)
    if (error || client === undefined) {
      if (!error && client) release()
      if (guard.claim()) resume(Effect.fail(acquireError(within.alias, error ?? new Error("no client"))))
      return
    }
    let released = false
    giveBack = (cause?: Error) => {
      if (released) return
      released = true
      client.off("error", onError)
      release(cause)
    }
    if (guard.settled()) return giveBack()
    client.on("error", onError)
    timer = submitWithin(
      client,
      statement,
      map,
      expired === undefined
        ? within
        : { ...within, deadlineMs: Math.max(1, within.deadlineMs - (performance.now() - started)) },
      resume,
      (broken) => giveBack?.(broken)
    )
  })
  return () => {
    if (checkout !== undefined) clearTimeout(checkout)
    if (!guard.claim()) return
    if (timer !== undefined) clearTimeout(timer)
    giveBack?.(new Error("statement interrupted"))
  }
}
