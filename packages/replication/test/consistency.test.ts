/**
 * The position PostgreSQL's COMMIT carries (`COMMIT; SELECT ...`, one result per statement): read from the last
 * result, normalised like every other position read, and absent when the answer does not hold one.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Consistency from "../src/internal/consistency.js"

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
