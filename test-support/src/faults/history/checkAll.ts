/**
 * Every check of a history at once, and how the results read: counts and latencies of the history, and a report of
 * the verdicts with their counter-examples.
 */
import type { History } from "../History.js"
import { withinDeadlines } from "./deadlines.js"
import type { ReplicaWriteEvidence } from "./routingChecks.js"
import { noWriteOnReplica } from "./routingChecks.js"
import { monotonicReads, noStaleReads } from "./sessionChecks.js"
import { noFailedWritesPresent, noLostWrites } from "./stateChecks.js"
import type { FinalState, Verdict } from "./verdict.js"

/** Everything `checkAll` needs besides the history. */
export interface CheckInput {
  readonly final: FinalState
  readonly replicaWrites?: ReplicaWriteEvidence | undefined
  readonly graceMs?: number | undefined
}

/** Every check. */
export const checkAll = (history: History, input: CheckInput): ReadonlyArray<Verdict> => [
  noLostWrites(history, input.final),
  noFailedWritesPresent(history, input.final),
  noStaleReads(history),
  monotonicReads(history),
  ...(input.replicaWrites === undefined ? [] : [noWriteOnReplica(history, input.replicaWrites)]),
  withinDeadlines(history, { graceMs: input.graceMs })
]

/** Counts by kind and status, and latency percentiles of completed operations. */
export interface Summary {
  readonly total: number
  readonly byStatus: Readonly<Record<string, number>>
  readonly byError: Readonly<Record<string, number>>
  readonly byNode: Readonly<Record<string, number>>
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!

/** Counts and latencies of a history. */
export const summarize = (history: History): Summary => {
  const byStatus: Record<string, number> = {}
  const byError: Record<string, number> = {}
  const byNode: Record<string, number> = {}
  const took: Array<number> = []
  for (const op of history.ops) {
    const k = `${op.kind}:${op.status}`
    byStatus[k] = (byStatus[k] ?? 0) + 1
    if (op.error !== undefined) byError[op.error] = (byError[op.error] ?? 0) + 1
    if (op.node !== undefined) byNode[op.node] = (byNode[op.node] ?? 0) + 1
    if (op.completedAt !== undefined) took.push(op.completedAt - op.invokedAt)
  }
  took.sort((a, b) => a - b)
  return {
    total: history.ops.length,
    byStatus,
    byError,
    byNode,
    p50Ms: Math.round(percentile(took, 0.5)),
    p99Ms: Math.round(percentile(took, 0.99)),
    maxMs: Math.round(took[took.length - 1] ?? 0)
  }
}

/** A readable report of verdicts: one line per check, then up to `max` counter-examples each. */
export const report = (verdicts: ReadonlyArray<Verdict>, max = 5): string =>
  verdicts.map((v) =>
    [
      `${v.valid ? "ok  " : "FAIL"} ${v.check} (${v.checked} checked, ${v.violations.length} violations)`,
      ...v.violations.slice(0, max).map((x) => `       - ${x.message}`)
    ].join("\n")
  ).join("\n")
