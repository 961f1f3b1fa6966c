import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { loadCluster, LOADED_MACHINE_SLACK_MS, markedSleep, newKeepAliveTimers } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster = loadCluster()
const primaryUrl = cluster.mariadb.primary.url
const replicaUrl = cluster.mariadb.replicas[0]!.url

const variable = (client: SqlClient.SqlClient, name: string) =>
  Effect.map(client.unsafe<Record<string, unknown>>(`SELECT @@${name} AS v`), (rows) => String(rows[0]!.v))

describe("MariaDB adapter on the live cluster", () => {
  it.scopedLive("applies every optimal setting to the server session", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(primaryUrl)
      const client = yield* adapter.makeClient({ verify: true })
      expect(yield* variable(client, "character_set_connection")).toBe("utf8mb4")
      expect(yield* variable(client, "collation_connection")).toBe("utf8mb4_unicode_ci")
      expect(yield* variable(client, "session.net_read_timeout")).toBe("30")
      expect(yield* variable(client, "session.net_write_timeout")).toBe("30")
      expect(Number(yield* variable(client, "session.max_statement_time"))).toBe(30)
      expect(yield* variable(client, "session.tx_read_only")).toBe("0")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("the URL's timeouts (in seconds, as the MySQL client takes them) and collation reach the session", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(
        `${primaryUrl}?read_timeout=41&write_timeout=42&collation=utf8mb4_bin`
      )
      const client = yield* adapter.makeClient()
      expect(yield* variable(client, "session.net_read_timeout")).toBe("41")
      expect(yield* variable(client, "session.net_write_timeout")).toBe("42")
      expect(yield* variable(client, "collation_connection")).toBe("utf8mb4_bin")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("timezone: dates are written and read in the zone given, and the session's time_zone follows it", () =>
    Effect.gen(function*() {
      const table = `tz_${process.pid}_${Date.now()}`
      const instant = new Date("2026-01-02T03:04:05.000Z")
      const admin = yield* Effect.flatMap(DatabaseAdapterFactory.create(primaryUrl), (a) => a.makeClient())
      yield* Effect.acquireRelease(
        admin.unsafe(`CREATE TABLE ${table} (id INT PRIMARY KEY, at DATETIME NOT NULL)`),
        () => Effect.orDie(admin.unsafe(`DROP TABLE IF EXISTS ${table}`))
      )
      const cases = [
        [`${primaryUrl}?timezone=Z`, 1, "+00:00", "2026-01-02 03:04:05"],
        [`${primaryUrl}?timezone=%2B05:30`, 2, "+05:30", "2026-01-02 08:34:05"]
      ] as const
      for (const [url, id, zone, stored] of cases) {
        const client = yield* Effect.flatMap(DatabaseAdapterFactory.create(url), (a) => a.makeClient())
        expect(yield* variable(client, "session.time_zone")).toBe(zone)
        yield* client.unsafe(`INSERT INTO ${table} (id, at) VALUES (?, ?)`, [id, instant])
        const rows = yield* client.unsafe<{ at: Date; text: string; now: number }>(
          `SELECT at, CAST(at AS CHAR) AS text, TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW()) AS now FROM ${table} ` +
            `WHERE id = ?`,
          [id]
        )
        expect(rows[0]!.text).toBe(stored)
        expect(rows[0]!.at.toISOString()).toBe(instant.toISOString())
        // The server's NOW() is in the same zone as the dates the client reads.
        expect(Number(rows[0]!.now)).toBe(id === 1 ? 0 : 5.5 * 3600)
      }
      // "local", the default, leaves the session's zone as the server set it.
      const local = yield* Effect.flatMap(DatabaseAdapterFactory.create(primaryUrl), (a) => a.makeClient())
      expect(yield* variable(local, "session.time_zone")).toBe(yield* variable(admin, "global.time_zone"))
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("serverSettings are every new connection's session variables: numbers as numbers, text quoted", () =>
    Effect.gen(function*() {
      const config = { serverSettings: { SQL_MODE: "STRICT_TRANS_TABLES,NO_ZERO_DATE", sort_buffer_size: "262144" } }
      const client = yield* Effect.flatMap(
        DatabaseAdapterFactory.create(replicaUrl, { config }),
        (a) => a.makeClient({ readOnly: true, verify: true })
      )
      expect(yield* variable(client, "session.sql_mode")).toBe("STRICT_TRANS_TABLES,NO_ZERO_DATE")
      expect(yield* variable(client, "session.sort_buffer_size")).toBe("262144")
      expect(yield* variable(client, "session.tx_read_only")).toBe("1")
      const plain = yield* Effect.flatMap(DatabaseAdapterFactory.create(replicaUrl), (a) => a.makeClient())
      expect(yield* variable(plain, "session.sql_mode")).not.toBe("STRICT_TRANS_TABLES,NO_ZERO_DATE")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a session variable the server refuses fails the connection with the server's words", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(Effect.flatMap(
        DatabaseAdapterFactory.create(primaryUrl, { config: { serverSettings: { no_such_variable: "1" } } }),
        (a) => a.makeClient({ verify: true })
      ))
      expect(failed._tag).toBe("ConnectionFailed")
      expect(failed.message).toContain("no_such_variable")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("keepAliveInitialDelay (or the URL's, in milliseconds) reaches the sockets' keep-alive timer", () =>
    Effect.gen(function*() {
      const node = cluster.mariadb.replicas[1]!
      for (
        const [url, config, low, high] of [
          [node.url, { keepAliveInitialDelay: "45 seconds" }, 30, 45],
          [`${node.url}?keepAliveInitialDelay=40000`, {}, 25, 40]
        ] as const
      ) {
        const seconds = yield* Effect.scoped(newKeepAliveTimers(
          node.port,
          Effect.flatMap(
            DatabaseAdapterFactory.create(url, { config: { ...config, poolSize: 1, maxOverflow: 0 } }),
            (a) => a.makeClient({ readOnly: true, verify: true })
          )
        ))
        expect(seconds.length).toBeGreaterThan(0)
        for (const s of seconds) expect(s).toBeGreaterThan(low)
        for (const s of seconds) expect(s).toBeLessThanOrEqual(high)
      }
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("user overrides win: the statement bound really stops a long statement", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(primaryUrl, {
        config: { statementTimeout: "1 second", readTimeout: "45 seconds" }
      })
      const client = yield* adapter.makeClient()
      expect(Number(yield* variable(client, "session.max_statement_time"))).toBe(1)
      expect(yield* variable(client, "session.net_read_timeout")).toBe("45")
      const started = Date.now()
      const error = yield* Effect.flip(client`SELECT SLEEP(3) AS s`)
      // ER_STATEMENT_TIMEOUT: the server stopped it at max_statement_time.
      expect((error.cause as { errno?: number }).errno).toBe(1969)
      // statementTimeout (1 s) plus a loaded machine's slack: well under the 3 s the statement would run uncut.
      expect(Date.now() - started).toBeLessThan(1_000 + LOADED_MACHINE_SLACK_MS)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a read-only client on a replica runs read-only sessions and the replica refuses the app user's writes", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(replicaUrl)
      const client = yield* adapter.makeClient({ readOnly: true, verify: true })
      expect(yield* variable(client, "session.tx_read_only")).toBe("1")
      expect(yield* variable(client, "global.read_only")).toBe("1")
      const plain = yield* adapter.makeClient()
      const error = yield* Effect.flip(plain`CREATE TABLE should_not_exist (id int)`)
      expect((error.cause as { errno?: number }).errno).toBe(1290)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("the pool opens at most poolSize + maxOverflow connections", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(primaryUrl, {
        config: { poolSize: 2, maxOverflow: 1, pipelinedConnections: 0 }
      })
      const client = yield* adapter.makeClient()
      const ids = yield* Effect.forEach(
        Array.from({ length: 9 }),
        () =>
          Effect.map(client<{ id: number }>`SELECT CONNECTION_ID() AS id, SLEEP(0.1) AS s`, (rows) =>
            Number(rows[0]!.id)),
        { concurrency: 9 }
      )
      expect(new Set(ids).size).toBe(3)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("detects MariaDB 10.11 and its own feature thresholds, not MySQL's", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(primaryUrl)
      const client = yield* adapter.makeClient()
      const detected = yield* adapter.detectFeatures(client)
      expect(detected.version.product).toBe("mariadb")
      expect([detected.version.major, detected.version.minor]).toEqual([10, 11])
      expect(detected.features).toEqual({
        supportsJsonFields: true,
        supportsArrayFields: false,
        supportsFullTextSearch: true,
        supportsWindowFunctions: true,
        supportsCte: true,
        supportsUpsert: true,
        supportsReturning: true,
        supportsPartialIndexes: false,
        supportsConcurrentIndexes: false,
        supportsSchemas: false
      })
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("waiting for a pooled connection is bounded by connectTimeout (mysql2 alone waits forever)", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(primaryUrl, {
        config: { poolSize: 1, maxOverflow: 0, connectTimeout: "300 millis", pipelinedConnections: 0 }
      })
      const client = yield* adapter.makeClient({ verify: true })
      // Busy far longer than connectTimeout + slack: a wait not bounded by connectTimeout would outlast the bound.
      const sleep = markedSleep(cluster.mariadb.primary, 3)
      const busy = yield* Effect.fork(client.unsafe(sleep.sql))
      yield* sleep.running
      const started = Date.now()
      const error = yield* Effect.flip(client`SELECT 1 AS one`)
      const waited = Date.now() - started
      expect(error._tag).toBe("SqlError")
      expect((error.cause as { code?: string }).code).toBe("ETIMEDOUT")
      expect(waited).toBeGreaterThanOrEqual(250)
      // connectTimeout (300 ms) plus a loaded machine's slack; an unbounded wait would last until the 3 s sleep ends.
      expect(waited).toBeLessThan(300 + LOADED_MACHINE_SLACK_MS)
      yield* busy.await
      // The pool recovers: the one connection serves again once free.
      const [row] = yield* client<{ one: number }>`SELECT 1 AS one`
      expect(Number(row!.one)).toBe(1)
    }).pipe(Effect.provide(Reactivity.layer)))
  it.scopedLive("each write's OK packet tells the GTID its commit got; a transaction's COMMIT tells it too", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(primaryUrl)
      const client = yield* adapter.makeClient({ verify: true })
      const commits = client.commitPositions!
      expect(commits).toBeDefined()
      yield* client.unsafe("CREATE TABLE IF NOT EXISTS commit_positions (id int PRIMARY KEY, v int)")
      const told = (run: (connection: Connection) => Effect.Effect<unknown, SqlError>) =>
        Effect.map(commits.runCommitted(run), ([, gtid]) => gtid)
      const id = Date.now() % 1_000_000_000
      const inserted = yield* told((c) => c.executeRaw("INSERT INTO commit_positions VALUES (?, 1)", [id]))
      // The GTID told is the primary's last one: nothing else wrote in between on this test's table.
      const binlog = yield* variable(client, "global.gtid_binlog_pos")
      expect(inserted).toMatch(/^\d+-\d+-\d+$/)
      expect(binlog.split(",")).toContain(inserted)
      // Nothing committed (no row matched, a read): nothing told.
      expect(yield* told((c) => c.executeRaw("UPDATE commit_positions SET v = v + 1 WHERE id = -1", [])))
        .toBeUndefined()
      expect(yield* told((c) => c.execute("SELECT v FROM commit_positions WHERE id = ?", [id], undefined)))
        .toBeUndefined()
      // Several statements in one run: the last one's GTID (here none, a read after the write).
      expect(
        yield* told((c) =>
          Effect.zipRight(
            c.executeRaw("UPDATE commit_positions SET v = v + 1 WHERE id = ?", [id]),
            c.execute("SELECT v FROM commit_positions WHERE id = ?", [id], undefined)
          )
        )
      ).toBeUndefined()

      const committed = yield* Effect.scoped(Effect.gen(function*() {
        const reserved = yield* client.reserve
        yield* reserved.executeUnprepared("BEGIN", [], undefined)
        yield* reserved.executeRaw("UPDATE commit_positions SET v = v + 1 WHERE id = ?", [id])
        // Inside the transaction nothing is committed yet.
        expect(commits.lastCommit(reserved)).toBeUndefined()
        yield* reserved.executeUnprepared("COMMIT", [], undefined)
        return commits.lastCommit(reserved)
      }))
      expect(committed).toMatch(/^\d+-\d+-\d+$/)
      const [domain, , seq] = committed!.split("-")
      const [, , before] = inserted!.split("-")
      expect(domain).toBe(inserted!.split("-")[0])
      expect(BigInt(seq!)).toBeGreaterThan(BigInt(before!))
      // A replica that replays it answers MASTER_GTID_WAIT for this one GTID alone.
      const replica = yield* (yield* DatabaseAdapterFactory.create(replicaUrl)).makeClient({ readOnly: true })
      const [waited] = yield* replica.unsafe<{ w: unknown }>("SELECT MASTER_GTID_WAIT(?, 10) AS w", [committed])
      expect(Number(waited!.w)).toBe(0)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("16 concurrent writers each learn their own commit's GTID, in their commit order", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(primaryUrl, { config: { poolSize: 16 } })
      const client = yield* adapter.makeClient({ verify: true })
      const commits = client.commitPositions!
      yield* client.unsafe("CREATE TABLE IF NOT EXISTS commit_positions_order (id int PRIMARY KEY, v bigint NOT NULL)")
      const id = Date.now() % 1_000_000_000
      yield* client.unsafe("INSERT INTO commit_positions_order VALUES (?, 0)", [id])
      // Every writer bumps one counter row: its lock orders their commits, and LAST_INSERT_ID hands each writer its
      // rank in that order (the OK packet's insertId). Ranked, the GTIDs must then rise strictly: a writer that
      // learnt another's GTID would break the order or repeat a GTID. Each run goes on a while after its statement
      // (as a write's fiber may), so the other writers' replies arrive before it hands its GTID back.
      const writes = yield* Effect.forEach(
        Array.from({ length: 16 }, (_, i) => i),
        () =>
          commits.runCommitted((c) =>
            Effect.zipLeft(
              c.executeRaw("UPDATE commit_positions_order SET v = LAST_INSERT_ID(v + 1) WHERE id = ?", [id]),
              Effect.sleep("50 millis")
            )
          ),
        { concurrency: "unbounded" }
      )
      const ranked = writes
        .map(([result, gtid]) => ({ rank: Number((result as { insertId: number }).insertId), gtid: gtid! }))
        .sort((a, b) => a.rank - b.rank)
      expect(ranked.map((w) => w.rank)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1))
      for (const { gtid } of ranked) expect(gtid).toMatch(/^\d+-\d+-\d+$/)
      expect(new Set(ranked.map((w) => w.gtid.split("-")[0])).size).toBe(1)
      const seqs = ranked.map((w) => BigInt(w.gtid.split("-")[2]!))
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a retried run learns its own attempt's GTID; a fiber it forks tells it; a joined nested run keeps its own", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(primaryUrl)
      const client = yield* adapter.makeClient({ verify: true })
      const commits = client.commitPositions!
      yield* client.unsafe("CREATE TABLE IF NOT EXISTS commit_positions (id int PRIMARY KEY, v int)")
      const id = (Date.now() % 1_000_000_000) + 7
      yield* client.unsafe("INSERT INTO commit_positions VALUES (?, 0)", [id])
      // The first attempt commits, then fails; the retry sends no statement (its work found done): the run tells no
      // GTID, not the first attempt's.
      let attempts = 0
      const [, retried] = yield* Effect.retry(
        commits.runCommitted((c) =>
          attempts++ === 0
            ? Effect.zipRight(
              c.executeRaw("UPDATE commit_positions SET v = v + 1 WHERE id = ?", [id]),
              Effect.fail("lost" as const)
            )
            : Effect.void
        ),
        { times: 1 }
      )
      expect(attempts).toBe(2)
      expect(retried).toBeUndefined()
      // A statement run in a fiber of its own (as a deadline's `disconnect` does) tells the run that forked it.
      const [, forked] = yield* commits.runCommitted((c) =>
        Effect.disconnect(c.executeRaw("UPDATE commit_positions SET v = v + 1 WHERE id = ?", [id]))
      )
      expect(forked).toMatch(/^\d+-\d+-\d+$/)
      // A run nested in a fiber the run joins keeps its own cell: the outer run's later write still tells the outer.
      const [, outer] = yield* commits.runCommitted((c) =>
        Effect.zipRight(
          Effect.flatMap(
            Effect.fork(commits.runCommitted((inner) => inner.execute("SELECT 1", [], undefined))),
            Fiber.join
          ),
          c.executeRaw("UPDATE commit_positions SET v = v + 1 WHERE id = ?", [id])
        )
      )
      expect(outer).toMatch(/^\d+-\d+-\d+$/)
    }).pipe(Effect.provide(Reactivity.layer)))
})
