/**
 * The checks of the final state against the history: acknowledged writes are there, certain failures are not, and
 * nothing is there that no operation wrote.
 */
import type { History } from "../History.js"
import type { FinalState, Verdict, Violation } from "./verdict.js"
import { has, verdict, writes } from "./verdict.js"

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
