/**
 * The liveness check: every operation ended, within its deadline.
 */
import type { History } from "../History.js"
import type { Verdict, Violation } from "./verdict.js"
import { verdict } from "./verdict.js"

/** Every operation ended (ok, failed or unknown) within its deadline plus `graceMs`; none is still pending. */
export const withinDeadlines = (history: History, options: { readonly graceMs?: number | undefined } = {}): Verdict => {
  const grace = options.graceMs ?? 0
  const violations: Array<Violation> = []
  for (const op of history.ops) {
    if (op.completedAt === undefined) {
      violations.push({ message: `${op.kind} ${op.id} (${op.session}) never ended`, ops: [op] })
      continue
    }
    const took = op.completedAt - op.invokedAt
    if (took > op.deadlineMs + grace) {
      violations.push({
        message: `${op.kind} ${op.id} (${op.session}) took ${Math.round(took)} ms, deadline ${op.deadlineMs} ms` +
          ` (${op.status}${op.error !== undefined ? `: ${op.error}` : ""})`,
        ops: [op]
      })
    }
  }
  return verdict("every operation within its deadline", history.ops.length, violations)
}
