import { readFileSync } from "node:fs"
import { redact } from "./constants.js"

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The last `n` lines of a log file (passwords redacted), or a note if it cannot be read. */
export const tailLog = (file: string, n = 15): string => {
  try {
    const lines = readFileSync(file, "utf8").trimEnd().split("\n")
    return redact(lines.slice(-n).join("\n"))
  } catch (e) {
    return `(cannot read ${file}: ${(e as Error).message})`
  }
}

/** Options of a bounded wait. */
export interface WaitOptions {
  /** What is awaited, for the error message, e.g. "pg-replica-1 to replay the marker". */
  readonly what: string
  readonly timeoutMs: number
  readonly intervalMs?: number
  /** Log file whose tail goes into the timeout error. */
  readonly logFile?: string
}

/** Polls `check` until it returns a non-undefined value; throws a clear error when the bound is hit. */
export const waitFor = async <A>(check: () => Promise<A | undefined>, options: WaitOptions): Promise<A> => {
  const deadline = Date.now() + options.timeoutMs
  let lastError = ""
  for (;;) {
    try {
      const result = await check()
      if (result !== undefined) return result
    } catch (e) {
      // Expected while a server is coming up; kept for the timeout message.
      lastError = redact((e as Error).message)
    }
    if (Date.now() >= deadline) {
      const log = options.logFile === undefined
        ? ""
        : `\n--- last lines of ${options.logFile} ---\n${tailLog(options.logFile)}`
      const last = lastError === "" ? "" : ` (last error: ${lastError})`
      throw new Error(`Timed out after ${options.timeoutMs} ms waiting for ${options.what}${last}${log}`)
    }
    await sleep(options.intervalMs ?? 50)
  }
}
