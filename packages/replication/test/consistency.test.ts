/**
 * The position PostgreSQL's COMMIT carries (`COMMIT; SELECT ...`, one result per statement): read from the last
 * result, normalised like every other position read, and absent when the answer does not hold one. And PostgreSQL's
 * session wait, which polls the replica's replay position until it covers the session's.
 */
import type { Connection } from "@effect/sql/SqlConnection"
import { describe, expect, it } from "@effect/vitest"
import type { DatabaseAdapter } from "@fastorm/adapters"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
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

describe("the replay poll carried in front of a session read", () => {
  const carried = Consistency.forDialect("postgresql")!.carried!
  const token = { kind: "lsn" as const, value: "0/3000060" }
  const table: ReadonlyArray<
    readonly [label: string, rows: ReadonlyArray<DatabaseAdapter.TextRow>, replayed: string | undefined]
  > = [
    ["replayed past the token", [["0/3000100", "read committed"]], "0/3000100"],
    ["replayed exactly to it", [["0/3000060", "read committed"]], "0/3000060"],
    ["behind the token", [["0/3000058", "read committed"]], undefined],
    ["not a replica (no replay position)", [[null, "read committed"]], undefined],
    ["repeatable read: the read shares the poll's earlier snapshot", [["0/3000100", "repeatable read"]], undefined],
    ["serializable", [["0/3000100", "serializable"]], undefined],
    ["no row", [], undefined]
  ]
  for (const [label, rows, replayed] of table) {
    it(label, () => {
      expect(carried.replayed(rows, token)).toEqual(
        replayed === undefined ? undefined : { kind: "lsn", value: replayed }
      )
    })
  }

  it("asks PostgreSQL for the replay LSN and the isolation level: a poll, which does not wait", () => {
    expect(carried.sql(token, Duration.millis(500))).toMatch(/pg_last_wal_replay_lsn\(\).*transaction_isolation/)
    expect(carried.waits).toBe(false)
  })
})

describe("MariaDB's wait carried in front of a session read", () => {
  const carried = Consistency.forDialect("mysql")!.carried!
  const token = { kind: "gtid" as const, value: "0-1-100" }
  // A row: MASTER_GTID_WAIT's outcome (0 replayed, -1 timed out), @@gtid_slave_pos, @@in_transaction.
  const table: ReadonlyArray<
    readonly [label: string, rows: ReadonlyArray<DatabaseAdapter.TextRow>, replayed: string | undefined]
  > = [
    ["replayed, the replica's position past the token", [["0", "0-1-105", "0"]], "0-1-105"],
    ["replayed exactly to it", [["0", "0-1-100", "0"]], "0-1-100"],
    // Evaluated before the wait returned: the token itself is what the wait proved.
    ["replayed, the position read before the wait returned", [["0", "0-1-99", "0"]], "0-1-100"],
    ["replayed, another domain's position kept beside it", [["0", "0-1-101,1-2-7", "0"]], "0-1-101,1-2-7"],
    ["replayed, no position shown", [["0", "", "0"]], "0-1-100"],
    ["timed out", [["-1", "0-1-99", "0"]], undefined],
    ["no outcome (a server that does not wait)", [[null, "0-1-105", "0"]], undefined],
    ["inside a transaction: the read's snapshot may predate the wait", [["0", "0-1-105", "1"]], undefined],
    ["no row", [], undefined]
  ]
  for (const [label, rows, replayed] of table) {
    it(label, () => {
      const result = carried.replayed(rows, token)
      expect(result?.value).toEqual(replayed)
      if (result !== undefined) expect(result.kind).toBe("gtid")
    })
  }

  it("waits on the server for the session's position, up to the bound, in seconds; its columns are named", () => {
    expect(carried.waits).toBe(true)
    // Named columns: mysql2 compiles a row parser per set of column names, and one named after its expression
    // would be named after the token (mariadbCarriedWait.integration.test.ts asks the server).
    expect(carried.sql(token, Duration.millis(500))).toBe(
      "SELECT MASTER_GTID_WAIT('0-1-100', 0.5) AS w, @@gtid_slave_pos AS p, @@in_transaction AS t"
    )
    expect(carried.sql({ kind: "gtid", value: "0-1-100,1-2-7" }, Duration.seconds(2))).toBe(
      "SELECT MASTER_GTID_WAIT('0-1-100,1-2-7', 2) AS w, @@gtid_slave_pos AS p, @@in_transaction AS t"
    )
  })

  it("carries nothing that is not a GTID list: the text is never made of anything else", () => {
    for (const value of ["0-1-1', 0); DROP TABLE t; --", "0-1-1 ", "", "0-1", "a-b-c"]) {
      expect(carried.sql({ kind: "gtid", value }, Duration.millis(500)), value).toBeUndefined()
    }
    expect(carried.sql({ kind: "lsn", value: "0/10" }, Duration.millis(500))).toBeUndefined()
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

describe("PostgreSQL's session wait", () => {
  const postgres = Consistency.forDialect("postgresql")!
  // A replica that stays at 0/10 and counts the polls it answers.
  const replica = () => {
    let polls = 0
    const answer = () =>
      Effect.sync(() => {
        polls++
        return [{ p: "0/10" }]
      })
    const connection: Connection = {
      execute: answer,
      executeRaw: answer,
      executeValues: () => Effect.succeed([]),
      executeUnprepared: answer,
      executeStream: () => Stream.empty
    }
    return { connection, polls: () => polls }
  }
  const token = { kind: "lsn" as const, value: "0/20" }

  it.live("polls until its bound while the replica stays behind", () =>
    Effect.gen(function*() {
      const { connection, polls } = replica()
      const outcome = yield* postgres.waitFor(connection, token, Duration.millis(600), () => false)
      expect(outcome).toBeUndefined()
      // Backing off from 2 ms to 50 ms: about fifteen polls in 600 ms, at least three on a loaded machine.
      expect(polls()).toBeGreaterThanOrEqual(3)
    }))

  it.live("sends no further poll once the replica is found failing, and ends at once, not caught up", () =>
    Effect.gen(function*() {
      const { connection, polls } = replica()
      const started = Date.now()
      // Found failing after the first poll: a poll sent then, to a frozen server, would wait out the bound (10 s).
      const outcome = yield* postgres.waitFor(connection, token, Duration.seconds(10), () => polls() >= 1)
      expect(outcome).toBeUndefined()
      expect(polls()).toBe(1)
      expect(Date.now() - started).toBeLessThan(5_000)
    }))
})
