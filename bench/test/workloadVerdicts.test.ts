/**
 * Issue 14's verdict lines (`workloadVerdicts`), table-tested on made-up medians: FastORM against the best peer that
 * ran (at least 1.2x), and on lists its client CPU per row against the raw driver's (at most 1.5x), taken from
 * (a1) when it ran and from (a) otherwise.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Sample } from "../src/harness.js"
import type { TargetName } from "../src/targets.js"
import type { WorkerResult } from "../src/worker.js"
import type { Workload } from "../src/workloads.js"
import { roundRatios, workloadVerdicts } from "../src/workloadVerdicts.js"
import { sample } from "./samples.js"

type Runs = Partial<Record<TargetName, ReadonlyArray<Sample>>>

const result = (db: WorkerResult["db"], samples: Partial<Record<Workload, Runs>>): WorkerResult => ({
  db,
  samples: samples as WorkerResult["samples"],
  failover: [],
  uncaught: 0
})

/** The verdict lines of one workload on PostgreSQL. */
const lines = (workload: Workload, runs: Runs) => workloadVerdicts([result("postgres", { [workload]: runs })])

describe("workloadVerdicts", () => {
  const cases: ReadonlyArray<{ name: string; workload: Workload; runs: Runs; expected: ReadonlyArray<RegExp> }> = [
    {
      name: "exactly 1.2x the best peer passes; the best is the fastest that ran",
      workload: "insert",
      runs: { fastorm: [sample(1200)], drizzle: [sample(1000)], typeorm: [sample(900)] },
      expected: [/^PASS PostgreSQL 15: insert FastORM 1200 q\/s = 1\.20× the best peer \(drizzle 1000 q\/s/]
    },
    {
      name: "below 1.2x fails",
      workload: "update",
      runs: { fastorm: [sample(1190)], drizzle: [sample(800)], sequelize: [sample(1000)] },
      expected: [/^FAIL PostgreSQL 15: update FastORM 1190 q\/s = 1\.19× the best peer \(sequelize 1000/]
    },
    {
      name: "medians over rounds, not the best round",
      workload: "delete",
      runs: { fastorm: [sample(900), sample(1300), sample(1250)], typeorm: [sample(1000)] },
      expected: [/^PASS PostgreSQL 15: delete FastORM 1250 q\/s = 1\.25×/]
    },
    {
      name: "over rounds, the ratio's range round by round beside the medians' ratio",
      workload: "update",
      runs: {
        fastorm: [sample(900), sample(1300), sample(1250)],
        typeorm: [sample(1000), sample(1000), sample(1100)],
        drizzle: [sample(500), sample(2000), sample(600)]
      },
      expected: [
        /^PASS PostgreSQL 15: update FastORM 1250 q\/s = 1\.25× the best peer \(typeorm 1000 q\/s; target ≥ 1\.20×; rounds 0\.90-1\.30×\)$/
      ]
    },
    {
      name: "a peer with no throughput is no best peer; with none left there is no throughput line",
      workload: "count",
      runs: { fastorm: [sample(500)], drizzle: [sample(0)] },
      expected: []
    },
    {
      name: "a list: CPU per row from (a1) when it ran, (a) beside it",
      workload: "list-50",
      runs: {
        fastorm: [sample(2000, 200)],
        "fastorm-one": [sample(2000, 140)],
        "raw-driver": [sample(3000, 100)],
        drizzle: [sample(1000)]
      },
      expected: [
        /^PASS PostgreSQL 15: list-50 FastORM 2000 q\/s = 2\.00×/,
        /^PASS PostgreSQL 15: list-50 client CPU per row FastORM 2\.80 µs on replica-1 alone = 1\.40× .*over both replicas \(a\) 4\.00 µs, 2\.00×$/
      ]
    },
    {
      name: "a list without (a1): (a) decides, exactly 1.5x passes",
      workload: "list-500",
      runs: { fastorm: [sample(100, 150)], "raw-driver": [sample(150, 100)] },
      expected: [/^PASS PostgreSQL 15: list-500 client CPU per row FastORM 0\.30 µs = 1\.50× the raw driver's 0\.20 µs/]
    },
    {
      name: "a list over 1.5x fails",
      workload: "list-500",
      runs: { fastorm: [sample(100, 151)], "raw-driver": [sample(150, 100)] },
      expected: [/^FAIL PostgreSQL 15: list-500 client CPU per row FastORM 0\.30 µs = 1\.51×/]
    },
    {
      name: "a stream no peer ran: FastORM's rows/s beside the raw driver's, no verdict",
      workload: "stream",
      runs: { fastorm: [{ ...sample(150000), heapGrowthMB: 0.25 }], "raw-driver": [sample(200000)] },
      expected: [
        /^---- PostgreSQL 15: stream FastORM 150000 rows\/s, heap \+0\.3 MB; no peer .*raw driver 200000 rows\/s\)$/
      ]
    },
    {
      name: "the point read has its own verdicts (`verdicts`)",
      workload: "point-read",
      runs: { fastorm: [sample(5000)], drizzle: [sample(1000)] },
      expected: []
    },
    {
      name: "no line where FastORM did not run",
      workload: "insert",
      runs: { drizzle: [sample(1000)] },
      expected: []
    }
  ]
  for (const c of cases) {
    it(c.name, () => {
      const out = lines(c.workload, c.runs)
      expect(out).toHaveLength(c.expected.length)
      c.expected.forEach((pattern, i) => expect(out[i]).toMatch(pattern))
    })
  }
})

describe("roundRatios", () => {
  const cases: ReadonlyArray<
    { name: string; fastorm: Array<number>; peer: Array<number>; expected: readonly [number, number] | undefined }
  > = [
    {
      name: "round by round, lowest and highest",
      fastorm: [900, 1300, 1250],
      peer: [1000, 1000, 1100],
      expected: [0.9, 1.3]
    },
    { name: "one round: no range", fastorm: [900], peer: [1000], expected: undefined },
    { name: "only the rounds both ran", fastorm: [1000, 2000, 3000], peer: [1000, 1000], expected: [1, 2] },
    {
      name: "a round the peer did nothing is left out",
      fastorm: [1000, 1500, 1200],
      peer: [0, 1000, 1000],
      expected: [1.2, 1.5]
    },
    { name: "under two rounds left: no range", fastorm: [1000, 1500], peer: [0, 1000], expected: undefined }
  ]
  for (const c of cases) {
    it(c.name, () => {
      const range = roundRatios(c.fastorm.map((x) => sample(x)), c.peer.map((x) => sample(x)))
      if (c.expected === undefined) expect(range).toBeUndefined()
      else {
        expect(range?.[0]).toBeCloseTo(c.expected[0], 10)
        expect(range?.[1]).toBeCloseTo(c.expected[1], 10)
      }
    })
  }
})
