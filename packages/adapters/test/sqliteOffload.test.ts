import { describe, expect, it } from "@effect/vitest"
import * as Offload from "../src/internal/sqliteOffload.js"

const cost = (runs: number, micros: number, rows: number, away: boolean): Offload.Cost => ({ runs, micros, rows, away })

describe("where a SQLite read runs", () => {
  it.each([
    ["not measured", cost(0, 0, 0, false), false],
    ["measured once, however slow", cost(1, 50_000, 1, false), false],
    ["a point read", cost(2, 12, 1, false), false],
    ["just under the bound", cost(2, 199, 1, false), false],
    ["a count over many rows", cost(2, 650, 1, false), true],
    ["an aggregate", cost(2, 3_500, 3, false), true],
    ["a list of 500 rows: mostly rows to copy", cost(2, 1_000, 500, false), false],
    ["a slow list whose rows are few for its time", cost(2, 10_000, 500, false), true],
    ["away, still over half the bound: stays", cost(2, 120, 1, true), true],
    ["away, under half the bound: comes back", cost(2, 90, 1, true), false],
    ["away, now mostly rows: comes back", cost(2, 1_000, 300, true), false]
  ])("%s", (_, given, expected) => {
    expect(Offload.away(given)).toBe(expected)
  })

  it("the first run is taken as it is, later runs move the average a quarter of the way", () => {
    const c = Offload.unmeasured()
    Offload.observe(c, 800, 1)
    expect(c).toEqual({ runs: 1, micros: 800, rows: 1, away: false })
    Offload.observe(c, 400, 5)
    expect(c).toEqual({ runs: 2, micros: 700, rows: 2, away: true })
    // A statement that became cheap comes back once its average falls under half the bound.
    for (let i = 0; i < 10; i++) Offload.observe(c, 10, 1)
    expect(c.micros).toBeLessThan(Offload.AWAY_MICROS / 2)
    expect(c.away).toBe(false)
  })
})
