/**
 * A history checker in the spirit of Jepsen. A workload records every operation as invoked, then ok, failed or
 * unknown, with monotonic times (`performance.now()`), its session, its kind and its deadline; after the run, the
 * checks compare the history with the final state read from the primary and with the router's statistics.
 *
 * The data model is a set of keys, each holding a set of unique values: a write adds one value (never written twice)
 * to a key, a read returns every value of a key it saw. Values are never removed, which makes lost writes, phantom
 * (failed) writes, stale reads and non-monotonic reads all decidable from the history alone.
 *
 * Pure: no I/O, no Effect. `record` (at the end) wraps an Effect for convenience.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"

/** `write`: add `value` to `key`; `read`: read every value of `key`. */
export type OpKind = "write" | "read"

/** How an operation ended. `unknown`: it may or may not have taken effect (e.g. the connection broke at COMMIT). */
export type Status = "pending" | "ok" | "failed" | "unknown"

/** One operation of the history. Times are monotonic milliseconds (`performance.now()`). */
export interface Operation {
  readonly id: number
  readonly session: string
  readonly kind: OpKind
  readonly key: string
  /** The unique value a write adds. */
  readonly value?: string | undefined
  readonly invokedAt: number
  /** How long the operation may take, from invocation to completion (ms). */
  readonly deadlineMs: number
  status: Status
  completedAt?: number | undefined
  /** The node that served it, when known. */
  node?: string | undefined
  /** What a successful read saw. */
  observed?: ReadonlyArray<string> | undefined
  /** The error's tag (or class name) for failed and unknown operations. */
  error?: string | undefined
}

/** What an operation is, when invoked. */
export interface Invocation {
  readonly session: string
  readonly kind: OpKind
  readonly key: string
  readonly value?: string | undefined
  readonly deadlineMs: number
}

/** A mutable history that workloads append to. */
export interface History {
  readonly ops: Array<Operation>
  /** The clock; `performance.now()` unless a test gives its own. */
  readonly now: () => number
}

/** A new, empty history. */
export const make = (now: () => number = () => performance.now()): History => ({ ops: [], now })

/** Records an invocation; complete it with `ok`, `fail` or `unknown`. */
export const invoke = (history: History, invocation: Invocation): Operation => {
  const op: Operation = { ...invocation, id: history.ops.length, invokedAt: history.now(), status: "pending" }
  history.ops.push(op)
  return op
}

const complete = (history: History, op: Operation, status: Status, fields: Partial<Operation>) => {
  if (op.status !== "pending") throw new Error(`operation ${op.id} completed twice`)
  op.status = status
  op.completedAt = history.now()
  if (fields.node !== undefined) op.node = fields.node
  if (fields.observed !== undefined) op.observed = fields.observed
  if (fields.error !== undefined) op.error = fields.error
}

/** The operation succeeded (a read gives what it saw). */
export const ok = (
  history: History,
  op: Operation,
  result: { readonly node?: string | undefined; readonly observed?: ReadonlyArray<string> | undefined } = {}
): void => complete(history, op, "ok", result)

/** The operation certainly did not take effect. */
export const fail = (history: History, op: Operation, error: string, node?: string): void =>
  complete(history, op, "failed", { error, node })

/** The operation may or may not have taken effect. */
export const unknown = (history: History, op: Operation, error: string, node?: string): void =>
  complete(history, op, "unknown", { error, node })

// ---- verdicts ---------------------------------------------------------------------------------------------------

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

const verdict = (check: string, checked: number, violations: ReadonlyArray<Violation>): Verdict => ({
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

const has = (state: FinalState, key: string, value: string | undefined) =>
  value !== undefined && (state.get(key)?.has(value) ?? false)

const writes = (history: History) => history.ops.filter((op) => op.kind === "write")

/** Every acknowledged write is in the final state. */
export const noLostWrites = (history: History, final: FinalState): Verdict => {
  const acked = writes(history).filter((op) => op.status === "ok")
  return verdict(
    "no acknowledged write missing",
    acked.length,
    acked.filter((op) => !has(final, op.key, op.value)).map((op) => ({
      message:
        `write ${op.id} (${op.session}) of ${op.value} to ${op.key} was acknowledged but is not in the final state`,
      ops: [op]
    }))
  )
}

/** No write that failed (certainly not applied) is in the final state; `unknown` writes may be either way. */
export const noFailedWritesPresent = (history: History, final: FinalState): Verdict => {
  const failed = writes(history).filter((op) => op.status === "failed")
  return verdict(
    "no failed write present",
    failed.length,
    failed.filter((op) => has(final, op.key, op.value)).map((op) => ({
      message:
        `write ${op.id} (${op.session}) of ${op.value} to ${op.key} failed (${op.error}) but is in the final state`,
      ops: [op]
    }))
  )
}

/** Every value in the final state was written by some operation of the history that was not a certain failure. */
export const noPhantomValues = (history: History, final: FinalState, keys?: ReadonlySet<string>): Verdict => {
  const known = new Set(
    writes(history).filter((op) => op.status !== "failed").map((op) => `${op.key}\u0000${op.value}`)
  )
  const violations: Array<Violation> = []
  let checked = 0
  for (const [key, values] of final) {
    if (keys !== undefined && !keys.has(key)) continue
    for (const value of values) {
      checked++
      if (!known.has(`${key}\u0000${value}`)) {
        violations.push({ message: `${key} holds ${value}, never written`, ops: [] })
      }
    }
  }
  return verdict("no value from nowhere", checked, violations)
}

const completedReads = (history: History) =>
  history.ops.filter((op) => op.kind === "read" && op.status === "ok" && op.observed !== undefined)

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

// ---- recording Effects ------------------------------------------------------------------------------------------

/** The error tags whose outcome is unknown: the statement may have been applied. */
export const unknownOutcomeTags: ReadonlySet<string> = new Set([
  "WriteOutcomeUnknown",
  "TransactionOutcomeUnknown"
])

/** The tag of an error: `_tag`, else its class name, else its type. */
export const errorTag = (error: unknown): string => {
  const e = error as { readonly _tag?: unknown; readonly constructor?: { readonly name?: string } } | null
  if (e !== null && typeof e === "object") {
    if (typeof e._tag === "string") return e._tag
    if (typeof e.constructor?.name === "string") return e.constructor.name
  }
  return typeof error
}

/** What an Effect's success says about the operation. */
export interface Served {
  readonly node?: string | undefined
  readonly observed?: ReadonlyArray<string> | undefined
}

/** Options of `record`. */
export interface RecordOptions<E> {
  /** Decides failed versus unknown for an error; default: `unknownOutcomeTags` are unknown, the rest failed. */
  readonly classify?: ((error: E) => "failed" | "unknown") | undefined
  /** Where a failed operation ran, if the error says. */
  readonly nodeOf?: ((error: E) => string | undefined) | undefined
}

/**
 * Runs `effect` as one operation of the history. A success completes it `ok` with what `effect` returns; a typed
 * failure completes it as `failed` or `unknown`; a defect or an interruption completes it `unknown` (a write may
 * have been sent). The operation's own exit is returned, so the workload decides whether to go on.
 */
export const record = <E, R>(
  history: History,
  invocation: Invocation,
  effect: Effect.Effect<Served, E, R>,
  options: RecordOptions<E> = {}
): Effect.Effect<Exit.Exit<Served, E>, never, R> =>
  Effect.suspend(() => {
    const op = invoke(history, invocation)
    return Effect.exit(effect).pipe(
      Effect.tap((exit) =>
        Effect.sync(() => {
          if (Exit.isSuccess(exit)) return ok(history, op, exit.value)
          const failure = Cause.failureOption(exit.cause)
          if (Option.isSome(failure)) {
            const tag = errorTag(failure.value)
            const status = options.classify?.(failure.value) ?? (unknownOutcomeTags.has(tag) ? "unknown" : "failed")
            const node = options.nodeOf?.(failure.value)
            return status === "unknown" ? unknown(history, op, tag, node) : fail(history, op, tag, node)
          }
          return unknown(history, op, Cause.isInterruptedOnly(exit.cause) ? "Interrupted" : "Defect")
        })
      )
    )
  })
