/**
 * What FastORM's own failover does to the servers, per dialect, over an admin connection to each node: ask a replica
 * whether it lost its primary and what it received, promote one, re-point the others, fence an old primary that comes
 * back (ARCHITECTURE.md, "Topology"). Every operation is idempotent: a second app instance that does the same work a
 * moment later changes nothing.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { compareLsn, covers } from "../../SessionToken.js"

/** Where a node listens, for re-pointing the others at it. */
export interface Endpoint {
  readonly host: string
  readonly port: number
}

/** The operations of one dialect. */
export interface FailoverOps {
  /** The node is a replica that lost its primary (no WAL receiver streaming; IO thread down). */
  readonly lostPrimary: (admin: SqlClient.SqlClient) => Effect.Effect<boolean, SqlError>
  /** What the replica received (applied before it takes writes), as a position `compare` orders. */
  readonly received: (admin: SqlClient.SqlClient) => Effect.Effect<string | undefined, SqlError>
  /** The node takes writes. */
  readonly writable: (admin: SqlClient.SqlClient) => Effect.Effect<boolean, SqlError>
  /** Makes the replica the primary, after it applied what it received. A node already writable is left alone. */
  readonly promote: (admin: SqlClient.SqlClient) => Effect.Effect<void, SqlError>
  /** Makes a replica replicate from `primary` (whose admin connection is `primaryAdmin`). */
  readonly repoint: (
    admin: SqlClient.SqlClient,
    primary: Endpoint,
    primaryAdmin: SqlClient.SqlClient
  ) => Effect.Effect<void, SqlError>
  /** Makes an old primary that came back read-only, so nothing writes to it. */
  readonly fence: (admin: SqlClient.SqlClient) => Effect.Effect<void, SqlError>
  /** Orders two positions of `received`. */
  readonly compare: (a: string, b: string) => number
}

const first = <A>(rows: ReadonlyArray<A>): A | undefined => rows[0]

const value = (row: Record<string, unknown> | undefined, key: string): unknown => row?.[key]

/** A string literal for a statement that takes no parameters (ALTER SYSTEM, CHANGE MASTER TO). */
const literal = (text: string): string => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`

/** `primary_conninfo` with its host and port replaced (libpq keyword=value pairs, values optionally quoted). */
export const withEndpoint = (conninfo: string, primary: Endpoint): string => {
  const pairs = conninfo.match(/\w+\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S+)/g) ?? []
  const kept = pairs.filter((pair) => !/^(host|hostaddr|port)\s*=/.test(pair))
  return [...kept, `host=${primary.host}`, `port=${primary.port}`].join(" ")
}

const postgres: FailoverOps = {
  lostPrimary: (admin) =>
    Effect.map(
      admin.unsafe<{ lost: boolean }>(
        "SELECT pg_is_in_recovery() AND NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS lost"
      ),
      (rows) => first(rows)?.lost === true
    ),
  received: (admin) =>
    Effect.map(
      admin.unsafe<{ p: string | null }>(
        "SELECT COALESCE(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text AS p"
      ),
      (rows) => first(rows)?.p ?? undefined
    ),
  writable: (admin) =>
    Effect.map(admin.unsafe<{ w: boolean }>("SELECT NOT pg_is_in_recovery() AS w"), (rows) => first(rows)?.w === true),
  promote: (admin) =>
    Effect.flatMap(postgres.writable(admin), (already) =>
      // pg_promote waits (up to 60 s) until the node takes writes: it replays what it received first.
      already ? Effect.void : Effect.asVoid(admin.unsafe("SELECT pg_promote(true, 60)"))),
  repoint: (admin, primary, primaryAdmin) =>
    Effect.gen(function*() {
      // The replica streams through a replication slot: the new primary must have one of that name first.
      const slot = String(
        value(first(yield* admin.unsafe<Record<string, unknown>>("SHOW primary_slot_name")), "primary_slot_name") ?? ""
      )
      if (slot !== "") {
        yield* primaryAdmin.unsafe(
          "SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS " +
            "(SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
          [slot]
        )
      }
      const conninfo = String(
        value(first(yield* admin.unsafe<Record<string, unknown>>("SHOW primary_conninfo")), "primary_conninfo") ?? ""
      )
      // A change of primary_conninfo restarts the WAL receiver (PostgreSQL 13+); recovery follows the new timeline.
      yield* admin.unsafe(`ALTER SYSTEM SET primary_conninfo = ${literal(withEndpoint(conninfo, primary))}`)
      yield* admin.unsafe("SELECT pg_reload_conf()")
    }),
  fence: (admin) =>
    Effect.zipRight(
      admin.unsafe("ALTER SYSTEM SET default_transaction_read_only = on"),
      Effect.asVoid(admin.unsafe("SELECT pg_reload_conf()"))
    ),
  compare: compareLsn
}

const slaveStatus = (admin: SqlClient.SqlClient) =>
  Effect.map(admin.unsafe<Record<string, unknown>>("SHOW SLAVE STATUS"), first)

const mariadb: FailoverOps = {
  lostPrimary: (admin) =>
    Effect.flatMap(mariadb.writable(admin), (writable) =>
      writable
        ? Effect.succeed(false)
        : Effect.map(slaveStatus(admin), (row) => row === undefined || value(row, "Slave_IO_Running") !== "Yes")),
  received: (admin) =>
    Effect.map(slaveStatus(admin), (row) => {
      const pos = String(value(row, "Gtid_IO_Pos") ?? "")
      return pos === "" ? undefined : pos
    }),
  writable: (admin) =>
    Effect.map(admin.unsafe<{ w: unknown }>("SELECT @@read_only AS w"), (rows) => Number(first(rows)?.w) === 0),
  promote: (admin) =>
    Effect.gen(function*() {
      if (yield* mariadb.writable(admin)) return
      // What the IO thread fetched is applied before the node takes writes, so no transaction it had is lost.
      yield* admin.unsafe("STOP SLAVE IO_THREAD")
      const fetched = String(value(yield* slaveStatus(admin), "Gtid_IO_Pos") ?? "")
      if (fetched !== "") yield* admin.unsafe("SELECT MASTER_GTID_WAIT(?, 60)", [fetched])
      yield* admin.unsafe("STOP SLAVE")
      yield* admin.unsafe("RESET SLAVE ALL")
      yield* admin.unsafe("SET GLOBAL read_only = 0")
    }),
  repoint: (admin, primary) =>
    Effect.gen(function*() {
      const row = yield* slaveStatus(admin)
      if (
        value(row, "Master_Port") !== undefined && Number(value(row, "Master_Port")) === primary.port &&
        value(row, "Master_Host") === primary.host
      ) return
      yield* admin.unsafe("STOP SLAVE")
      // The user and password of the replication connection stay as they were.
      yield* admin.unsafe(
        `CHANGE MASTER TO MASTER_HOST=${literal(primary.host)}, MASTER_PORT=${Math.trunc(primary.port)}, ` +
          "MASTER_USE_GTID=slave_pos"
      )
      yield* admin.unsafe("START SLAVE")
    }),
  fence: (admin) => Effect.asVoid(admin.unsafe("SET GLOBAL read_only = 1")),
  compare: (a, b) => {
    const ab = covers(a, { kind: "gtid", value: b })
    const ba = covers(b, { kind: "gtid", value: a })
    return ab && !ba ? 1 : ba && !ab ? -1 : 0
  }
}

/** The operations of a dialect with replication. */
export const forDialect = (dialect: "postgresql" | "mysql"): FailoverOps =>
  dialect === "postgresql" ? postgres : mariadb
