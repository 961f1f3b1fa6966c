/**
 * The PostgreSQL probe: one dedicated `pg.Client` per node, kept open between probes and destroyed on any failure or
 * interruption, so the monitor holds at most one session per node.
 */
import type { ConnectionUrl as Url, Tls } from "@fastorm/adapters"
import { PostgreSQLAdapter } from "@fastorm/adapters"
import type { AdapterError } from "@fastorm/adapters"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type Pg from "pg"
import type { NodeProbe, ProbeResult, ProbeSettings } from "../Probe.js"
import * as Drivers from "./drivers.js"
import * as ProbeSession from "./probeSession.js"

/**
 * Role, position and lag in one statement. `pg_current_wal_lsn()` raises on a standby, so it sits in a CASE branch
 * (volatile functions are not folded). Lag is 0 when everything received has been replayed, otherwise the age of
 * the last replayed transaction; with no WAL receiver the replica is not replicating and its lag is unknown (NULL),
 * never 0. `pg_stat_wal_receiver` has a row only while the receiver runs; its columns are hidden from unprivileged
 * users but the row count is not. A primary's timeline is the first eight hex digits of its current WAL file's name
 * (`pg_walfile_name` is open to every user; `pg_control_checkpoint()` lags a promotion until the next checkpoint).
 */
export const probeSql = `SELECT pg_is_in_recovery() AS in_recovery,
  (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS position,
  (CASE WHEN pg_is_in_recovery() THEN NULL ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END) AS timeline,
  EXISTS (SELECT 1 FROM pg_stat_wal_receiver) AS receiving,
  CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
  END::float8 AS lag_seconds`

interface Row {
  readonly in_recovery: boolean
  readonly position: string | null
  readonly timeline?: string | null
  readonly receiving: boolean
  readonly lag_seconds: number | null
}

/** Reads the probe row. */
export const parseRow = (row: Row): ProbeResult =>
  row.in_recovery
    ? {
      role: "replica",
      replicating: row.receiving,
      lagSeconds: row.lag_seconds === null ? undefined : Math.max(0, row.lag_seconds),
      position: row.position ?? undefined
    }
    : {
      role: "primary",
      lagSeconds: 0,
      position: row.position ?? undefined,
      ...(typeof row.timeline === "string" && /^[0-9A-F]{8}$/i.test(row.timeline)
        ? { timeline: parseInt(row.timeline, 16) }
        : {})
    }

/** The probe's connection settings; behind a pooler that refused it, without the `statement_timeout` parameter. */
const clientConfig = (
  url: Url.ConnectionUrl,
  settings: ProbeSettings,
  tls: Tls.TlsSettings,
  behindPooler: boolean
): Pg.ClientConfig => {
  // Twice the monitor's timeout: the monitor's own (exact) timeout must always fire first, so a silent server is
  // reported as a Timeout rather than as whichever driver error won the race.
  const ms = Math.max(1, Math.round(2 * Duration.toMillis(settings.timeout)))
  const { ssl, sslnegotiation, stream } = PostgreSQLAdapter.tlsOptions(tls)
  return {
    host: url.host ?? "127.0.0.1",
    port: url.port ?? 5432,
    ...(url.database !== undefined ? { database: url.database } : {}),
    ...(url.username !== undefined ? { user: url.username } : {}),
    ...(url.password !== undefined ? { password: Redacted.value(url.password) } : {}),
    // The pools' TLS, exactly: a probe that connected differently could call a node healthy that the app cannot use.
    ssl,
    ...(stream === undefined ? {} : { stream }),
    ...(sslnegotiation === undefined ? {} : { sslnegotiation }),
    application_name: settings.applicationName,
    // Second lines of defence behind the monitor's own timeout: the server gives up on a stuck probe statement too
    // (not behind a pooler, which refuses the parameter: there the monitor's timeout alone bounds the probe).
    connectionTimeoutMillis: ms,
    ...(behindPooler ? {} : { statement_timeout: ms }),
    keepAlive: true
  }
}

/** Makes the probe of one PostgreSQL node; its connection lives until the scope closes. */
export const make = (
  name: string,
  url: Url.ConnectionUrl,
  settings: ProbeSettings,
  tls: Tls.TlsSettings
): Effect.Effect<NodeProbe, AdapterError.DriverNotInstalled, Scope.Scope> =>
  Effect.gen(function*() {
    const pg = yield* Drivers.pg
    const secrets = [url.password, ...Object.values(url.secretOptions)]
    const session = yield* ProbeSession.make<Pg.Client>(settings.maxLifetime, PostgreSQLAdapter.cutSocket)
    // Set when a pooler in front of the node refused a startup parameter: later sessions open without it.
    let behindPooler = false

    const run = ProbeSession.attempt(session, name, secrets, (probe) => {
      const query = (client: Pg.Client) =>
        client.query<Row>(probeSql, (error, result) => {
          if (error) probe.fail(client, error)
          else if (result.rows.length !== 1) probe.fail(client, new Error("the probe returned no row"))
          else probe.succeed(parseRow(result.rows[0]!))
        })

      const open = () => {
        const client = new pg.Client(clientConfig(url, settings, tls, behindPooler))
        session.open(client)
        // A session the server drops between probes emits "error"; unhandled, it would kill the process.
        client.on("error", () => session.drop(client))
        client.on("end", () => session.drop(client))
        client.connect((error: Error | undefined) => {
          if (error && !behindPooler && PostgreSQLAdapter.poolerAnswer(error)?._tag === "UnsupportedStartupParameter") {
            // Refused before anything was sent: connect again at once without it, within the same bound.
            behindPooler = true
            session.drop(client)
            return probe.done() ? undefined : open()
          }
          if (error) return probe.fail(client, error)
          session.connected(client)
          query(client)
        })
      }

      const reusable = session.reusable()
      if (reusable !== undefined) query(reusable)
      else open()
    })
    return { run }
  })
