/**
 * The ceiling a verdict tells (`report.ts` `ceiling`): the best peer's machine CPU per query over that with its client
 * CPU replaced by the raw driver's, only when the machine's cores were busy enough for their CPU to bound throughput.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Summary } from "../src/report.js"
import { ceiling, SATURATED } from "../src/report.js"

const summary = (cpuUsPerQuery: number, machineUsPerQuery = Number.NaN, machineBusy = Number.NaN): Summary => ({
  rounds: 3,
  throughput: 1000,
  p50Ms: 1,
  p99Ms: 2,
  cpuUsPerQuery,
  machineUsPerQuery,
  machineBusy,
  failed: 0,
  rssGrowthMB: Number.NaN,
  heapGrowthMB: Number.NaN
})

describe("ceiling", () => {
  const cases: ReadonlyArray<{ name: string; best: Summary; raw: Summary; expected: number | undefined }> = [
    {
      name: "a server-bound workload: a cheaper client wins little",
      best: summary(290, 3830, 0.98),
      raw: summary(130),
      expected: 3830 / 3670
    },
    {
      name: "a client-bound workload: the raw driver's client leaves a lot to win",
      best: summary(90, 350, 0.95),
      raw: summary(45),
      expected: 350 / 305
    },
    { name: "exactly saturated counts", best: summary(200, 1000, SATURATED), raw: summary(100), expected: 1000 / 900 },
    {
      name: "a machine not saturated bounds nothing",
      best: summary(200, 1000, 0.89),
      raw: summary(100),
      expected: undefined
    },
    { name: "no machine figure: none", best: summary(200), raw: summary(100), expected: undefined },
    // Client CPU counted over more than the machine's (a clock's skew on a short round): no figure, not a negative one.
    { name: "an inconsistent round: none", best: summary(200, 150, 1), raw: summary(10), expected: undefined }
  ]
  for (const c of cases) {
    it(c.name, () => {
      const got = ceiling(c.best, c.raw)
      if (c.expected === undefined) expect(got).toBeUndefined()
      else expect(got).toBeCloseTo(c.expected, 10)
    })
  }
})
