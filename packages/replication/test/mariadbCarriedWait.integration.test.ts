/**
 * A MariaDB session read carries its wait for the replica (`MASTER_GTID_WAIT`) in front of it, in one round trip
 * (`ConsistencyOps.carried`, `mysqlLead.ts`): caught up, the read's rows are the answer and the wait is logged as
 * carried; a wait that runs its bound throws the read away, and the primary answers with no second wait.
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import { adminQuery, captureLogs, loadCluster, LOADED_MACHINE_SLACK_MS, scratchTable } from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { FastOrm, SessionToken } from "../src/index.js"
import * as Consistency from "../src/internal/consistency.js"
import { waitLines } from "./support/waitLines.js"

const cluster = loadCluster()
const nodes = cluster.mariadb
const replica = nodes.replicas[0]!

const layer = (name: string, sessionWaitTimeout: Duration.DurationInput) =>
  FastOrm.layer({
    name,
    write: nodes.primary.url,
    read: [replica.url],
    readWrite: { consistency: "session", sessionWaitTimeout }
  })

describe("a MariaDB session read with its wait carried", () => {
  it.scopedLive("caught up: the read's own rows, one wait logged as carried", () => {
    const logs = captureLogs()
    const table = `maria_carried_${process.pid}`
    return Effect.gen(function*() {
      const write = yield* WriteConnection
      const read = yield* ReadConnection
      yield* scratchTable(write, table, "id INT PRIMARY KEY, port INT")
      for (let i = 1; i <= 20; i++) {
        yield* write.unsafe(`INSERT INTO ${table} (id) VALUES (?)`, [i])
        const rows = yield* read.unsafe<{ id: number; port: number }>(
          `SELECT id, @@port AS port FROM ${table} WHERE id = ?`,
          [i]
        )
        expect(rows.map((r) => Number(r.id))).toEqual([i])
      }
      const lines = waitLines(logs)
      // Every read after its write waited on the replica (none knew it had replayed the write), in its own round trip.
      expect(lines.length).toBeGreaterThan(0)
      expect(lines.filter((l) => l.carried === true && l.caughtUp === true)).toEqual(lines)
      expect(lines.every((l) => l.node === "replica-1")).toBe(true)
    }).pipe(
      Effect.provide(layer("maria-carried-caught-up", "10 seconds")),
      Effect.provide(logs.layer),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
  }, 60_000)

  it.scopedLive(
    "never caught up: the carried wait runs its bound, the read is thrown away, the primary answers",
    () => {
      const logs = captureLogs()
      const name = "maria-carried-gave-up"
      return Effect.gen(function*() {
        const read = yield* ReadConnection
        // A position a million commits ahead of the primary's: no replica reaches it in the test.
        const [{ p }] = yield* Effect.promise(() =>
          adminQuery<{ p: string }>(nodes.primary, "SELECT @@gtid_binlog_pos AS p")
        )
        const mine = p!.split(",").find((g) => g.startsWith("0-"))
        if (mine === undefined) throw new Error(`no domain 0 in the primary's position ${p}`)
        const [domain, server, seq] = mine.split("-")
        const position = `${domain}-${server}-${Number(seq) + 1_000_000}`
        const started = Date.now()
        const rows = yield* Effect.locally(
          read.unsafe<{ port: number }>("SELECT @@port AS port FROM DUAL WHERE ? = 1", [1]),
          SessionToken.currentTokens,
          { [name]: { kind: "gtid" as const, value: position } }
        )
        const took = Date.now() - started
        expect(Number(rows[0]!.port)).toBe(nodes.primary.port)
        // The wait ran its bound (300 ms) and no more: one wait, logged once (a second, plain wait would log again).
        expect(took).toBeGreaterThanOrEqual(290)
        expect(took).toBeLessThan(300 + LOADED_MACHINE_SLACK_MS)
        const lines = waitLines(logs)
        expect(lines).toHaveLength(1)
        expect(lines[0]).toMatchObject({ node: "replica-1", carried: true, caughtUp: false })
      }).pipe(
        Effect.provide(layer(name, "300 millis")),
        Effect.provide(logs.layer),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
    },
    60_000
  )

  it.live("names its columns whatever the token: mysql2 compiles one row parser for every wait, not one per GTID", () =>
    Effect.gen(function*() {
      const carried = Consistency.forDialect("mysql")!.carried!
      const [{ p }] = yield* Effect.promise(() => adminQuery<{ p: string }>(replica, "SELECT @@gtid_slave_pos AS p"))
      // Two positions the replica has replayed (its own, and the first commit of a domain in it): no wait at all.
      const first = p!.split(",")[0]!.replace(/-\d+$/, "-1")
      const columns = []
      for (const value of [p!, first]) {
        const sql = carried.sql({ kind: "gtid", value }, Duration.millis(500))!
        const rows = yield* Effect.promise(() => adminQuery<Record<string, unknown>>(replica, sql))
        expect(String(rows[0]!["w"])).toBe("0")
        columns.push(Object.keys(rows[0]!))
      }
      expect(columns).toEqual([["w", "p", "t"], ["w", "p", "t"]])
    }))
})
