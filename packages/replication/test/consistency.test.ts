/**
 * The position PostgreSQL's COMMIT carries (`COMMIT; SELECT ...`, one result per statement): read from the last
 * result, normalised like every other position read, and absent when the answer does not hold one.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Consistency from "../src/internal/consistency.js"
import { lsnToBigInt } from "../src/SessionToken.js"

describe("the position read with COMMIT", () => {
  const postgres = Consistency.forDialect("postgresql")!.withCommit!

  it("is the last result's value, normalised", () => {
    expect(postgres.position([[], [{ p: "0/3000060" }]])).toEqual({ kind: "lsn", value: "0/3000060" })
    // Right after a page header: the boundary, as for the shared read.
    expect(postgres.position([[], [{ p: "0/3002018" }]])).toEqual({ kind: "lsn", value: "0/3002000" })
  })

  it("is absent when the answer holds none: the shared read is used instead", () => {
    expect(postgres.position([])).toBeUndefined()
    expect(postgres.position([[], []])).toBeUndefined()
    expect(postgres.position([[], [{ p: null }]])).toBeUndefined()
    // One result only (a driver that ran the COMMIT alone): no position in it.
    expect(postgres.position([{ id: 1 }])).toBeUndefined()
  })

  it("is PostgreSQL's only: MariaDB keeps the shared read", () => {
    expect(Consistency.forDialect("postgresql")!.withCommit?.sql).toMatch(/^SELECT .*pg_current_wal_flush_lsn/)
    expect(Consistency.forDialect("mysql")!.withCommit).toBeUndefined()
    expect(Consistency.forDialect("sqlite")).toBeUndefined()
  })
})

describe("normaliseLsn", () => {
  // The definition, over the whole 64-bit position: back from a page header (24 bytes) or a segment's first page
  // header (40 bytes) to the boundary.
  const byBigInt = (lsn: string): string => {
    const n = lsnToBigInt(lsn)
    const back = n % (16n * 1024n * 1024n) === 40n ? 40n : n % 8192n === 24n ? 24n : 0n
    if (back === 0n) return lsn
    const m = n - back
    return `${(m >> 32n).toString(16).toUpperCase()}/${(m & 0xffffffffn).toString(16).toUpperCase()}`
  }
  const table: ReadonlyArray<readonly [lsn: string, normalised: string]> = [
    ["0/3000060", "0/3000060"],
    ["0/3002018", "0/3002000"],
    ["0/3000028", "0/3000000"],
    ["0/1000028", "0/1000000"],
    ["0/28", "0/0"],
    ["0/18", "0/0"],
    ["0/2018", "0/2000"],
    ["0/2028", "0/2028"],
    ["1/1000028", "1/1000000"],
    ["2/28", "2/0"],
    ["A/FFFFE018", "A/FFFFE000"],
    ["FFFFFFFF/FF000028", "FFFFFFFF/FF000000"],
    ["FFFFFFFF/FFFFFFFF", "FFFFFFFF/FFFFFFFF"],
    ["16/B374D848", "16/B374D848"],
    ["16/B374C018", "16/B374C000"]
  ]
  it("steps back from a page or segment header to the boundary, as the 64-bit definition does", () => {
    for (const [lsn, normalised] of table) {
      expect(Consistency.normaliseLsn(lsn)).toBe(normalised)
      expect(Consistency.normaliseLsn(lsn)).toBe(byBigInt(lsn))
    }
  })
})
