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
