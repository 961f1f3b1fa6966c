/**
 * The bench's settings (`fromEnv`) and the duration it announces (`expectedSeconds`): each workload's unmeasured
 * warm-up second per target, its default, its override, a bad value refused, and its time counted in the estimate.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { fromEnv } from "../src/config.js"
import { expectedSeconds } from "../src/duration.js"

const KEYS = ["BENCH_QUICK", "BENCH_WORKLOAD_WARMUP", "BENCH_DBS", "BENCH_TARGETS", "BENCH_WORKLOADS", "BENCH_FAILOVER"]
const saved = Object.fromEntries(KEYS.map((k) => [k, process.env[k]]))

const withEnv = (env: Record<string, string>) => {
  for (const k of KEYS) delete process.env[k]
  Object.assign(process.env, env)
  return fromEnv()
}

afterEach(() => {
  for (const k of KEYS) {
    if (saved[k] === undefined) delete process.env[k]
    else process.env[k] = saved[k]
  }
})

describe("fromEnv: the per-workload warm-up", () => {
  it("is a second per target by default, 0.3 s in a quick run, and what BENCH_WORKLOAD_WARMUP says", () => {
    expect(withEnv({}).workloadWarmup).toBe(1)
    expect(withEnv({ BENCH_QUICK: "1" }).workloadWarmup).toBe(0.3)
    expect(withEnv({ BENCH_WORKLOAD_WARMUP: "2.5" }).workloadWarmup).toBe(2.5)
  })

  it("refuses a value that is not a positive number", () => {
    expect(() => withEnv({ BENCH_WORKLOAD_WARMUP: "0" })).toThrow(/BENCH_WORKLOAD_WARMUP must be a positive number/)
    expect(() => withEnv({ BENCH_WORKLOAD_WARMUP: "soon" })).toThrow(/got soon/)
  })
})

describe("expectedSeconds", () => {
  it("counts the warm-up of every target on every workload but the stream, outside the measured rounds", () => {
    const base = { BENCH_DBS: "postgres", BENCH_TARGETS: "fastorm,drizzle", BENCH_FAILOVER: "0" }
    const one = expectedSeconds(withEnv({ ...base, BENCH_WORKLOADS: "insert,count", BENCH_WORKLOAD_WARMUP: "1" }))
    const three = expectedSeconds(withEnv({ ...base, BENCH_WORKLOADS: "insert,count", BENCH_WORKLOAD_WARMUP: "3" }))
    // Two workloads × two targets × two more seconds each.
    expect(three.other - one.other).toBeCloseTo(8)
    expect(three.rounds).toBe(one.rounds)
    const stream = (warmup: string) =>
      expectedSeconds(withEnv({ ...base, BENCH_WORKLOADS: "stream", BENCH_WORKLOAD_WARMUP: warmup })).other
    expect(stream("3")).toBe(stream("1"))
  })
})
