import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as History from "../../src/faults/History.js"

/** A history on a hand-driven clock, so every time in a test is explicit. */
const manual = () => {
  let t = 0
  const h = History.make(() => t)
  return {
    h,
    at: (time: number) => {
      t = time
    }
  }
}

type Step =
  | { w: string; s: string; k?: string; from: number; to: number; st?: "ok" | "failed" | "unknown"; node?: string }
  | { r: ReadonlyArray<string>; s: string; k?: string; from: number; to: number; node?: string }

/** Builds a history from steps given as [invoke time, complete time] intervals (may overlap). */
const build = (steps: ReadonlyArray<Step>, deadlineMs = 1_000) => {
  const { at, h } = manual()
  const events: Array<{ t: number; run: () => void }> = []
  for (const step of steps) {
    let op: History.Operation | undefined
    events.push({
      t: step.from,
      run: () => {
        op = "w" in step
          ? History.invoke(h, { session: step.s, kind: "write", key: step.k ?? "k", value: step.w, deadlineMs })
          : History.invoke(h, { session: step.s, kind: "read", key: step.k ?? "k", deadlineMs })
      }
    })
    events.push({
      t: step.to,
      run: () => {
        if ("w" in step) {
          const st = step.st ?? "ok"
          if (st === "ok") History.ok(h, op!, { node: step.node })
          else if (st === "failed") History.fail(h, op!, "PrimaryUnavailable", step.node)
          else History.unknown(h, op!, "WriteOutcomeUnknown", step.node)
        } else {
          History.ok(h, op!, { observed: step.r, node: step.node })
        }
      }
    })
  }
  // Stable: at equal times, completions and invocations keep the order they were given in.
  events.sort((a, b) => a.t - b.t)
  for (const e of events) {
    at(e.t)
    e.run()
  }
  return h
}

const state = (entries: Record<string, ReadonlyArray<string>>) =>
  History.finalStateOf(Object.entries(entries).flatMap(([key, values]) => values.map((value) => ({ key, value }))))

describe("History checker", () => {
  it("a clean history passes every check", () => {
    const h = build([
      { w: "a", s: "s1", from: 0, to: 10, node: "primary" },
      { r: ["a"], s: "s1", from: 11, to: 12, node: "replica-1" },
      { w: "b", s: "s2", from: 5, to: 20, st: "unknown" },
      { w: "c", s: "s2", from: 21, to: 22, st: "failed" },
      { r: ["a", "b"], s: "s1", from: 30, to: 31, node: "replica-2" }
    ])
    const verdicts = History.checkAll(h, {
      final: state({ k: ["a", "b"] }),
      replicaWrites: {
        replicas: ["replica-1", "replica-2"],
        routeStats: { byNodeAndReason: { "primary|write": 3, "replica-1|ordinary": 1, "replica-2|session": 1 } },
        replicaWriteAttempts: { "replica-1": 0, "replica-2": 0 }
      }
    })
    expect(verdicts.every((v) => v.valid), History.report(verdicts)).toBe(true)
    expect(verdicts.map((v) => v.check)).toHaveLength(6)
  })

  it("catches an acknowledged write missing from the final state", () => {
    const h = build([{ w: "a", s: "s1", from: 0, to: 1 }, { w: "b", s: "s1", from: 2, to: 3 }])
    const v = History.noLostWrites(h, state({ k: ["a"] }))
    expect(v.valid).toBe(false)
    expect(v.violations).toHaveLength(1)
    expect(v.violations[0]!.ops[0]!.value).toBe("b")
    expect(History.noLostWrites(h, state({ k: ["a", "b"] })).valid).toBe(true)
  })

  it("catches a failed write present in the final state, and accepts an unknown one either way", () => {
    const h = build([
      { w: "f", s: "s1", from: 0, to: 1, st: "failed" },
      { w: "u", s: "s1", from: 2, to: 3, st: "unknown" }
    ])
    const bad = History.noFailedWritesPresent(h, state({ k: ["f"] }))
    expect(bad.valid).toBe(false)
    expect(bad.violations[0]!.message).toContain("PrimaryUnavailable")
    expect(History.noFailedWritesPresent(h, state({ k: ["u"] })).valid).toBe(true)
    expect(History.noFailedWritesPresent(h, state({ k: [] })).valid).toBe(true)
    // Unknown writes are not acknowledged: missing is fine too.
    expect(History.noLostWrites(h, state({ k: [] })).valid).toBe(true)
  })

  it("catches a value that no operation wrote", () => {
    const h = build([{ w: "a", s: "s1", from: 0, to: 1 }, { w: "f", s: "s1", from: 2, to: 3, st: "failed" }])
    expect(History.noPhantomValues(h, state({ k: ["a"] })).valid).toBe(true)
    const v = History.noPhantomValues(h, state({ k: ["a", "zz"] }))
    expect(v.valid).toBe(false)
    expect(v.violations[0]!.message).toContain("zz")
  })

  it("catches a stale read: a session not seeing its own acknowledged write", () => {
    const h = build([
      { w: "a", s: "s1", from: 0, to: 10 },
      { r: [], s: "s1", from: 11, to: 12, node: "replica-1" }
    ])
    const v = History.noStaleReads(h)
    expect(v.valid).toBe(false)
    expect(v.violations[0]!.message).toContain("replica-1")
  })

  it("does not call stale what the session could not require", () => {
    const h = build([
      // Another session's write: eventual for s1.
      { w: "x", s: "s2", from: 0, to: 1 },
      { r: [], s: "s1", from: 2, to: 3 },
      // Concurrent with its own write (acknowledged after the read was invoked).
      { w: "a", s: "s1", from: 4, to: 10 },
      { r: [], s: "s1", from: 5, to: 6 },
      // Unknown and failed writes of the session are not required.
      { w: "u", s: "s1", from: 11, to: 12, st: "unknown" },
      { w: "f", s: "s1", from: 13, to: 14, st: "failed" },
      { r: ["a"], s: "s1", from: 15, to: 16 },
      // Another key.
      { w: "b", s: "s1", k: "other", from: 17, to: 18 },
      { r: ["a"], s: "s1", from: 19, to: 20 }
    ])
    expect(History.noStaleReads(h).valid).toBe(true)
  })

  it("catches a non-monotonic read within a session", () => {
    const h = build([
      { w: "a", s: "s2", from: 0, to: 1 },
      { r: ["a"], s: "s1", from: 2, to: 3, node: "replica-1" },
      { r: [], s: "s1", from: 4, to: 5, node: "replica-2" }
    ])
    const v = History.monotonicReads(h)
    expect(v.valid).toBe(false)
    expect(v.violations[0]!.message).toContain("replica-2")
    expect(v.violations[0]!.ops).toHaveLength(2)
  })

  it("accepts overlapping reads and other sessions going backwards", () => {
    const h = build([
      { w: "a", s: "s2", from: 0, to: 1 },
      // Overlapping reads of one session may see either order.
      { r: ["a"], s: "s1", from: 2, to: 10 },
      { r: [], s: "s1", from: 3, to: 4 },
      // Another session's read is not bound by s1's.
      { r: [], s: "s3", from: 11, to: 12 },
      { r: ["a"], s: "s1", from: 13, to: 14 }
    ])
    expect(History.monotonicReads(h).valid).toBe(true)
  })

  it("catches a write on a replica from router stats, replica counters and the history", () => {
    const h = build([{ w: "a", s: "s1", from: 0, to: 1, node: "replica-2" }])
    const v = History.noWriteOnReplica(h, {
      replicas: ["replica-1", "replica-2"],
      routeStats: { byNodeAndReason: { "replica-1|write": 1, "replica-1|locking": 2, "primary|write": 5 } },
      replicaWriteAttempts: { "replica-1": 0, "replica-2": 3 }
    })
    expect(v.valid).toBe(false)
    expect(v.violations.map((x) => x.message)).toEqual([
      "the router sent 1 write statement(s) to replica replica-1",
      "the router sent 2 locking statement(s) to replica replica-1",
      "replica replica-2 itself counted 3 write attempt(s)",
      "write 0 (s1) was served by replica replica-2"
    ])
    const clean = History.noWriteOnReplica(build([{ w: "a", s: "s1", from: 0, to: 1, node: "primary" }]), {
      replicas: ["replica-1"],
      routeStats: { byNodeAndReason: { "replica-1|ordinary": 9, "replica-1|retry": 1, "primary|write": 1 } }
    })
    expect(clean.valid).toBe(true)
  })

  it("catches writes on two primaries (A, then B, then A again), not a clean switch from A to B", () => {
    const split = build([
      { w: "a", s: "s1", from: 0, to: 1, node: "old" },
      { w: "b", s: "s2", from: 2, to: 3, node: "new" },
      { w: "c", s: "s1", from: 4, to: 5, node: "old" },
      { w: "d", s: "s2", from: 6, to: 7, st: "failed", node: "old" }
    ])
    const v = History.onePrimaryAtATime(split)
    expect(v.valid).toBe(false)
    expect(v.violations.map((x) => x.message)).toEqual([
      "write 2 was acknowledged by old after new had taken writes (write 1), and old had taken them before (write 0)"
    ])
    const clean = build([
      { w: "a", s: "s1", from: 0, to: 1, node: "old" },
      { w: "b", s: "s2", from: 1, to: 2, node: "old" },
      { w: "c", s: "s1", from: 3, to: 4, st: "failed" },
      { w: "d", s: "s2", from: 5, to: 6, node: "new" },
      { w: "e", s: "s1", from: 7, to: 8, node: "new" }
    ])
    expect(History.onePrimaryAtATime(clean)).toMatchObject({ valid: true, checked: 4 })
  })

  it("catches an operation over its deadline and one that never ended", () => {
    const h = build([
      { w: "a", s: "s1", from: 0, to: 100 },
      { r: ["a"], s: "s1", from: 200, to: 1_500 }
    ], 1_000)
    History.invoke(h, { session: "s2", kind: "read", key: "k", deadlineMs: 1_000 })
    const v = History.withinDeadlines(h)
    expect(v.valid).toBe(false)
    expect(v.violations.map((x) => x.message)).toEqual([
      "read 1 (s1) took 1300 ms, deadline 1000 ms (ok)",
      "read 2 (s2) never ended"
    ])
    expect(History.withinDeadlines(build([{ r: [], s: "s1", from: 0, to: 1_200 }]), { graceMs: 250 }).valid).toBe(true)
  })

  it("refuses to complete an operation twice", () => {
    const { h } = manual()
    const op = History.invoke(h, { session: "s", kind: "read", key: "k", deadlineMs: 1 })
    History.ok(h, op, { observed: [] })
    expect(() => History.fail(h, op, "X")).toThrow(/twice/)
  })

  it("summarizes counts and latencies, and reports counter-examples", () => {
    const h = build([
      { w: "a", s: "s1", from: 0, to: 10, node: "primary" },
      { w: "b", s: "s1", from: 10, to: 30, st: "unknown" },
      { r: [], s: "s1", from: 30, to: 35, node: "replica-1" }
    ])
    const s = History.summarize(h)
    expect(s.total).toBe(3)
    expect(s.byStatus).toEqual({ "write:ok": 1, "write:unknown": 1, "read:ok": 1 })
    expect(s.byError).toEqual({ WriteOutcomeUnknown: 1 })
    expect(s.maxMs).toBe(20)
    const text = History.report(History.checkAll(h, { final: state({ k: ["b"] }) }))
    expect(text).toContain("FAIL no acknowledged write missing")
    expect(text).toContain("FAIL no stale read in session")
    expect(text).toContain("ok   no failed write present")
  })

  class PrimaryUnavailable extends Data.TaggedError("PrimaryUnavailable")<{}> {}
  class WriteOutcomeUnknown extends Data.TaggedError("WriteOutcomeUnknown")<{}> {}

  it.effect("record: success, typed failure, unknown outcome, defect and interruption", () =>
    Effect.gen(function*() {
      const h = History.make()
      const w = (value: string) => ({ session: "s", kind: "write" as const, key: "k", value, deadlineMs: 1_000 })
      yield* History.record(h, w("ok"), Effect.succeed({ node: "primary" }))
      yield* History.record(h, w("failed"), Effect.fail(new PrimaryUnavailable()))
      yield* History.record(h, w("unknown"), Effect.fail(new WriteOutcomeUnknown()))
      yield* History.record(h, w("defect"), Effect.die("boom"))
      yield* History.record(h, w("interrupted"), Effect.interrupt)
      yield* History.record(h, w("custom"), Effect.fail("timeout" as const), { classify: () => "unknown" })
      expect(h.ops.map((op) => [op.value, op.status, op.error ?? op.node])).toEqual([
        ["ok", "ok", "primary"],
        ["failed", "failed", "PrimaryUnavailable"],
        ["unknown", "unknown", "WriteOutcomeUnknown"],
        ["defect", "unknown", "Defect"],
        ["interrupted", "unknown", "Interrupted"],
        ["custom", "unknown", "string"]
      ])
      for (const op of h.ops) expect(op.completedAt).toBeGreaterThanOrEqual(op.invokedAt)
    }))
})
