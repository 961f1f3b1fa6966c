/**
 * The router's log lines: Effect `Logger` lines annotated with `cluster`, `node` and `reason` (README, "Operating
 * FastORM"). A failure is named by its problem and driver code, never by the driver's text: a log carries no URL and
 * no password.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { AdapterError } from "@fastorm/adapters"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import type * as LogThrottle from "./logThrottle.js"

/** The annotations of one line; undefined values are left out. */
export type Fields = Readonly<Record<string, string | number | boolean | undefined>>

const line = (effect: Effect.Effect<void>, cluster: string, fields: Fields): Effect.Effect<void> => {
  const annotations: Record<string, unknown> = { component: "router", cluster }
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) annotations[key] = value
  return Effect.annotateLogs(effect, annotations)
}

/** A warning: a retry, a fallback. */
export const warning = (cluster: string, message: string, fields: Fields): Effect.Effect<void> =>
  line(Effect.logWarning(message), cluster, fields)

/**
 * A warning that failures repeat per statement, written at most once per interval for `key` (a kind of line and its
 * node), annotated with `suppressed`: how many were left out since the last one written (`logThrottle.ts`).
 */
export const throttledWarning = (
  throttle: ReturnType<typeof LogThrottle.make>,
  key: string,
  cluster: string,
  message: string,
  fields: Fields
): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const { suppressed, write } = throttle.admit(key, now)
    if (!write) return Effect.void
    return warning(cluster, message, suppressed === 0 ? fields : { ...fields, suppressed })
  })

/**
 * Whether a debug line would be written in `fiber` (its minimum log level): building one costs runtime steps, and most
 * applications never write them.
 */
export const debugOn = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean =>
  LogLevel.greaterThanEqual(LogLevel.Debug, fiber.getFiberRef(FiberRef.currentMinimumLogLevel))

/** A debug line: a session read's wait. */
export const debug = (cluster: string, message: string, fields: Fields): Effect.Effect<void> =>
  line(Effect.logDebug(message), cluster, fields)

/** What failed, as annotations: the problem and the driver's code. */
export const failure = (error: SqlError): Fields => {
  const d = AdapterError.diagnose(error.cause ?? error)
  return { problem: d.problem, code: d.code }
}
