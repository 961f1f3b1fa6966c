/**
 * What a check of a history says: a verdict with its counter-examples, the final state the checks compare the
 * history with, and the views of the history the checks share.
 */
import type { History, Operation } from "../History.js"

/** One counter-example. */
export interface Violation {
  readonly message: string
  readonly ops: ReadonlyArray<Operation>
}

/** The result of one check. */
export interface Verdict {
  readonly check: string
  readonly valid: boolean
  /** How many operations (or items) the check looked at. */
  readonly checked: number
  readonly violations: ReadonlyArray<Violation>
}

/** A verdict: valid when it found no counter-example. */
export const verdict = (check: string, checked: number, violations: ReadonlyArray<Violation>): Verdict => ({
  check,
  valid: violations.length === 0,
  checked,
  violations
})

/** The final state: every value of every key, as read from the primary after the run. */
export type FinalState = ReadonlyMap<string, ReadonlySet<string>>

/** Builds a final state from rows of (key, value). */
export const finalStateOf = (rows: Iterable<{ readonly key: string; readonly value: string }>): FinalState => {
  const out = new Map<string, Set<string>>()
  for (const row of rows) {
    let set = out.get(row.key)
    if (set === undefined) out.set(row.key, set = new Set())
    set.add(row.value)
  }
  return out
}

/** Whether the final state holds `value` in `key`. */
export const has = (state: FinalState, key: string, value: string | undefined) =>
  value !== undefined && (state.get(key)?.has(value) ?? false)

/** The history's writes. */
export const writes = (history: History) => history.ops.filter((op) => op.kind === "write")

/** The reads that succeeded with what they saw. */
export const completedReads = (history: History) =>
  history.ops.filter((op) => op.kind === "read" && op.status === "ok" && op.observed !== undefined)
