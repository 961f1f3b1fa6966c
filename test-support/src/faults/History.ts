/**
 * A history checker in the spirit of Jepsen. A workload records every operation as invoked, then ok, failed or
 * unknown, with monotonic times (`performance.now()`), its session, its kind and its deadline; after the run, the
 * checks compare the history with the final state read from the primary and with the router's statistics.
 *
 * The data model is a set of keys, each holding a set of unique values: a write adds one value (never written twice)
 * to a key, a read returns every value of a key it saw. Values are never removed, which makes lost writes, phantom
 * (failed) writes, stale reads and non-monotonic reads all decidable from the history alone.
 *
 * Pure: no I/O, no Effect. `record` (at the end) wraps an Effect for convenience. This module records; the checks
 * live in history/ (the final state, the sessions' reads, where writes went, deadlines) and are exported from here.
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

// ---- verdicts (history/) ----------------------------------------------------------------------------------------

export { checkAll, report, summarize } from "./history/checkAll.js"
export type { CheckInput, Summary } from "./history/checkAll.js"
export { withinDeadlines } from "./history/deadlines.js"
export { noWriteOnReplica, onePrimaryAtATime } from "./history/routingChecks.js"
export type { ReplicaWriteEvidence, RouteStatsLike } from "./history/routingChecks.js"
export { monotonicReads, noStaleReads } from "./history/sessionChecks.js"
export { noFailedWritesPresent, noLostWrites, noPhantomValues } from "./history/stateChecks.js"
export { finalStateOf } from "./history/verdict.js"
export type { FinalState, Verdict, Violation } from "./history/verdict.js"

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
