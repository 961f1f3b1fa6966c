/**
 * Warnings a failure repeats for every statement (a read retried on the next node, a fallback to the primary) are
 * throttled per kind and node: the first line of each interval is written, with the number of lines left out since
 * the last one (`suppressed`). With every replica down, ten thousand reads a second would otherwise write ten thousand
 * lines a second (README, "Operating FastORM").
 */

/** The throttle of one kind of line on one node: when the current interval ends, and the lines left out in it. */
export interface Slot {
  readonly until: number
  readonly suppressed: number
}

/** What to do with one line at `now`. */
export interface Verdict {
  /** Write the line. */
  readonly write: boolean
  /** Lines left out since the last one written: annotated on this one when it is written. */
  readonly suppressed: number
  readonly next: Slot
}

/** How long one written line speaks for the same kind of line on the same node. */
export const INTERVAL_MS = 10_000

/** Pure: the verdict for a line at `now`, given the slot's state (undefined: never written). */
export const decide = (slot: Slot | undefined, now: number, intervalMs: number = INTERVAL_MS): Verdict => {
  if (slot === undefined || now >= slot.until) {
    return { write: true, suppressed: slot?.suppressed ?? 0, next: { until: now + intervalMs, suppressed: 0 } }
  }
  return { write: false, suppressed: slot.suppressed + 1, next: { until: slot.until, suppressed: slot.suppressed + 1 } }
}

/** A throttle over many kinds and nodes: `admit(key, now)` says whether to write and how many were left out. */
export const make = (intervalMs: number = INTERVAL_MS) => {
  const slots = new Map<string, Slot>()
  return {
    admit: (key: string, now: number): { readonly write: boolean; readonly suppressed: number } => {
      const verdict = decide(slots.get(key), now, intervalMs)
      slots.set(key, verdict.next)
      return { write: verdict.write, suppressed: verdict.suppressed }
    }
  }
}
