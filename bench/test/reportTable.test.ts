/**
 * A workload's table (`report.ts` `table`): each target's medians, the whole machine's CPU per query and the cores'
 * busy share beside the client's, "–" where the machine was not measured (a host with no /proc/stat).
 */
import { describe, expect, it } from "@effect/vitest"
import type { Sample } from "../src/harness.js"
import { table } from "../src/report.js"
import type { WorkerResult } from "../src/worker.js"
import { sample as base } from "./samples.js"

const sample = (throughput: number, machine?: { readonly us: number; readonly busy: number }): Sample =>
  base(throughput, 100, machine === undefined ? {} : { machineUsPerQuery: machine.us, machineBusy: machine.busy })

const result = (samples: WorkerResult["samples"]): WorkerResult => ({
  db: "postgres",
  samples,
  failover: [],
  uncaught: 0
})

/** The row of `label`'s target, split into its cells. */
const row = (text: string, label: string) =>
  text.split("\n").find((line) => line.startsWith(`| ${label}`))?.split("|").map((cell) => cell.trim())

describe("table", () => {
  it("prints the machine's CPU per query and the cores' busy share, medians over rounds", () => {
    const text = table(
      result({
        update: {
          fastorm: [
            sample(3000, { us: 600, busy: 0.9 }),
            sample(3100, { us: 640, busy: 0.94 }),
            sample(2900, { us: 700, busy: 0.97 })
          ]
        }
      }),
      "update"
    )
    expect(text).toContain("| client CPU µs/q | machine CPU µs/q | cores busy |")
    expect(row(text, "(a)")?.slice(5, 8)).toEqual(["100", "640", "94%"])
  })

  it("prints – where the machine was not measured", () => {
    const text = table(
      result({ update: { fastorm: [sample(3000)], drizzle: [sample(2000, { us: Number.NaN, busy: Number.NaN })] } }),
      "update"
    )
    expect(row(text, "(a)")?.slice(5, 8)).toEqual(["100", "–", "–"])
    expect(row(text, "(d)")?.slice(5, 8)).toEqual(["100", "–", "–"])
  })
})
