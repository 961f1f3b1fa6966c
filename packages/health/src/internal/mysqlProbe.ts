/**
 * The MySQL / MariaDB probe: one dedicated mysql2 `Connection` per node, kept open between probes and destroyed on any
 * failure or interruption.
 *
 * Two statements on that one connection (mysql2 is used without `multipleStatements`, an injection amplifier):
 * 1. always, readable by any user: `@@read_only` (role), the GTID position, and the `Slave_running` status variable
 *    (ON only while both the IO and the SQL thread run);
 * 2. on a node that looks like a replica, `SHOW SLAVE STATUS` for `Seconds_Behind_Master` and the two thread states.
 *    It needs the SLAVE MONITOR (or SUPER) privilege; when the server refuses it once, the probe stops asking and
 *    reports replication from `Slave_running` with the lag unknown. Grant SLAVE MONITOR to the monitor's user to get
 *    lag figures.
 */
import type { ConnectionUrl as Url, Tls } from "@fastorm/adapters"
import { MySQLAdapter } from "@fastorm/adapters"
import type { AdapterError } from "@fastorm/adapters"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as Mysql from "mysql2"
import type { NodeProbe, ProbeResult, ProbeSettings } from "../Probe.js"
import * as Drivers from "./drivers.js"
import * as ProbeSession from "./probeSession.js"

/** The first statement on MariaDB. */
export const mariaDbSql = `SELECT @@read_only AS read_only, @@gtid_slave_pos AS position, @@server_id AS server_id,
  (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING') AS slave_running`

/** The first statement on MySQL, which has neither `gtid_slave_pos` nor the `Slave_running` variable. */
export const mysqlSql =
  `SELECT @@read_only AS read_only, @@global.gtid_executed AS position, @@server_id AS server_id, NULL AS slave_running`

interface FirstRow {
  readonly read_only: number | string | null
  readonly position: string | null
  readonly server_id?: number | string | null
  readonly slave_running: string | null
}

type StatusRow = Record<string, unknown>

const num = (u: unknown): number | undefined => {
  if (u === null || u === undefined || u === "") return undefined
  const n = Number(u)
  return Number.isFinite(n) ? n : undefined
}

/** Reads both statements' results; `status` is undefined when `SHOW SLAVE STATUS` was not run or not allowed. */
export const parse = (first: FirstRow, status: ReadonlyArray<StatusRow> | undefined): ProbeResult => {
  const serverId = num(first.server_id)
  const ids = serverId === undefined ? {} : { serverId }
  return { ...parseRole(first, status), ...ids }
}

const parseRole = (first: FirstRow, status: ReadonlyArray<StatusRow> | undefined): ProbeResult => {
  const readOnly = num(first.read_only) === 1
  const position = first.position === null || first.position === "" ? undefined : String(first.position)
  const slaveRunning = first.slave_running === null ? undefined : String(first.slave_running).toUpperCase() === "ON"
  if (status === undefined) {
    if (!readOnly && slaveRunning !== true) return { role: "primary", lagSeconds: 0, position }
    // Without SHOW SLAVE STATUS the lag is unknown, and must not be reported as 0.
    return { role: readOnly ? "replica" : "primary", replicating: slaveRunning, lagSeconds: undefined, position }
  }
  const row = status[0]
  if (row === undefined) {
    // No replication configured at all.
    return readOnly
      ? { role: "replica", replicating: false, lagSeconds: undefined, position }
      : { role: "primary", lagSeconds: 0, position }
  }
  const io = String(row.Slave_IO_Running ?? row.Replica_IO_Running ?? "")
  const sql = String(row.Slave_SQL_Running ?? row.Replica_SQL_Running ?? "")
  const behind = num(row.Seconds_Behind_Master ?? row.Seconds_Behind_Source)
  const source = num(row.Master_Server_Id ?? row.Source_Server_Id)
  // Seconds_Behind_Master is NULL whenever a thread is stopped: not replicating, lag unknown, never 0.
  const replicating = io === "Yes" && sql === "Yes" && behind !== undefined
  return {
    role: readOnly ? "replica" : "primary",
    replicating,
    lagSeconds: replicating ? behind : undefined,
    position,
    ...(source === undefined || source === 0 ? {} : { sourceServerId: source })
  }
}

const isMariaDb = (conn: Mysql.Connection, url: Url.ConnectionUrl): boolean => {
  // mysql2 keeps the server's greeting (e.g. "5.5.5-10.11.6-MariaDB") on the connection.
  const version = (conn as unknown as { _handshakePacket?: { serverVersion?: string } | null })._handshakePacket
    ?.serverVersion
  return typeof version === "string" ? /mariadb/i.test(version) : url.productHint === "mariadb"
}

// ER_SPECIFIC_ACCESS_DENIED_ERROR (1227) and ER_SPECIFIC_ACCESS_DENIED (MySQL 8 wording).
const isPrivilegeError = (error: unknown): boolean => {
  const e = error as { errno?: unknown; code?: unknown }
  return e.errno === 1227 || e.code === "ER_SPECIFIC_ACCESS_DENIED_ERROR"
}

/** Makes the probe of one MySQL / MariaDB node; its connection lives until the scope closes. */
export const make = (
  name: string,
  url: Url.ConnectionUrl,
  settings: ProbeSettings,
  tls: Tls.TlsSettings
): Effect.Effect<NodeProbe, AdapterError.DriverNotInstalled, Scope.Scope> =>
  Effect.gen(function*() {
    const mysql = yield* Drivers.mysql
    const secrets = [url.password, ...Object.values(url.secretOptions)]
    // The pools' TLS, exactly: a probe that connected differently could call a node healthy that the app cannot use.
    const { ssl, stream } = MySQLAdapter.tlsOptions(tls)
    const session = yield* ProbeSession.make<Mysql.Connection>(settings.maxLifetime, (conn) => conn.destroy())
    // Learnt once: the server refused SHOW SLAVE STATUS to this user.
    let statusDenied = false

    const run = ProbeSession.attempt(session, name, secrets, (attempt) => {
      const probe = (conn: Mysql.Connection) => {
        const first = isMariaDb(conn, url) ? mariaDbSql : mysqlSql
        conn.query(first, (error, rows) => {
          if (attempt.done()) return
          if (error) return attempt.fail(conn, error)
          const row = (rows as unknown as ReadonlyArray<FirstRow>)[0]
          if (row === undefined) return attempt.fail(conn, new Error("the probe returned no row"))
          const looksReplica = num(row.read_only) === 1 || String(row.slave_running ?? "").toUpperCase() === "ON"
          if (!looksReplica || statusDenied) return attempt.succeed(parse(row, undefined))
          const show = isMariaDb(conn, url) ? "SHOW SLAVE STATUS" : "SHOW REPLICA STATUS"
          conn.query(show, (error2, status) => {
            if (attempt.done()) return
            if (error2 && isPrivilegeError(error2)) {
              statusDenied = true
              return attempt.succeed(parse(row, undefined))
            }
            if (error2) return attempt.fail(conn, error2)
            attempt.succeed(parse(row, status as unknown as ReadonlyArray<StatusRow>))
          })
        })
      }

      const reusable = session.reusable()
      if (reusable !== undefined) {
        probe(reusable)
      } else {
        const conn = mysql.createConnection({
          host: url.host ?? "127.0.0.1",
          port: url.port ?? 3306,
          // No database: the probe reads only server variables, and a monitoring user needs no access to the data.
          ...(url.username !== undefined ? { user: url.username } : {}),
          ...(url.password !== undefined ? { password: Redacted.value(url.password) } : {}),
          ...(ssl === undefined ? {} : { ssl }),
          ...(stream === undefined ? {} : { stream }),
          // A second line only: the monitor's own timeout (half this) fires first and destroys the connection.
          connectTimeout: Math.max(1, Math.round(2 * Duration.toMillis(settings.timeout))),
          enableKeepAlive: true,
          multipleStatements: false
        })
        session.open(conn)
        // A connection the server drops between probes emits "error"; unhandled, it would kill the process.
        conn.on("error", () => session.drop(conn))
        conn.on("end", () => session.drop(conn))
        conn.connect((error) => {
          if (error) return attempt.fail(conn, error)
          session.connected(conn)
          probe(conn)
        })
      }
    })
    return { run }
  })
