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
