/**
 * A PostgreSQL session read carries its replay poll in front of it, in one round trip (`ConsistencyOps.carried`):
 * caught up, the read's rows are the answer and the wait is logged as carried; behind, the read is thrown away, the
 * session waits for the replica as before, and reads there once it has replayed the session's position.
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import { adminQuery, captureLogs, loadCluster, recordingTracer, scratchTable } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { FastOrm, SessionToken } from "../src/index.js"
import { waitLines } from "./support/waitLines.js"

const cluster = loadCluster()
const nodes = cluster.postgres
const replica = nodes.replicas[0]!

const layer = (name: string) =>
  FastOrm.layer({
    name,
    write: nodes.primary.url,
    read: [replica.url],
    readWrite: { consistency: "session", sessionWaitTimeout: "10 seconds" }
  })

describe("a PostgreSQL session read with its replay poll carried", () => {
  it.scopedLive("caught up: the read's own rows, one wait logged as carried", () => {
    const logs = captureLogs()
    const table = `carried_poll_${process.pid}`
    return Effect.gen(function*() {
      const write = yield* WriteConnection
      const read = yield* ReadConnection
      yield* scratchTable(write, table, "id INT PRIMARY KEY, port INT")
      for (let i = 1; i <= 10; i++) {
        yield* write.unsafe(`INSERT INTO ${table} (id) VALUES ($1)`, [i])
        // Parameters: the extended protocol, which carries the poll in the read's round trip.
        const rows = yield* read.unsafe<{ id: number; port: number }>(
          `SELECT id, inet_server_port() AS port FROM ${table} WHERE id = $1`,
          [i]
        )
        expect(rows.map((r) => Number(r.id))).toEqual([i])
      }
      const lines = waitLines(logs)
      // A replica found behind by its carried poll waits as before (a line with carried: false): rare, not never.
      expect(lines.filter((l) => l.carried === true && l.caughtUp === true).length).toBeGreaterThan(0)
      expect(lines.every((l) => l.node === "replica-1")).toBe(true)
    }).pipe(
      Effect.provide(layer("carried-caught-up")),
      Effect.provide(logs.layer),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
  }, 60_000)

  it.scopedLive("under a tracer: a carried read is one sql.execute span with its route", () => {
    const logs = captureLogs()
    const { spans, tracer } = recordingTracer()
    const table = `carried_poll_traced_${process.pid}`
    return Effect.gen(function*() {
      const write = yield* WriteConnection
      const read = yield* ReadConnection
      yield* scratchTable(write, table, "id INT PRIMARY KEY")
      for (let i = 1; i <= 10; i++) {
        yield* write.unsafe(`INSERT INTO ${table} (id) VALUES ($1)`, [i])
        yield* read.unsafe(`SELECT id FROM ${table} WHERE id = $1`, [i]).pipe(
          Effect.withSpan(`read-${i}`),
          Effect.withTracer(tracer)
        )
      }
      // The carried path ran (a replica found behind by its poll reads after the wait instead: rare, not never).
      expect(waitLines(logs).filter((l) => l.carried === true && l.caughtUp === true).length).toBeGreaterThan(0)
      for (let i = 1; i <= 10; i++) {
        const request = spans.find((s) => s.name === `read-${i}`)!
        const children = spans.filter((s) => Option.getOrUndefined(s.parent) === request)
        // The route on the statement's own span, not on a fastorm.route child beside it.
        expect(children.map((s) => s.name), `read-${i}`).toEqual(["sql.execute"])
        expect(children[0]!.attributes.get("fastorm.node"), `read-${i}`).toEqual(expect.any(String))
        expect(children[0]!.attributes.get("fastorm.reason"), `read-${i}`).toEqual(expect.any(String))
      }
    }).pipe(
      Effect.provide(layer("carried-traced")),
      Effect.provide(logs.layer),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
  }, 60_000)

  it.scopedLive("a statement that writes after all (nextval on a replica): the primary runs it, as a write", () => {
    const sequence = `carried_poll_seq_${process.pid}`
    return Effect.gen(function*() {
      const write = yield* WriteConnection
      const read = yield* ReadConnection
      yield* write.unsafe(`DROP SEQUENCE IF EXISTS ${sequence}`)
      yield* write.unsafe(`CREATE SEQUENCE ${sequence}`)
      yield* Effect.addFinalizer(() => Effect.ignore(write.unsafe(`DROP SEQUENCE IF EXISTS ${sequence}`)))
      // The session wrote: its read goes to the replica with the poll carried, and the replica refuses nextval.
      const rows = yield* read.unsafe<{ n: string; port: number }>(
        `SELECT nextval('${sequence}') AS n, inet_server_port() AS port WHERE $1::int = 1`,
        [1]
      )
      expect(Number(rows[0]!.n)).toBe(1)
      expect(Number(rows[0]!.port)).toBe(nodes.primary.port)
      const [{ last }] = yield* Effect.promise(() =>
        adminQuery<{ last: string }>(nodes.primary, `SELECT last_value::text AS last FROM ${sequence}`)
      )
      expect(last).toBe("1")
    }).pipe(Effect.provide(layer("carried-writes")))
  }, 60_000)

  it.scopedLive("behind: the read is thrown away, the session waits, then reads the replica", () => {
    const logs = captureLogs()
    const name = "carried-behind"
    return Effect.gen(function*() {
      const read = yield* ReadConnection
      // A fresh segment, then a session position at the next segment's start: no write of this machine's tests
      // reaches it by itself in the time below; the switch to the next segment does.
      yield* Effect.promise(() => adminQuery(nodes.primary, "SELECT txid_current()"))
      yield* Effect.promise(() => adminQuery(nodes.primary, "SELECT pg_switch_wal()"))
      const [{ lsn }] = yield* Effect.promise(() =>
        adminQuery<{ lsn: string }>(nodes.primary, "SELECT pg_current_wal_lsn()::text AS lsn")
      )
      const next = (SessionToken.lsnToBigInt(lsn!) / 16_777_216n + 1n) * 16_777_216n
      const position = `${(next >> 32n).toString(16).toUpperCase()}/${(next & 0xffffffffn).toString(16).toUpperCase()}`
      const session = { [name]: { kind: "lsn" as const, value: position } }
      const sessionRead = Effect.locally(
        read.unsafe<{ port: number; replayed: string }>(
          "SELECT inet_server_port() AS port, pg_last_wal_replay_lsn()::text AS replayed WHERE $1::int = 1",
          [1]
        ),
        SessionToken.currentTokens,
        session
      )
      const started = Date.now()
      const reading = yield* Effect.fork(sessionRead)
      yield* Effect.sleep("300 millis")
      // A switch with nothing written since the last is a no-op; a record after it, to replay past the boundary.
      for (const sql of ["SELECT txid_current()", "SELECT pg_switch_wal()", "SELECT txid_current()"]) {
        yield* Effect.promise(() => adminQuery(nodes.primary, sql))
      }
      const rows = yield* Fiber.join(reading)
      expect(Date.now() - started).toBeGreaterThanOrEqual(300)
      // Read on the replica, after it replayed the session's position: not the carried read's earlier answer.
      expect(Number(rows[0]!.port)).toBe(replica.port)
      expect(SessionToken.covers(rows[0]!.replayed, { kind: "lsn", value: position })).toBe(true)
      const lines = waitLines(logs)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatchObject({ node: "replica-1", carried: false, caughtUp: true })
    }).pipe(Effect.provide(layer(name)), Effect.provide(logs.layer), Logger.withMinimumLogLevel(LogLevel.Debug))
  }, 60_000)
})
