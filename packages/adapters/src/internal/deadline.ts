/**
 * Client-side statement deadlines for callback drivers, without a fiber per statement.
 *
 * `Effect.timeout` forks fibers (measured here: ~50 µs of CPU per statement, ten times a fast query's own cost).
 * A timer inside the driver callback costs next to nothing, and on expiry the connection is destroyed rather than
 * cancelled politely: a frozen server would never answer the cancel either.
 */
import { SqlError } from "@effect/sql/SqlError"

/**
 * The driver-level error of a bound that passed with no answer from the server (a statement's deadline, a new
 * connection's first statements, a checkout): connection-class (ETIMEDOUT), so the node is at fault and routers run a
 * read elsewhere, as after a connect that timed out.
 */
export const noAnswer = (text: string): Error => Object.assign(new Error(text), { code: "ETIMEDOUT" })

/** What a borrower waiting for a new connection learns when its pool closes first: one text for both databases. */
export const closedBeforeSetUp = (): Error => new Error("the pool was closed before this connection was set up")

/** The error a statement gets when its deadline passes: connection-class (ETIMEDOUT), so routers retry elsewhere. */
export const timeoutError = (node: string, ms: number): SqlError =>
  new SqlError({
    message: `No answer from "${node}" within ${ms} ms`,
    cause: noAnswer(`no answer within ${ms} ms (client-side statement deadline)`)
  })

/** A one-shot guard: the first of answer, deadline or interruption wins; the others do nothing. */
export interface Settle {
  /** True when this call won. */
  readonly claim: () => boolean
  readonly settled: () => boolean
}

/** A fresh guard. */
export const settle = (): Settle => {
  let done = false
  return {
    claim: () => {
      if (done) return false
      done = true
      return true
    },
    settled: () => done
  }
}
