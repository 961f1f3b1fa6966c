/**
 * The one bounded polling helper of the test suite, as an Effect (`waitUntil`) and, for code outside Effect (the
 * cluster's own start-up, plain Vitest tests), as a Promise (`waitUntilAsync`). Both read a value until it satisfies
 * a condition, and time out with a message that says what was awaited, for how long, and the last value seen.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { redact } from "./cluster/constants.js"
import { sleep, tailLog } from "./cluster/wait.js"

/** Options of a bounded wait. */
export interface WaitOptions {
  /** What is awaited, for the timeout message, e.g. "pg-replica-1 to replay the marker". */
  readonly what: string
  readonly timeoutMs: number
  /** Pause between two reads; default 20 ms. */
  readonly intervalMs?: number | undefined
  /** More context for the timeout message, computed only when the wait times out. */
  readonly detail?: (() => unknown) | undefined
  /** A log file whose last lines go into the timeout message (a server that did not come up). */
  readonly logFile?: string | undefined
}

const DEFAULT_INTERVAL_MS = 20

const show = (value: unknown): string => {
  try {
    return redact(JSON.stringify(value) ?? String(value))
  } catch {
    return redact(String(value))
  }
}

const timeoutMessage = (options: WaitOptions, last: string): string => {
  const detail = options.detail === undefined ? "" : `; ${show(options.detail())}`
  const log = options.logFile === undefined
    ? ""
    : `\n--- last lines of ${options.logFile} ---\n${tailLog(options.logFile)}`
  return `Timed out after ${options.timeoutMs} ms waiting for ${options.what}; ${last}${detail}${log}`
}

/** What a timeout says when no read finished at all. */
const NO_READ = "no read finished"

/**
 * Reads `read` every `intervalMs` until `ok` holds for what it returned; succeeds with the elapsed milliseconds. Each
 * read is itself bounded by the time left, so a read that hangs (a frozen server) ends the wait too. At the bound the
 * wait dies with a message naming `what` and the last value read. A failed read fails the wait (tolerate failures with
 * `Effect.option` or `Effect.orElseSucceed` on the read). Uses the live clock: for `it.live` / `it.scopedLive` tests.
 */
export const waitUntil = <A, E, R>(
  read: Effect.Effect<A, E, R>,
  ok: (a: A) => boolean,
  options: WaitOptions
): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    const started = Date.now()
    const deadline = started + options.timeoutMs
    const interval = Duration.millis(options.intervalMs ?? DEFAULT_INTERVAL_MS)
    let last = NO_READ
    const loop: Effect.Effect<number, E, R> = Effect.flatMap(
      Effect.timeoutOption(read, Duration.millis(Math.max(1, deadline - Date.now()))),
      (result) => {
        if (Option.isSome(result)) {
          if (ok(result.value)) return Effect.succeed(Date.now() - started)
          last = `last value: ${show(result.value)}`
        } else {
          last = `${last} (then a read did not finish in time)`
        }
        if (Date.now() >= deadline) return Effect.dieMessage(timeoutMessage(options, last))
        return Effect.zipRight(Effect.sleep(interval), loop)
      }
    )
    return loop
  })

/** The rejection of a read that ran out of time. */
class ReadTimedOut extends Error {}

/** `p`, or a rejection once `ms` have passed (the timer does not keep the process alive). */
const within = <A>(p: Promise<A>, ms: number): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ReadTimedOut(`the read did not finish within ${ms} ms`)), ms)
    timer.unref()
    p.then(
      (a) => {
        clearTimeout(timer)
        resolve(a)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      }
    )
  })

/**
 * `waitUntil` for code outside Effect: calls `read` until `ok` holds; resolves with the elapsed milliseconds. Each read
 * is bounded by the time left. A read that rejects counts as "not yet" (a server coming up refuses connections), and the last rejection goes into the
 * timeout error.
 */
export const waitUntilAsync = async <A>(
  read: () => Promise<A>,
  ok: (a: A) => boolean,
  options: WaitOptions
): Promise<number> => {
  const started = Date.now()
  const deadline = started + options.timeoutMs
  let last = NO_READ
  for (;;) {
    try {
      const value = await within(read(), Math.max(1, deadline - Date.now()))
      if (ok(value)) return Date.now() - started
      last = `last value: ${show(value)}`
    } catch (e) {
      // A read cut short by the deadline says nothing new: the value or error before it explains the timeout.
      last = e instanceof ReadTimedOut && last !== NO_READ
        ? `${last} (then a read did not finish in time)`
        : `last error: ${redact(e instanceof Error ? e.message : String(e))}`
    }
    if (Date.now() >= deadline) throw new Error(timeoutMessage(options, last))
    await sleep(options.intervalMs ?? DEFAULT_INTERVAL_MS)
  }
}
