/**
 * Shared pieces of the fault scenarios: everything of `kv.ts` (backends, layer, key/value workload, final state,
 * baselines) plus the vitest assertions.
 */
import { History } from "@fastorm/test-support"
import { expect } from "vitest"

export * from "./kv.js"

/** Asserts every verdict is clean, printing the report either way. */
export const expectClean = (label: string, verdicts: ReadonlyArray<History.Verdict>, history: History.History) => {
  const text = History.report(verdicts)
  const summary = History.summarize(history)
  console.log(`[${label}] ${JSON.stringify(summary)}\n${text}`)
  expect(verdicts.filter((v) => !v.valid).map((v) => v.check), text).toEqual([])
  return summary
}
