/**
 * The checks of where writes went: never to a replica (by the router's statistics, the replicas' own counters and the
 * history's nodes), and never to two primaries taking writes in the same period.
 */
import type { History, Operation } from "../History.js"
import type { Verdict, Violation } from "./verdict.js"
import { verdict, writes } from "./verdict.js"

/** Routed statements by node and reason, as the router's `stats` gives them (`byNodeAndReason["node|reason"]`). */
export interface RouteStatsLike {
  readonly byNodeAndReason: Readonly<Record<string, number>>
}

/** Evidence that no write reached a replica. */
export interface ReplicaWriteEvidence {
  readonly replicas: ReadonlyArray<string>
  /** The router's statistics: no `write` / `locking` reason may be recorded on a replica. */
  readonly routeStats?: RouteStatsLike | undefined
  /** Each replica's own count of write attempts during the run (after minus before), by name. */
  readonly replicaWriteAttempts?: Readonly<Record<string, number>> | undefined
}

/** No write ever reached a replica: router statistics, the replicas' own counters, and the history's nodes. */
export const noWriteOnReplica = (history: History, evidence: ReplicaWriteEvidence): Verdict => {
  const replicas = new Set(evidence.replicas)
  const violations: Array<Violation> = []
  let checked = 0
  for (const [key, n] of Object.entries(evidence.routeStats?.byNodeAndReason ?? {})) {
    checked++
    const [node, reason] = key.split("|")
    if (replicas.has(node!) && (reason === "write" || reason === "locking") && n > 0) {
      violations.push({ message: `the router sent ${n} ${reason} statement(s) to replica ${node}`, ops: [] })
    }
  }
  for (const [node, n] of Object.entries(evidence.replicaWriteAttempts ?? {})) {
    checked++
    if (n > 0) violations.push({ message: `replica ${node} itself counted ${n} write attempt(s)`, ops: [] })
  }
  for (const op of writes(history)) {
    checked++
    if (op.node !== undefined && replicas.has(op.node)) {
      violations.push({ message: `write ${op.id} (${op.session}) was served by replica ${op.node}`, ops: [op] })
    }
  }
  return verdict("no write on a replica", checked, violations)
}

/**
 * No write on two primaries: the nodes that acknowledged writes, in the order the writes were invoked, take turns at
 * most once each (A…A B…B, never A…B…A). A write acknowledged by an old primary after another node had acknowledged
 * one means two nodes took writes in the same period (a split brain). Writes whose node is unknown are skipped.
 */
export const onePrimaryAtATime = (history: History): Verdict => {
  const acked = writes(history)
    .filter((op) => op.status === "ok" && op.node !== undefined)
    .sort((a, b) => a.invokedAt - b.invokedAt)
  const violations: Array<Violation> = []
  const finished = new Map<string, Operation>()
  let current: Operation | undefined
  for (const op of acked) {
    if (current !== undefined && op.node !== current.node) {
      const earlier = finished.get(op.node!)
      if (earlier !== undefined) {
        violations.push({
          message: `write ${op.id} was acknowledged by ${op.node} after ${current.node} had taken writes (write ` +
            `${current.id}), and ${op.node} had taken them before (write ${earlier.id})`,
          ops: [earlier, current, op]
        })
      }
      finished.set(current.node!, current)
    }
    current = op
  }
  return verdict("no write on two primaries", acked.length, violations)
}
