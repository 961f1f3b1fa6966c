/**
 * On the live MariaDB cluster, a write's position comes back in its OK packet (`last_gtid` session tracking): the
 * session records it when the write (or a transaction's COMMIT) returns, nothing left pending, and that one GTID is
 * the primary's own; a write whose reply carries none (`INSERT ... RETURNING`: its rows end with an EOF packet)
 * falls back to the shared position read; concurrent writer sessions each record their own GTID. On PostgreSQL a
 * transaction's COMMIT position, read in the COMMIT's round trip, is recorded the same way, and so is a write's, read
 * just after it on its pipelined connection or in its batch behind PgBouncer, once the session reads after its writes.
 * Read-your-writes with these positions: `routing.integration.test.ts`.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { Database, ReadConnection, WriteConnection } from "@fastorm/core"
import { loadCluster, pauseReplay, resumeReplay, waitReplicated } from "@fastorm/test-support"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { FastOrm, SessionToken } from "../src/index.js"

const cluster = loadCluster()
const nodes = cluster.mariadb

const layer = FastOrm.layer({
  name: "maria-commit-positions",
  write: { url: nodes.primary.url, name: nodes.primary.name },
  read: nodes.replicas.map((r) => ({ url: r.url, name: r.name })),
  readWrite: { statementTimeout: "3 seconds" },
  health: { interval: "200 millis", timeout: "1 second", failureThreshold: 2 }
})

/** The session's recorded position and whether a position read is still pending, right now (no settling). */
const sessionNow = Effect.map(FiberRef.get(SessionToken.currentTokens), (tokens) => ({
  recorded: Object.values(tokens)[0],
  pending: Object.keys(SessionToken.pendingOf(tokens)).length > 0
}))

const fresh = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.locally(effect, SessionToken.currentTokens, {})

/** PostgreSQL's replicas stop replaying until the scope closes: only the primary has a write made meanwhile. */
const replayPaused = Effect.acquireRelease(
  Effect.promise(() => Promise.all(pg.replicas.map(pauseReplay))),
  () => Effect.promise(() => Promise.all(pg.replicas.map(resumeReplay)))
)

/** How many rows of `table` carry `label`, and whether the node that answered is a replica. */
const countIn = (read: Context.Tag.Service<typeof ReadConnection>, table: string) => (label: string) =>
  read.unsafe<{ n: string; replica: boolean }>(
    `SELECT count(*)::text AS n, pg_is_in_recovery() AS replica FROM ${table} WHERE label = $1`,
    [label]
  )

describe("MariaDB: a write's position from its OK packet", () => {
  it.scopedLive("a write and a transaction's COMMIT record the GTID they got, with nothing pending", () =>
    Effect.gen(function*() {
      const write = yield* WriteConnection
      yield* write.unsafe("CREATE TABLE IF NOT EXISTS commit_positions_rw (id INT PRIMARY KEY, v INT NOT NULL)")
      const id = Date.now() % 1_000_000_000
      yield* write.unsafe("INSERT INTO commit_positions_rw (id, v) VALUES (?, 0)", [id])

      const afterWrite = yield* fresh(Effect.zipRight(
        write.unsafe("UPDATE commit_positions_rw SET v = v + 1 WHERE id = ?", [id]),
        sessionNow
      ))
      expect(afterWrite.pending).toBe(false)
      expect(afterWrite.recorded?.kind).toBe("gtid")
      expect(afterWrite.recorded?.value).toMatch(/^\d+-\d+-\d+$/)

      const afterCommit = yield* fresh(Effect.zipRight(
        Database.transaction(write.unsafe("UPDATE commit_positions_rw SET v = v + 1 WHERE id = ?", [id])),
        sessionNow
      ))
      expect(afterCommit.pending).toBe(false)
      const [domain, , seq] = afterCommit.recorded!.value.split("-")
      const [domainBefore, , seqBefore] = afterWrite.recorded!.value.split("-")
      expect(domain).toBe(domainBefore)
      expect(BigInt(seq!)).toBeGreaterThan(BigInt(seqBefore!))
      // The primary's binary log has it (the GTID is the commit's own, not a guess).
      const [pos] = yield* write.unsafe<{ p: string }>("SELECT @@gtid_binlog_pos AS p")
      const [, , binlogSeq] = pos!.p.split(",").find((g) => g.startsWith(`${domain}-`))!.split("-")
      expect(BigInt(binlogSeq!)).toBeGreaterThanOrEqual(BigInt(seq!))

      // INSERT ... RETURNING: its rows end with an EOF packet, which carries no session state: the shared read.
      const afterReturning = yield* fresh(Effect.zipRight(
        write.unsafe("INSERT INTO commit_positions_rw (id, v) VALUES (?, 0) RETURNING id", [id + 1]),
        sessionNow
      ))
      expect(afterReturning.pending).toBe(true)
      const settled = yield* fresh(Effect.zipRight(
        write.unsafe("DELETE FROM commit_positions_rw WHERE id = ? RETURNING id", [id + 1]),
        SessionToken.get("maria-commit-positions")
      ))
      expect(settled._tag).toBe("Some")
    }).pipe(Effect.provide(layer)))

  it.scopedLive("16 concurrent writer sessions each record their own write's GTID", () =>
    Effect.gen(function*() {
      const write = yield* WriteConnection
      yield* write.unsafe("CREATE TABLE IF NOT EXISTS commit_positions_rw (id INT PRIMARY KEY, v INT NOT NULL)")
      const id = (Date.now() % 1_000_000_000) + 11
      yield* write.unsafe("INSERT INTO commit_positions_rw (id, v) VALUES (?, 0)", [id])
      // One counter row: its lock orders the commits, LAST_INSERT_ID gives each session its rank (the OK packet's
      // insertId). (`mariadb.integration.test.ts` in the adapters shows the same with runs that outlast the others'
      // replies.)
      const sessions = yield* Effect.forEach(
        Array.from({ length: 16 }, (_, i) => i),
        () =>
          fresh(Effect.gen(function*() {
            const reply = yield* write.unsafe("UPDATE commit_positions_rw SET v = LAST_INSERT_ID(v + 1) WHERE id = ?", [
              id
            ]).raw
            return { rank: Number((reply as { insertId: number }).insertId), ...(yield* sessionNow) }
          })),
        { concurrency: "unbounded" }
      )
      const ranked = [...sessions].sort((a, b) => a.rank - b.rank)
      expect(ranked.map((s) => s.rank)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1))
      for (const session of ranked) {
        expect(session.pending).toBe(false)
        expect(session.recorded?.value).toMatch(/^\d+-\d+-\d+$/)
      }
      // In commit order, the GTIDs rise strictly: no session recorded another's (nor a shared, later, position).
      const seqs = ranked.map((s) => BigInt(s.recorded!.value.split("-")[2]!))
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!)
    }).pipe(Effect.provide(layer)))
})

const pg = cluster.postgres

/** A PostgreSQL cluster's layer, direct or through its pooler: a session read waits 10 ms for its replica. */
const pgLayerOf = (
  name: string,
  nodes: {
    readonly primary: { readonly url: string; readonly name: string }
    readonly replicas: ReadonlyArray<{ readonly url: string; readonly name: string }>
  }
) =>
  FastOrm.layer({
    name,
    write: { url: nodes.primary.url, name: nodes.primary.name },
    read: nodes.replicas.map((r) => ({ url: r.url, name: r.name })),
    readWrite: { statementTimeout: "3 seconds", sessionWaitTimeout: "10 millis" },
    health: { interval: "200 millis", timeout: "1 second", failureThreshold: 2 }
  })

const pgLayer = pgLayerOf("pg-commit-positions", pg)

describe("PostgreSQL: a transaction's COMMIT position, read in the COMMIT's round trip", () => {
  it.scopedLive("once the session reads after its writes: recorded when the COMMIT returns, nothing pending; the session's next read sees the write", () =>
    Effect.gen(function*() {
      const write = yield* WriteConnection
      const read = yield* ReadConnection
      yield* write.unsafe("CREATE TABLE IF NOT EXISTS commit_positions_pg (id SERIAL PRIMARY KEY, label TEXT NOT NULL)")
      yield* Effect.promise(() => waitReplicated(pg))
      // No replica replays: only the primary (or a replica that waited for the position, never here) has the row.
      yield* replayPaused
      const label = `commit-${Date.now()}`
      const count = countIn(read, "commit_positions_pg")
      const after = yield* fresh(Effect.gen(function*() {
        // The session's first COMMIT: nothing told it that it reads its writes, so it joins the shared read.
        yield* Database.transaction(write.unsafe("INSERT INTO commit_positions_pg (label) VALUES ($1)", [`${label}-0`]))
        const first = yield* sessionNow
        const firstRows = yield* count(`${label}-0`)
        yield* Database.transaction(write.unsafe("INSERT INTO commit_positions_pg (label) VALUES ($1)", [label]))
        const now = yield* sessionNow
        const rows = yield* count(label)
        return { ...now, rows, first, firstRows }
      }))
      expect(after.first.pending).toBe(true)
      expect(after.firstRows).toEqual([{ n: "1", replica: false }])
      expect(after.pending).toBe(false)
      expect(after.recorded?.kind).toBe("lsn")
      const [flushed] = yield* write.unsafe<{ covered: boolean }>(
        "SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS covered",
        [after.recorded!.value]
      )
      expect(flushed!.covered).toBe(true)
      expect(after.rows).toEqual([{ n: "1", replica: false }])
    }).pipe(Effect.provide(pgLayer)))
})

/**
 * A session's writes to `table` (created by `setup`, which also readies the path the writes take) with replay paused:
 * the first joins the shared position read (nothing told the session it reads its writes); after its read, each of
 * five writes returns with its own position recorded, nothing pending, past the flush position before it and flushed,
 * and the session's read of it, on the primary, sees it.
 */
const readsItsWrites = (
  table: string,
  setup: (write: Context.Tag.Service<typeof WriteConnection>) => Effect.Effect<unknown, SqlError>
) =>
  Effect.gen(function*() {
    const write = yield* WriteConnection
    const read = yield* ReadConnection
    yield* setup(write)
    yield* Effect.promise(() => waitReplicated(pg))
    yield* replayPaused
    const count = countIn(read, table)
    yield* fresh(Effect.gen(function*() {
      const first = `${table}-${Date.now()}-first`
      yield* write.unsafe(`INSERT INTO ${table} (label) VALUES ($1)`, [first])
      expect((yield* sessionNow).pending).toBe(true)
      expect(yield* count(first)).toEqual([{ n: "1", replica: false }])
      for (let i = 0; i < 5; i++) {
        const label = `${table}-${Date.now()}-${i}`
        const [before] = yield* write.unsafe<{ p: string }>("SELECT pg_current_wal_flush_lsn()::text AS p")
        yield* write.unsafe(`INSERT INTO ${table} (label) VALUES ($1)`, [label])
        const now = yield* sessionNow
        expect(now.pending).toBe(false)
        expect(now.recorded?.kind).toBe("lsn")
        const [order] = yield* write.unsafe<{ past: boolean; flushed: boolean }>(
          "SELECT $1::pg_lsn > $2::pg_lsn AS past, pg_current_wal_flush_lsn() >= $1::pg_lsn AS flushed",
          [now.recorded!.value, before!.p]
        )
        expect(order).toEqual({ past: true, flushed: true })
        // No replica replays: the primary answers the session's read, and it sees the write.
        expect(yield* count(label)).toEqual([{ n: "1", replica: false }])
      }
    }))
  })

const READS_ITS_WRITES =
  "once the session reads after its writes: recorded when each write returns, nothing pending, " +
  "past the position before it; its read sees it"

describe("PostgreSQL on its pipelined connections: a write's position, read just after it on its lane", () => {
  it.scopedLive(READS_ITS_WRITES, () =>
    readsItsWrites("commit_positions_lane", (write) =>
      Effect.gen(function*() {
        yield* write.unsafe("CREATE TABLE IF NOT EXISTS commit_positions_lane (id SERIAL PRIMARY KEY, label TEXT)")
        // Load enough to open the primary's lanes; an idle lane then takes each write of the session.
        yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => write.unsafe("SELECT $1::int", [i]), {
          concurrency: 16
        })
        yield* Effect.sleep("300 millis")
      })).pipe(Effect.provide(pgLayer)))
})

const bouncer = cluster.pgbouncer

const bouncerLayer = pgLayerOf("pgbouncer-commit-positions", bouncer)

describe("PostgreSQL behind PgBouncer: a write's position, read after its COMMIT in its own batch", () => {
  it.scopedLive(READS_ITS_WRITES, () =>
    readsItsWrites(
      "commit_positions_pgb",
      // Also the statement that finds the pooler (it refuses the startup parameters): batches from then on.
      (write) =>
        write.unsafe("CREATE TABLE IF NOT EXISTS commit_positions_pgb (id SERIAL PRIMARY KEY, label TEXT NOT NULL)")
    ).pipe(Effect.provide(bouncerLayer)))

  it.scopedLive("a session that never reads after its writes pays no statement: its writes share the position read", () =>
    Effect.gen(function*() {
      const write = yield* WriteConnection
      yield* write.unsafe(
        "CREATE TABLE IF NOT EXISTS commit_positions_pgb (id SERIAL PRIMARY KEY, label TEXT NOT NULL)"
      )
      const pending = yield* fresh(Effect.forEach(
        Array.from({ length: 5 }, (_, i) => `unread-${Date.now()}-${i}`),
        (label) =>
          Effect.zipRight(
            write.unsafe("INSERT INTO commit_positions_pgb (label) VALUES ($1)", [label]),
            Effect.map(sessionNow, (now) => now.pending)
          )
      ))
      expect(pending).toEqual([true, true, true, true, true])
    }).pipe(Effect.provide(bouncerLayer)))
})
