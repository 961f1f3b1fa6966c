/**
 * A mixed workload that runs until told to stop, recording every operation into a History:
 * - writer sessions: each its own router session (a fiber and its token), writing unique values to its own key and
 *   reading its key back (session-consistent reads: they must see the session's acknowledged writes);
 * - reader sessions: ordinary reads of the writers' keys, outside any session, each read recorded as its own
 *   one-operation session (ordinary reads promise no monotonicity, so none is checked for them).
 * Errors are classified as in the scenarios: unknown-outcome tags (and a client-side safety timeout) are `unknown`,
 * everything else `failed`.
 */
import { History, LOADED_MACHINE_SLACK_MS } from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as SessionToken from "../../src/SessionToken.js"
import type { Backend } from "./kv.js"
import { CONNECT_TIMEOUT_MS, readKv, STATEMENT_TIMEOUT_MS, writeKv } from "./kv.js"

/**
 * The documented bound of a read with the scenarios' settings: the first replica's statement deadline, the retry on
 * the next one, a wait for a fallback permit (bounded by the statement timeout), the primary's connect and statement,
 * the session wait, plus a loaded machine's scheduling slack.
 */
export const READ_BOUND_MS = 4 * STATEMENT_TIMEOUT_MS + CONNECT_TIMEOUT_MS + 450 + LOADED_MACHINE_SLACK_MS
/** A write: connect, statement, the token capture, slack. */
export const WRITE_BOUND_MS = CONNECT_TIMEOUT_MS + STATEMENT_TIMEOUT_MS + LOADED_MACHINE_SLACK_MS

/** A switch the workload polls between operations. */
export interface Stop {
  stopped: boolean
}

/** Options of `mixedLoad`. */
export interface MixedOptions {
  readonly history: History.History
  readonly prefix: string
  readonly writers: number
  readonly readers: number
  readonly stop: Stop
  /** Pause between two operations of a session; default 10 ms. */
  readonly thinkMs?: number | undefined
  readonly readDeadlineMs?: number | undefined
  readonly writeDeadlineMs?: number | undefined
  /**
   * A writer moves on to a fresh key after this many writes (keys `<prefix>-w<s>-g<n>`), so that a long run's reads
   * and checks stay small; default never (key `<prefix>-w<s>`).
   */
  readonly rotateEvery?: number | undefined
}

/** The keys a mixed load of that prefix writes. */
export const mixedKeys = (prefix: string, writers: number): ReadonlyArray<string> =>
  Array.from({ length: writers }, (_, s) => `${prefix}-w${s}`)

const isUnknown = (e: unknown) =>
  History.unknownOutcomeTags.has(History.errorTag(e)) || History.errorTag(e) === "ClientSafetyTimeout"

/** Runs the load until `stop.stopped`; every fiber ends after its current operation. */
export const mixedLoad = (b: Backend, options: MixedOptions) => {
  const { history, prefix, stop } = options
  const readDeadline = options.readDeadlineMs ?? READ_BOUND_MS
  const writeDeadline = options.writeDeadlineMs ?? WRITE_BOUND_MS
  const think = Effect.sleep(Duration.millis(options.thinkMs ?? 10))
  // A hung operation must not hang the run: it ends (as unknown) at 3x its deadline, and shows in the deadline check.
  const safety = <A, E, R>(deadline: number, e: Effect.Effect<A, E, R>) =>
    Effect.timeoutFail(e, {
      duration: Duration.millis(deadline * 3),
      onTimeout: () => ({ _tag: "ClientSafetyTimeout" as const })
    })
  const generation = Array.from({ length: options.writers }, () => 0)
  const keyOf = (s: number) =>
    options.rotateEvery === undefined ? `${prefix}-w${s}` : `${prefix}-w${s}-g${generation[s]}`
  const writer = (s: number) =>
    Effect.gen(function*() {
      const session = `${prefix}-w${s}`
      for (let i = 0; !stop.stopped; i++) {
        if (options.rotateEvery !== undefined && i > 0 && i % (2 * options.rotateEvery) === 0) generation[s]!++
        const key = keyOf(s)
        if (i % 2 === 0) {
          const value = `${session}-${i}`
          yield* History.record(
            history,
            { session, kind: "write", key, value, deadlineMs: writeDeadline },
            safety(writeDeadline, writeKv(b, key, value)),
            { classify: (e) => isUnknown(e) ? "unknown" : "failed" }
          )
        } else {
          yield* History.record(
            history,
            { session, kind: "read", key, deadlineMs: readDeadline },
            safety(readDeadline, readKv(b, key))
          )
        }
        yield* think
      }
    })
  const reader = (r: number) =>
    Effect.gen(function*() {
      for (let i = 0; !stop.stopped; i++) {
        const key = keyOf((i + r) % Math.max(1, options.writers))
        yield* History.record(
          history,
          { session: `${prefix}-r${r}-${i}`, kind: "read", key, deadlineMs: readDeadline },
          safety(readDeadline, readKv(b, key))
        )
        yield* think
      }
    }).pipe(Effect.locally(SessionToken.currentTokens, {}))
  return Effect.all([
    Effect.forEach(Array.from({ length: options.writers }, (_, s) => s), writer, {
      concurrency: "unbounded",
      discard: true
    }),
    Effect.forEach(Array.from({ length: options.readers }, (_, r) => r), reader, {
      concurrency: "unbounded",
      discard: true
    })
  ], { concurrency: "unbounded", discard: true }).pipe(
    // Each writer starts with an empty session, whatever the caller wrote before.
    Effect.locally(SessionToken.currentTokens, {})
  )
}

/** Counts of a history's operations by `kind:status`, plus failed reads' and writes' error tags. */
export const counts = (history: History.History) => {
  const summary = History.summarize(history)
  return {
    ...summary,
    readsFailed: summary.byStatus["read:failed"] ?? 0,
    readsUnknown: summary.byStatus["read:unknown"] ?? 0
  }
}
