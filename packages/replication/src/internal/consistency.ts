/**
 * Read-your-writes per dialect: reading a position of the primary that covers the writes before it (on any of its
 * connections), and asking a replica whether (or waiting until) it has replayed it (ARCHITECTURE.md,
 * "Read-your-writes").
 */
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type { DatabaseAdapter, Dialect } from "@fastorm/adapters"
import { PostgreSQLAdapter } from "@fastorm/adapters"
import { CompiledStatement } from "@fastorm/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Position } from "../SessionToken.js"
import { covers, later } from "../SessionToken.js"
import { gtidPattern, lsnPattern } from "./positions.js"

/** What the router needs of a dialect for session consistency; SQLite needs nothing (one file). */
export interface ConsistencyOps {
  /** The kind of position the dialect reports: a PostgreSQL LSN or a MariaDB GTID list. */
  readonly kind: "lsn" | "gtid"
  /**
   * The primary's position, read on any of its connections: it covers every write that committed before it was
   * read, on every connection (so one read serves every session that wrote since the last one).
   */
  readonly latest: (connection: Connection) => Effect.Effect<Position | undefined, SqlError>
  /**
   * The position read in the COMMIT's own round trip, where the driver runs several statements in one query: the
   * statement sent as `COMMIT; <sql>`, and the position taken from its results. A position read on the committing
   * connection right after its COMMIT covers that commit, and costs no other statement, connection or fiber.
   */
  readonly withCommit?: {
    readonly sql: string
    readonly position: (results: ReadonlyArray<any>) => Position | undefined
  } | undefined
  /**
   * A look at the replica's replay position that travels in front of a session read, in the read's own round trip
   * (`NodeReads.leading`): its SQL for `token` (undefined: this token cannot be carried), and what its rows say: the
   * position the replica has replayed when it covers `token`, else undefined (the read is then thrown away). Where it
   * `waits` (up to `timeout`, on the server), undefined means the wait gave up and the session reads elsewhere; where
   * it only polls, the session waits as usual. Only where the read's snapshot is taken after the look.
   */
  readonly carried?: {
    readonly sql: (token: Position, timeout: Duration.Duration) => string | undefined
    readonly replayed: (rows: ReadonlyArray<DatabaseAdapter.TextRow>, token: Position) => Position | undefined
    readonly waits: boolean
  } | undefined
  /**
   * Waits up to `timeout` until the replica has replayed `token`, on the replica's pooled connection. Caught up: the
   * position the replica showed it has replayed (PostgreSQL's replay LSN, MariaDB's `@@gtid_slave_pos` with `token`:
   * often past `token`, so later sessions' waits there can be skipped); undefined when it did not catch up in time.
   * Every statement is bounded by the wait's own bound plus `WAIT_MARGIN_MS` (`CompiledStatement.executeWithin`), so a
   * frozen replica costs the caller no more than that, with no fiber raced against it. Once `abandoned` says so (the
   * monitor found the replica failing), no further statement starts: the wait ends, not caught up.
   */
  readonly waitFor: (
    replica: Connection,
    token: Position,
    timeout: Duration.Duration,
    abandoned: () => boolean
  ) => Effect.Effect<Position | undefined, SqlError>
}

/** How long past its bound a wait's last statement may take: a replica that has not answered by then is given up. */
export const WAIT_MARGIN_MS = 250

const PAGE = 8192
const SEGMENT = 16 * 1024 * 1024
const SHORT_HEADER = 24
const LONG_HEADER = 40

/**
 * The insert position right after a page header means "the page boundary": no record lies in between, but a
 * replica reports the boundary itself as its replay end, and would never look caught up on an idle primary. Pages and
 * segments divide 2^32, so the low half of the LSN tells (no BigInt: a position is read after most writes).
 */
export const normaliseLsn = (lsn: string): string => {
  const slash = lsn.indexOf("/")
  const lo = parseInt(lsn.slice(slash + 1), 16)
  const back = lo % SEGMENT === LONG_HEADER ? LONG_HEADER : lo % PAGE === SHORT_HEADER ? SHORT_HEADER : 0
  if (back === 0) return lsn
  return `${parseInt(lsn.slice(0, slash), 16).toString(16).toUpperCase()}/${(lo - back).toString(16).toUpperCase()}`
}

const firstValue = (rows: ReadonlyArray<any>): string | undefined => {
  const row = rows[0] as Record<string, unknown> | undefined
  const value = row === undefined ? undefined : Object.values(row)[0]
  return value === null || value === undefined || value === "" ? undefined : String(value)
}

// A commit returns after its WAL is flushed, so the flush position covers it; the insert position would also
// cover records other sessions have not flushed yet (up to wal_writer_delay away). With synchronous_commit off
// the commit returns before the flush, and only the insert position is safe. The adapters read the same behind a
// pooler, after a write's COMMIT in its batch (`DatabaseAdapter.CommitPositions`).
const PG_POSITION = PostgreSQLAdapter.commitPosition

const pgPositionOf = (rows: ReadonlyArray<any>): Position | undefined => {
  const lsn = firstValue(rows)
  return lsn === undefined ? undefined : { kind: "lsn" as const, value: normaliseLsn(lsn) }
}

// Prepared where the node prepares: the primary's position is read after most writes, parsed once per connection.
const pgPositionStatement = CompiledStatement.make(PG_POSITION)
const pgPosition = (connection: Connection) =>
  Effect.map(CompiledStatement.executeOn(connection, pgPositionStatement, []), pgPositionOf)

/** A replica's replay LSN as a position, when it covers `token`. */
const replayedTo = (lsn: string, token: Position): Position | undefined =>
  covers(lsn, token) ? { kind: "lsn", value: lsn } : undefined

const postgres: ConsistencyOps = {
  kind: "lsn",
  // The flush (or insert) position is the server's, not the session's: the same read serves any connection.
  latest: pgPosition,
  // Simple protocol (no parameters): `COMMIT; SELECT ...` is one query and one round trip; pg gives one result per
  // statement, the position in the last.
  withCommit: {
    sql: PG_POSITION,
    position: (results) => {
      const last = results[results.length - 1]
      return Array.isArray(last) ? pgPositionOf(last) : undefined
    }
  },
  // The poll and the read go under one Sync, in one implicit transaction: under READ COMMITTED each statement takes
  // its own snapshot, the read's after the poll has run. Under REPEATABLE READ or SERIALIZABLE (a default the
  // connection was given) both would share the poll's snapshot, taken before it read the replay position: the poll
  // then says nothing of the read, which is thrown away. (On a pipelined connection each has a Sync of its own, and
  // the read's snapshot follows the poll under any level: the check then only costs such a connection its reads.)
  carried: {
    sql: () => "SELECT pg_last_wal_replay_lsn()::text, current_setting('transaction_isolation')",
    replayed: (rows, token) => {
      const [lsn, isolation] = rows[0] ?? []
      return isolation === "read committed" && typeof lsn === "string" ? replayedTo(lsn, token) : undefined
    },
    waits: false
  },
  // Replay, never receive: received-but-not-replayed rows are invisible. PostgreSQL 15 has no server-side wait: poll,
  // backing off from 2 ms to 50 ms, until the bound. No sleep starts past it and no poll after it; each poll is
  // bounded by what is left of the bound plus the margin (no answer in time: not caught up). A replica found failing
  // between two polls gets no further poll: the monitor's cut ends a poll in flight, but a poll sent after it, on an
  // idle connection to a frozen server, would wait out its bound.
  waitFor: (replica, token, timeout, abandoned) => {
    const replayed = (boundMs: number) =>
      Effect.map(
        CompiledStatement.executeWithin(replica, replayLsn, [], boundMs),
        (rows) => {
          const lsn = rows === undefined ? undefined : firstValue(rows)
          return lsn === undefined ? undefined : replayedTo(lsn, token)
        }
      )
    const poll = (delayMs: number, deadline: number, boundMs: number): Effect.Effect<Position | undefined, SqlError> =>
      Effect.flatMap(replayed(boundMs), (done) =>
        done !== undefined
          ? Effect.succeed(done)
          : Effect.flatMap(Clock.currentTimeMillis, (now) =>
            now + delayMs >= deadline
              ? Effect.succeed(undefined)
              : Effect.zipRight(
                Effect.sleep(delayMs),
                Effect.suspend(() =>
                  abandoned()
                    ? Effect.succeed(undefined)
                    : poll(Math.min(delayMs * 1.6, 50), deadline, deadline + WAIT_MARGIN_MS - now - delayMs)
                )
              )))
    const timeoutMs = Duration.toMillis(timeout)
    return Effect.flatMap(Clock.currentTimeMillis, (now) => poll(2, now + timeoutMs, timeoutMs + WAIT_MARGIN_MS))
  }
}

// Compiled once: direct on FastORM's node clients (prepared where the node prepares), no statement span machinery.
const replayLsn = CompiledStatement.make("SELECT pg_last_wal_replay_lsn()::text AS p")
// The replica's own position comes back with the wait's outcome: what it shows it has replayed, every domain.
const gtidWait = CompiledStatement.make("SELECT MASTER_GTID_WAIT(?, ?) AS w, @@gtid_slave_pos AS p")
const gtidPosition = CompiledStatement.make("SELECT @@gtid_binlog_pos AS p")

const mariadb: ConsistencyOps = {
  kind: "gtid",
  // @@gtid_binlog_pos: the last GTID of each replication domain in the primary's binary log, every session's; a
  // commit is in the binary log before it returns to its client.
  latest: (connection) =>
    Effect.map(CompiledStatement.executeOn(connection, gtidPosition, []), (rows) => {
      const gtid = firstValue(rows)
      return gtid === undefined ? undefined : { kind: "gtid" as const, value: gtid }
    }),
  // The wait itself travels in front of the read: two commands in one round trip (`mysqlLead.ts`), the read run once
  // the wait has returned. A poll alone would mostly find the replica behind: MariaDB replays a commit later than the
  // session's next read reaches the replica (BENCHMARKS.md, lever 42). The token goes into the text (a GTID list is
  // digits, dashes and commas, checked here: anything else is not carried). The columns are named: mysql2 compiles a
  // row parser per set of column names, and a column named after its expression would be named after the token (a
  // parser compiled and cached for every wait). Outside a transaction each statement is a transaction of its own,
  // whose snapshot is taken when it starts: the read's after the wait. Inside one (a session with autocommit off) the
  // snapshot may predate it: `@@in_transaction` then says so, and the read is thrown away.
  carried: {
    sql: (token, timeout) =>
      token.kind === "gtid" && gtidPattern.test(token.value)
        ? `SELECT MASTER_GTID_WAIT('${token.value}', ${
          Duration.toMillis(timeout) / 1000
        }) AS w, @@gtid_slave_pos AS p, @@in_transaction AS t`
        : undefined,
    replayed: (rows, token) => {
      const [outcome, position, inTransaction] = rows[0] ?? []
      if (outcome !== "0" || inTransaction !== "0") return undefined
      return typeof position === "string" && position !== "" ? later(token, { kind: "gtid", value: position }) : token
    },
    waits: true
  },
  // MASTER_GTID_WAIT waits on the server: 0 applied, -1 timed out. Only ever sent to replicas. The client's bound
  // (the margin past the server's) is for a replica that does not answer at all.
  waitFor: (replica, token, timeout) =>
    Effect.map(
      CompiledStatement.executeWithin(
        replica,
        gtidWait,
        [token.value, Duration.toMillis(timeout) / 1000],
        Duration.toMillis(timeout) + WAIT_MARGIN_MS
      ),
      (rows) => {
        const row = rows?.[0] as { readonly w?: unknown; readonly p?: unknown } | undefined
        if (row === undefined || Number(row.w) !== 0) return undefined
        // Read after the wait or not, both are replayed: the token (the wait says so) and `p` (the replica does).
        return typeof row.p === "string" && row.p !== "" ? later(token, { kind: "gtid", value: row.p }) : token
      }
    )
}

/**
 * The position of a write whose node told it with the write (`DatabaseAdapter.CommitPositions`), or undefined: the
 * position must then be read (`latest`). MariaDB's is the GTID its commit was given (`last_gtid` in the OK packet): a
 * single GTID is a valid position, a replica covers it once it has replayed that sequence number in that domain
 * (`covers`, `MASTER_GTID_WAIT`), that is this commit and, in its domain, every commit before it; recorded with
 * `later`, the session's earlier positions in other domains stay required too. PostgreSQL's is the primary's
 * position read just after the write (on its lane, or after its COMMIT in its batch behind a pooler), normalised as
 * every position read is.
 */
export const committedPosition = (ops: ConsistencyOps, committed: string | undefined): Position | undefined => {
  if (committed === undefined) return undefined
  if (ops.kind === "gtid") return /^\d+-\d+-\d+$/.test(committed) ? { kind: "gtid", value: committed } : undefined
  return lsnPattern.test(committed)
    ? { kind: "lsn", value: normaliseLsn(committed.toUpperCase()) }
    : undefined
}

/** The consistency operations of a dialect; undefined for SQLite, whose readers see every commit. */
export const forDialect = (dialect: Dialect.Dialect): ConsistencyOps | undefined =>
  dialect === "postgresql" ? postgres : dialect === "mysql" ? mariadb : undefined
