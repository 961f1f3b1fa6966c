/**
 * Effect log lines kept in memory, so a test can assert what was logged (levels, messages, annotations) instead of
 * reading the console.
 */
import * as HashMap from "effect/HashMap"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"

/** One log line: its level label ("INFO", "WARN", ...), its message and its annotations as a plain record. */
export interface LogLine {
  readonly level: string
  readonly message: unknown
  readonly annotations: Readonly<Record<string, unknown>>
  /** When it was logged, epoch milliseconds (the logger's clock): a test can place it against its own steps. */
  readonly at: number
}

/**
 * A logger that keeps every line it is given; provide `layer` (it replaces the default logger) and lower the minimum
 * level with `Logger.withMinimumLogLevel` to keep debug lines too. A one-part message is kept as that part.
 */
export const captureLogs = (): { readonly lines: Array<LogLine>; readonly layer: Layer.Layer<never> } => {
  const lines: Array<LogLine> = []
  const logger = Logger.make<unknown, void>(({ annotations, date, logLevel, message }) => {
    lines.push({
      level: logLevel.label,
      message: Array.isArray(message) ? (message.length === 1 ? message[0] : message.join(" ")) : message,
      annotations: Object.fromEntries(HashMap.toEntries(annotations)),
      at: date.getTime()
    })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/**
 * The console error lines containing `text` between `start` and `stop` (they still reach the console): what a driver
 * reports there instead of to its caller, such as mysql2's "got packets out of order".
 */
export const consoleErrors = (
  text: string
): { readonly start: () => void; readonly stop: () => ReadonlyArray<string> } => {
  let seen: Array<string> = []
  let original: typeof console.error | undefined
  return {
    start: () => {
      seen = []
      const write = console.error
      original = write
      console.error = (...args: Array<unknown>) => {
        const line = args.map(String).join(" ")
        if (line.includes(text)) seen.push(line)
        write(...args)
      }
    },
    stop: () => {
      if (original !== undefined) console.error = original
      original = undefined
      return seen
    }
  }
}
