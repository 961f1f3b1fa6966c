/**
 * Reads in flight on one node, each of which can be ended at once: when the health monitor finds the node down, a
 * router ends the reads still waiting on it and runs them on another node, instead of waiting out their deadline
 * (ARCHITECTURE.md, "Deadlines"). A read that waits in a pooler in front of a dead server, or on a frozen server,
 * would otherwise take the whole statement timeout (30 s by default).
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type { Register } from "./cancellable.js"

/** The error of a read ended because its node was found down: connection-class (ECONNABORTED), so routers retry it. */
export const cutError = (node: string): SqlError =>
  new SqlError({
    message: `A read on "${node}" was ended: the node was found down while it waited`,
    cause: Object.assign(new Error("the node was found down while the read waited"), { code: "ECONNABORTED" })
  })

/** The reads in flight on one node. */
export class InFlight {
  // Each returns whether it ended something (a stream that already delivered its last row has nothing to end).
  private readonly cuts = new Set<() => boolean>()
  constructor(private readonly node: string) {}

  /**
   * `register`, tracked until it ends: `cutAll` cancels it as an interruption would (its connection is closed) and
   * resumes it with `cutError`. The first of answer, cut or interruption wins.
   */
  track<A>(register: Register<A, SqlError>): Register<A, SqlError> {
    return (resume) => {
      let done = false
      let cancel: (() => void) | void = undefined
      const cut = () => {
        if (done) return false
        done = true
        cancel?.()
        resume(Effect.fail(cutError(this.node)))
        return true
      }
      this.cuts.add(cut)
      cancel = register((outcome) => {
        if (done) return
        done = true
        this.cuts.delete(cut)
        resume(outcome)
      })
      return () => {
        if (done) return
        done = true
        this.cuts.delete(cut)
        cancel?.()
      }
    }
  }

  /**
   * `onCut`, called if `cutAll` runs before the returned function (the wait ended) is: a stream of reads watched for
   * its whole life, which ends itself (`onCut` closes its connection and fails its waiting pull with `cutError`) and
   * says whether it did (false: its rows had all come, or it had already failed).
   */
  watch(onCut: () => boolean): () => void {
    let done = false
    const cut = () => {
      if (done) return false
      done = true
      return onCut()
    }
    this.cuts.add(cut)
    return () => {
      done = true
      this.cuts.delete(cut)
    }
  }

  /** Ends every read in flight now; returns how many it ended. */
  cutAll(): number {
    const all = [...this.cuts]
    this.cuts.clear()
    let ended = 0
    for (const cut of all) if (cut()) ended++
    return ended
  }
}
