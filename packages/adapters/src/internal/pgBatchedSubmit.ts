/**
 * One statement sent in a node's batches behind a pooler (`pgBatches.ts`; ARCHITECTURE.md, "Batches behind a pooler"):
 * what it takes into its batch besides itself (a read's replay poll, a write's transaction and position cell), and the
 * deadlines that bound it, queued and sent.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type Pg from "pg"
import { timeoutError } from "./deadline.js"
import type { Lead } from "./pgBatchedLead.js"
import type { PositionCell } from "./pgBatchedWrite.js"
import type { Batches } from "./pgBatches.js"
import type { Answered, Target, Within } from "./pgSubmit.js"
import { submitWithin } from "./pgSubmit.js"

/** A read's replay poll, sent in front of it in its batch. */
export interface CarriedLead {
  readonly lead: Lead
}
/** A write, in a transaction of its own in its batch; `cell`: where its position goes, read after its COMMIT. */
export interface CarriedWrite {
  readonly write: true
  readonly cell?: PositionCell | undefined
}
/** What a statement takes into its batch besides itself: a read's lead, or a write's transaction. */
export type Carried = CarriedLead | CarriedWrite

/** A write whose position nobody asked for. */
export const PLAIN_WRITE: CarriedWrite = { write: true }

/**
 * Sends one statement in the node's batches under its deadline (`submitWithin`) and returns its canceller: a read
 * (with a lead, its replay poll in front), or a write (`CarriedWrite`) in a transaction of its own. Interrupted, a
 * statement still queued leaves the queue, a sent one's answer is dropped. Past its deadline a queued statement leaves
 * the queue and a sent one's connection is cut: the server did not answer, and the statements beside it fail as on a
 * lost connection.
 *
 * A read's deadline runs from when it is queued (past it, it runs elsewhere). A write's wait in the queue is bounded
 * by the same deadline and then fails as never sent (`unsent`); once written, its deadline starts again, one
 * statement deadline for itself and one for each statement ahead of it in its batch, which the server bounds each on
 * its own (`SET LOCAL statement_timeout`): a write is not cut, nor the writes beside it lost, for the time its batch's
 * earlier statements took.
 */
export const submitBatched = <A>(
  batches: Batches,
  query: Pg.QueryConfig,
  map: (result: any) => A,
  within: Within<A>,
  resume: (outcome: Effect.Effect<A, SqlError>) => void,
  carried?: Carried
): () => void => {
  const write = carried !== undefined && "write" in carried
  let built: Pg.Query | undefined
  // A write's: its result once its COMMIT answered (a session's write whose position read after it has not yet).
  let written: { readonly answered: Answered } | undefined
  let timer: ReturnType<typeof setTimeout> | undefined = undefined
  let sentTimer: ReturnType<typeof setTimeout> | undefined = undefined
  const refuse = (error: SqlError) => {
    if (!within.guard.claim()) return
    if (timer !== undefined) clearTimeout(timer)
    if (sentTimer !== undefined) clearTimeout(sentTimer)
    resume(Effect.fail(error))
  }
  // A write written (again, after a server error skipped it in an earlier batch): its deadline starts from here. Made
  // for writes only: a read's deadline runs from its queueing to its answer.
  const sent = write
    ? (position: number) => {
      clearTimeout(timer)
      if (sentTimer !== undefined) clearTimeout(sentTimer)
      const ms = within.deadlineMs * (position + 1)
      sentTimer = setTimeout(() => {
        if (!within.guard.claim()) return
        // Committed, its position unread: the write's own result, with no position (its session reads it as for any
        // write), not a timeout; the connection is cut all the same, as for any deadline.
        const known = written?.answered()
        written = undefined
        if (built !== undefined) batches.expire(built)
        built = undefined
        resume(known !== undefined ? Effect.succeed(map(known.result)) : Effect.fail(timeoutError(within.alias, ms)))
      }, ms)
    }
    : undefined
  const target: Target = {
    query: (q) => {
      built = q as Pg.Query
      if (sent !== undefined) written = batches.write(built, refuse, sent, (carried as CarriedWrite).cell)
      else batches.query(built, refuse, (carried as CarriedLead | undefined)?.lead)
    }
  }
  timer = submitWithin(
    target,
    query,
    map,
    write ? { ...within, expired: batches.unsent } : within,
    resume,
    (_, timedOut) => {
      if (timedOut && built !== undefined) batches.expire(built)
      if (sentTimer !== undefined) clearTimeout(sentTimer)
      // Answered: the closures of this statement may outlive it (its canceller, held until the fiber moves on), and
      // through this variable they held its query and rows; in the old generation they kept every batched read's rows
      // through young collections, to be promoted (BENCHMARKS.md, lever 44).
      built = undefined
      written = undefined
    }
  )
  // Refused at once (the pool is closing): its deadline has nothing left to bound.
  if (within.guard.settled()) clearTimeout(timer)
  return () => {
    if (!within.guard.claim()) return
    clearTimeout(timer)
    if (sentTimer !== undefined) clearTimeout(sentTimer)
    if (built !== undefined) batches.drop(built)
  }
}
