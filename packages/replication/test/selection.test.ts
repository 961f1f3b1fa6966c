/**
 * The selection strategies as pure functions (no server): the exact distributions behind the integration tests, and
 * the FIFO gate of fallback reads.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FairGate from "../src/internal/fairGate.js"
import type { Candidate } from "../src/internal/selection.js"
import * as Selection from "../src/internal/selection.js"
import type { Strategy } from "../src/ReadWriteConfig.js"

const candidate = (index: number, patch: Partial<Candidate> = {}): Candidate => ({
  index,
  name: `replica-${index + 1}`,
  weight: 1,
  latencyMs: undefined,
  outstanding: 0,
  ...patch
})

/** A deterministic PRNG (mulberry32), so the random strategy's test cannot flake. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const picks = (
  strategy: Strategy,
  candidates: ReadonlyArray<Candidate>,
  n: number,
  random?: () => number
) => {
  const state = Selection.makeState(candidates.length)
  return Array.from({ length: n }, () => Selection.order(strategy, candidates, state, random)[0]!.name)
}

const countBy = (names: ReadonlyArray<string>) => {
  const out: Record<string, number> = {}
  for (const name of names) out[name] = (out[name] ?? 0) + 1
  return out
}

describe("selection strategies", () => {
  it("roundRobin rotates exactly over equal replicas", () => {
    const names = picks("roundRobin", [candidate(0), candidate(1), candidate(2)], 9)
    expect(names).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2].map((i) => `replica-${i + 1}`))
  })

  it("weighted 3:1 gives exactly 1500:500 over 2000 reads, interleaved (never more than 3 in a row)", () => {
    const names = picks("weighted", [candidate(0, { weight: 3 }), candidate(1, { weight: 1 })], 2000)
    expect(countBy(names)).toEqual({ "replica-1": 1500, "replica-2": 500 })
    let run = 1
    let longest = 1
    for (let i = 1; i < names.length; i++) {
      run = names[i] === names[i - 1] ? run + 1 : 1
      longest = Math.max(longest, run)
    }
    expect(longest).toBeLessThanOrEqual(3)
  })

  it("a DEGRADED replica (weight x 0.2) gets a sixth of roundRobin's reads", () => {
    const names = picks("roundRobin", [candidate(0, { weight: 0.2 }), candidate(1)], 1200)
    expect(countBy(names)).toEqual({ "replica-1": 200, "replica-2": 1000 })
  })

  it("random is uniform within 3% over 10000 reads, and follows weights", () => {
    const uniform = countBy(picks("random", [candidate(0), candidate(1)], 10_000, seeded(42)))
    expect(Math.abs(uniform["replica-1"]! - 5000)).toBeLessThan(300)
    const weighted = countBy(
      picks("random", [candidate(0, { weight: 3 }), candidate(1, { weight: 1 })], 10_000, seeded(7))
    )
    expect(weighted["replica-1"]! / weighted["replica-2"]!).toBeGreaterThan(2.7)
    expect(weighted["replica-1"]! / weighted["replica-2"]!).toBeLessThan(3.3)
  })

  it("leastOutstanding picks the replica with the fewest reads in flight; ties rotate", () => {
    expect(picks("leastOutstanding", [candidate(0, { outstanding: 4 }), candidate(1, { outstanding: 1 })], 5))
      .toEqual(Array.from({ length: 5 }, () => "replica-2"))
    expect(countBy(picks("leastOutstanding", [candidate(0), candidate(1)], 10))).toEqual({
      "replica-1": 5,
      "replica-2": 5
    })
  })

  it("leastLatency picks the fastest measured replica; retry order keeps the others", () => {
    const candidates = [candidate(0, { latencyMs: 30 }), candidate(1, { latencyMs: 2 }), candidate(2, { latencyMs: 9 })]
    expect(picks("leastLatency", candidates, 5)).toEqual(Array.from({ length: 5 }, () => "replica-2"))
    const ordered = Selection.order("leastLatency", candidates, Selection.makeState(3))
    expect(ordered.map((c) => c.name).sort()).toEqual(["replica-1", "replica-2", "replica-3"])
  })
})

describe("fallback gate", () => {
  it.live("serves waiters first come, first served, and an interrupted wait holds no permit", () =>
    Effect.gen(function*() {
      const gate = yield* FairGate.make(1)
      yield* gate.take
      const order: Array<number> = []
      const waiters = yield* Effect.forEach(
        [1, 2, 3],
        (i) => Effect.fork(Effect.zipRight(gate.take, Effect.sync(() => order.push(i))))
      )
      yield* Effect.sleep("10 millis")
      // The second waiter gives up; a newcomer arrives after the others.
      yield* Fiber.interrupt(waiters[1]!)
      const late = yield* Effect.fork(Effect.zipRight(gate.take, Effect.sync(() => order.push(4))))
      yield* Effect.sleep("10 millis")
      for (let i = 0; i < 3; i++) {
        yield* gate.release
        yield* Effect.sleep("5 millis")
      }
      yield* Fiber.join(late)
      expect(order).toEqual([1, 3, 4])
      expect(yield* gate.free).toBe(0)
      yield* gate.release
      expect(yield* gate.free).toBe(1)
    }))
})
