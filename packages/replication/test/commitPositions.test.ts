/**
 * Writes whose node tells their position with the write (`DatabaseAdapter.CommitPositions`: MariaDB's GTID in the OK
 * packet, PostgreSQL's position read after the COMMIT behind a pooler): the session records that position when the
 * write returns, with no position read; only a write (or COMMIT) that told none joins the shared position read
 * (ARCHITECTURE.md, "Read-your-writes").
 */
import type { Connection } from "@effect/sql/SqlConnection"
import { describe, expect, it } from "@effect/vitest"
import type { DatabaseAdapter } from "@fastorm/adapters"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Consistency from "../src/internal/consistency.js"
import * as Primary from "../src/internal/primary.js"
import * as RouteStats from "../src/internal/routeStats.js"
import { defaults } from "../src/ReadWriteConfig.js"
import * as SessionToken from "../src/SessionToken.js"

const mariadb = Consistency.forDialect("mysql")!

describe("committedPosition", () => {
  it.each([
    ["a GTID the OK packet told", "0-1-42", { kind: "gtid", value: "0-1-42" }],
    ["none told: read it", undefined, undefined],
    ["malformed: read it", "0-1-", undefined],
    ["a list is not what last_gtid holds: read it", "0-1-1,1-1-2", undefined]
  ])("%s", (_name, gtid, expected) => {
    expect(Consistency.committedPosition(mariadb, gtid)).toEqual(expected)
  })

  it("is of the node's own kind: a PostgreSQL node never records a GTID, a MariaDB node never an LSN", () => {
    expect(Consistency.committedPosition(Consistency.forDialect("postgresql")!, "0-1-42")).toBeUndefined()
    expect(Consistency.committedPosition(mariadb, "0/3000060")).toBeUndefined()
  })

  // PostgreSQL behind a pooler: the primary's position read after the write's COMMIT, in the write's batch.
  it.each([
    ["an LSN read after the COMMIT", "0/3000060", { kind: "lsn", value: "0/3000060" }],
    ["in lower case", "1a/b0", { kind: "lsn", value: "1A/B0" }],
    // Right after a page header: the boundary, as every position read is normalised.
    ["right after a page header", "0/3002018", { kind: "lsn", value: "0/3002000" }],
    ["none read: read it", undefined, undefined],
    ["not an LSN: read it", "0/", undefined],
    ["a GTID on PostgreSQL: read it", "0-1-42", undefined]
  ])("PostgreSQL: %s", (_name, lsn, expected) => {
    expect(Consistency.committedPosition(Consistency.forDialect("postgresql")!, lsn)).toEqual(expected)
  })

  it("a single GTID is covered by a replica exactly when it has replayed that sequence in that domain", () => {
    const token = Consistency.committedPosition(mariadb, "0-1-42")!
    expect(SessionToken.covers("0-1-42", token)).toBe(true)
    expect(SessionToken.covers("0-2-50,1-1-3", token)).toBe(true)
    expect(SessionToken.covers("0-1-41,1-1-900", token)).toBe(false)
    expect(SessionToken.covers("1-1-900", token)).toBe(false)
  })
})

/** A MariaDB-like node: `tell` is the GTID each write's OK packet carries; `sent` every statement it got. */
const fakeNode = (tell: () => string | undefined) => {
  const sent: Array<string> = []
  const reply = (sql: string): Effect.Effect<any> =>
    Effect.sync(() => {
      sent.push(sql)
      return /gtid_binlog_pos/.test(sql) ? [{ p: "0-1-100,1-3-7" }] : []
    })
  const connectionWith = (onCommit: (gtid: string | undefined) => void): Connection => {
    const run = (sql: string) =>
      Effect.tap(reply(sql), () => onCommit(/^(INSERT|UPDATE|COMMIT)/.test(sql) ? tell() : undefined))
    return {
      execute: (sql) => run(sql),
      executeRaw: (sql) => run(sql),
      executeValues: (sql) => run(sql),
      executeUnprepared: (sql) => run(sql),
      executeStream: () => Stream.empty
    }
  }
  const reservedLast: { gtid: string | undefined } = { gtid: undefined }
  const reserved = connectionWith((gtid) => {
    reservedLast.gtid = gtid
  })
  const pooled = connectionWith(() => undefined)
  const client = {
    connection: pooled,
    // The shared position read runs on the read path of the primary's client.
    reads: { connection: pooled, reserve: Effect.succeed(pooled), cut: () => 0 },
    reserve: Effect.succeed(reserved),
    statementDeadline: Duration.seconds(1),
    poolStatus: () => ({ open: 1, idle: 1, waiting: 0, max: 1 }),
    commitPositions: {
      // Told in the OK packet: no statement of its own.
      costsStatement: false,
      // A cell per run, as the adapters' client makes one: each run learns its own statements' GTID.
      runCommitted: <A, E, R>(use: (connection: Connection) => Effect.Effect<A, E, R>) =>
        Effect.suspend(() => {
          const cell: { gtid: string | undefined } = { gtid: undefined }
          const connection = connectionWith((gtid) => {
            cell.gtid = gtid
          })
          return Effect.map(use(connection), (value) => [value, cell.gtid] as const)
        }),
      lastCommit: (connection: Connection) => connection === reserved ? reservedLast.gtid : undefined
    }
  } as unknown as DatabaseAdapter.NodeClient
  return { primary: primaryOf(client, mariadb), sent }
}

const recorder = RouteStats.make("main")

const primaryOf = (client: DatabaseAdapter.NodeClient, consistency: Consistency.ConsistencyOps) =>
  Primary.make({
    cluster: "main",
    node: { name: "primary", client, weight: 1 },
    config: defaults,
    report: () => Effect.void,
    recheck: () => Effect.void,
    recorder,
    consistency
  })

const positionReads = (sent: ReadonlyArray<string>) => sent.filter((sql) => /gtid_binlog_pos/.test(sql)).length

describe("a MariaDB write's position", () => {
  it.effect("is the GTID its OK packet told, recorded with no position read", () =>
    Effect.gen(function*() {
      const { primary, sent } = fakeNode(() => "0-1-42")
      yield* primary.run("write", true, (c) => c.executeRaw("UPDATE t SET v = 1 WHERE id = 1", []))
      expect(yield* SessionToken.get("main")).toEqual(Option.some({ kind: "gtid", value: "0-1-42" }))
      expect(positionReads(sent)).toBe(0)
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("is merged with the session's earlier positions (other domains stay required)", () =>
    Effect.gen(function*() {
      const { primary } = fakeNode(() => "0-1-42")
      yield* SessionToken.record("main", { kind: "gtid", value: "1-3-7" })
      yield* primary.run("write", true, (c) => c.executeRaw("INSERT INTO t VALUES (1)", []))
      const position = Option.getOrThrow(yield* SessionToken.get("main"))
      expect(position.value.split(",").sort()).toEqual(["0-1-42", "1-3-7"])
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("is read (the shared read) when the OK packet told none", () =>
    Effect.gen(function*() {
      const { primary, sent } = fakeNode(() => undefined)
      yield* primary.run("write", true, (c) => c.executeRaw("UPDATE t SET v = 1 WHERE id = 1", []))
      expect(yield* SessionToken.get("main")).toEqual(Option.some({ kind: "gtid", value: "0-1-100,1-3-7" }))
      expect(positionReads(sent)).toBe(1)
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("a transaction's COMMIT: the GTID the COMMIT told, else the shared read", () =>
    Effect.gen(function*() {
      let told: string | undefined = "0-1-77"
      const { primary, sent } = fakeNode(() => told)
      const commitOnce = Effect.scoped(
        Effect.flatMap(primary.transaction, (c) => c.executeUnprepared("COMMIT", [], undefined))
      )
      yield* commitOnce
      expect(yield* SessionToken.get("main")).toEqual(Option.some({ kind: "gtid", value: "0-1-77" }))
      expect(positionReads(sent)).toBe(0)
      told = undefined
      yield* commitOnce
      // The shared read is awaited by the session's next read (here `get`): the later of both positions.
      const position = Option.getOrThrow(yield* SessionToken.get("main"))
      expect(position.value.split(",").sort()).toEqual(["0-1-100", "1-3-7"])
      expect(positionReads(sent)).toBe(1)
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("reads record nothing", () =>
    Effect.gen(function*() {
      const { primary, sent } = fakeNode(() => "0-1-42")
      yield* primary.run("primary", false, (c) => c.execute("SELECT 1", [], undefined))
      expect(yield* SessionToken.get("main")).toEqual(Option.none())
      expect(sent).toEqual(["SELECT 1"])
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))
})

/**
 * A PostgreSQL-like node: a COMMIT sent as `COMMIT; <position read>` answers `committed` (undefined: no row), and
 * the shared position read on the pooled connection answers `shared`.
 */
const pgNode = (committed: () => string | undefined, shared: string) => {
  const sent: Array<string> = []
  const connection = (sql: string): Effect.Effect<any> =>
    Effect.sync(() => {
      sent.push(sql)
      if (sql.startsWith("COMMIT;")) {
        const lsn = committed()
        return [[], lsn === undefined ? [] : [{ p: lsn }]]
      }
      return /wal_/.test(sql) ? [{ p: shared }] : []
    })
  const pooled: Connection = {
    execute: (sql) => connection(sql),
    executeRaw: (sql) => connection(sql),
    executeValues: (sql) => connection(sql),
    executeUnprepared: (sql) => connection(sql),
    executeStream: () => Stream.empty
  }
  const client = {
    connection: pooled,
    reads: { connection: pooled, reserve: Effect.succeed(pooled), cut: () => 0 },
    reserve: Effect.succeed(pooled),
    statementDeadline: Duration.seconds(1),
    poolStatus: () => ({ open: 1, idle: 1, waiting: 0, max: 1 })
  } as unknown as DatabaseAdapter.NodeClient
  return { primary: primaryOf(client, Consistency.forDialect("postgresql")!), sent }
}

const lsn = (value: string): SessionToken.Position => ({ kind: "lsn", value })

const tokensNow = Effect.map(FiberRef.get(SessionToken.currentTokens), (tokens) => ({
  recorded: tokens["main"],
  pending: SessionToken.pendingOf(tokens)["main"]?.length ?? 0
}))

/** Notes the current session (which has written) as one that reads after its writes. */
const noteReads = Effect.map(
  FiberRef.get(SessionToken.currentTokens),
  (tokens) => SessionToken.noteReadAfterWrite(tokens, "main")
)

/** Makes the current session one that has read after its writes (its COMMITs then carry their position). */
const readsAfterItsWrites = Effect.zipRight(SessionToken.record("main", lsn("0/1")), noteReads)

describe("a PostgreSQL transaction's COMMIT position", () => {
  const commit = (primary: Primary.Primary) =>
    Effect.scoped(Effect.flatMap(primary.transaction, (c) => c.executeUnprepared("COMMIT", [], undefined)))

  it.effect("a session that has not read after its writes: a plain COMMIT, the shared read pending", () =>
    Effect.gen(function*() {
      const { primary, sent } = pgNode(() => "0/3A0", "0/100")
      yield* commit(primary)
      expect(sent).toEqual(["COMMIT"])
      expect(yield* tokensNow).toEqual({ recorded: undefined, pending: 1 })
      expect(yield* SessionToken.get("main")).toEqual(Option.some(lsn("0/100")))
      // Once it has read after a write, its COMMIT carries the position.
      yield* readsAfterItsWrites
      yield* commit(primary)
      expect(sent.slice(-1)[0]?.startsWith("COMMIT;")).toBe(true)
      expect(yield* tokensNow).toEqual({ recorded: lsn("0/3A0"), pending: 0 })
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("is recorded when the COMMIT returns (the same call as a MariaDB GTID): nothing pending", () =>
    Effect.gen(function*() {
      const { primary, sent } = pgNode(() => "0/3A0", "0/100")
      yield* readsAfterItsWrites
      yield* commit(primary)
      expect(yield* tokensNow).toEqual({ recorded: lsn("0/3A0"), pending: 0 })
      expect(sent.filter((sql) => !sql.startsWith("COMMIT;"))).toEqual([])
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("is merged with the session's earlier position: the later one stays", () =>
    Effect.gen(function*() {
      const { primary } = pgNode(() => "0/3A0", "0/100")
      yield* SessionToken.record("main", lsn("0/4B0"))
      yield* noteReads
      yield* commit(primary)
      expect(yield* SessionToken.get("main")).toEqual(Option.some(lsn("0/4B0")))
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("leaves an earlier write's pending read in place: the next read awaits both, the later wins", () =>
    Effect.gen(function*() {
      const { primary } = pgNode(() => "0/3A0", "0/5C0")
      // A write outside a transaction: its position is the shared read, pending.
      yield* primary.run("write", true, (c) => c.executeRaw("UPDATE t SET v = 1", []))
      yield* noteReads
      yield* commit(primary)
      const now = yield* tokensNow
      expect(now.recorded).toEqual(lsn("0/3A0"))
      expect(now.pending).toBe(1)
      expect(yield* SessionToken.get("main")).toEqual(Option.some(lsn("0/5C0")))
      expect((yield* tokensNow).pending).toBe(0)
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("came back empty: the shared read, pending until the session's next read", () =>
    Effect.gen(function*() {
      const { primary } = pgNode(() => undefined, "0/100")
      yield* readsAfterItsWrites
      yield* commit(primary)
      expect(yield* tokensNow).toEqual({ recorded: lsn("0/1"), pending: 1 })
      expect(yield* SessionToken.get("main")).toEqual(Option.some(lsn("0/100")))
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))
})
