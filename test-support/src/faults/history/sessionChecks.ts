/**
 * The session checks of reads: a read sees its own session's acknowledged writes, and a session's later read of a key
 * sees all its earlier reads saw.
 */
import type { History, Operation } from "../History.js"
import type { Verdict, Violation } from "./verdict.js"
import { completedReads, verdict, writes } from "./verdict.js"

/** The session's acknowledged writes per (session, key), ordered by completion: the index of the session checks. */
const ackedBySessionKey = (history: History) => {
  const index = new Map<string, Array<Operation>>()
  for (const w of writes(history)) {
    if (w.status !== "ok" || w.completedAt === undefined) continue
    const k = `${w.session}\u0000${w.key}`
    const list = index.get(k) ?? []
    list.push(w)
    index.set(k, list)
  }
  for (const list of index.values()) list.sort((a, b) => a.completedAt! - b.completedAt!)
  return index
}

/**
 * Session consistency: a read sees every write its own session had acknowledged on that key before the read was
 * invoked.
 */
export const noStaleReads = (history: History): Verdict => {
  const reads = completedReads(history)
  const acked = ackedBySessionKey(history)
  const violations: Array<Violation> = []
  for (const read of reads) {
    const seen = new Set(read.observed)
    const missing: Array<Operation> = []
    for (const w of acked.get(`${read.session}\u0000${read.key}`) ?? []) {
      if (w.completedAt! > read.invokedAt) break
      if (!seen.has(w.value!)) missing.push(w)
    }
    if (missing.length > 0) {
      violations.push({
        message: `read ${read.id} (${read.session}) of ${read.key} on ${read.node ?? "?"} missed ${missing.length} ` +
          `of its session's acknowledged writes (${missing.map((w) => w.value).join(", ")})`,
        ops: [read, ...missing]
      })
    }
  }
  return verdict("no stale read in session", reads.length, violations)
}

/**
 * Monotonic reads: a session's later read of a key (invoked after an earlier one completed) sees all it saw.
 * Values are never removed, so a later read must see the union of what every earlier completed read saw: one pass
 * in invocation order, folding in earlier reads as they complete (linear in reads times values per key).
 */
export const monotonicReads = (history: History): Verdict => {
  const bySessionKey = new Map<string, Array<Operation>>()
  for (const read of completedReads(history)) {
    const k = `${read.session}\u0000${read.key}`
    const list = bySessionKey.get(k) ?? []
    list.push(read)
    bySessionKey.set(k, list)
  }
  const violations: Array<Violation> = []
  let checked = 0
  for (const reads of bySessionKey.values()) {
    const byInvocation = [...reads].sort((a, b) => a.invokedAt - b.invokedAt)
    const byCompletion = [...reads].sort((a, b) => a.completedAt! - b.completedAt!)
    // Every value seen so far by a completed read, with the first read that saw it.
    const union = new Map<string, Operation>()
    let j = 0
    for (const later of byInvocation) {
      checked++
      while (j < byCompletion.length && byCompletion[j]!.completedAt! <= later.invokedAt) {
        const earlier = byCompletion[j++]!
        for (const v of earlier.observed!) if (!union.has(v)) union.set(v, earlier)
      }
      const seen = new Set(later.observed)
      const lost = [...union.entries()].filter(([v]) => !seen.has(v))
      if (lost.length > 0) {
        const earlier = lost[0]![1]
        violations.push({
          message: `read ${later.id} (${later.session}) of ${later.key} on ${later.node ?? "?"} no longer sees ` +
            `${lost.map(([v]) => v).join(", ")}, seen by read ${earlier.id} on ${earlier.node ?? "?"}`,
          ops: [earlier, later]
        })
      }
    }
  }
  return verdict("monotonic reads in session", checked, violations)
}
