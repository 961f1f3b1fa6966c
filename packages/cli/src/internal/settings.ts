/**
 * The session settings FastORM applies on each dialect (the adapters' `OptimalConfig`), and how to read them back
 * from a live session, so `fastorm doctor` shows what the server actually runs with.
 */
import type { DatabaseAdapter } from "@fastorm/adapters"
import { OptimalConfig } from "@fastorm/adapters"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { matches, normalise } from "./settingValues.js"

/** One setting: what FastORM applies, what the server reports. */
export interface Setting {
  readonly name: string
  readonly applied: string
  readonly readBack: string | null
  readonly ok: boolean
}

const ms = (d: Duration.Duration) => String(Math.round(Duration.toMillis(d)))

/**
 * The expected values of a configuration, by the server's own setting names and units; its `serverSettings` are
 * named as the servers list them already (in lower case, `OptimalConfig.merge`).
 */
export const expected = (config: OptimalConfig.OptimalConfig, isMariaDb: boolean): Record<string, string> => ({
  ...ownSettings(config, isMariaDb),
  ...(config.dialect === "sqlite" ? {} : config.serverSettings)
})

const ownSettings = (config: OptimalConfig.OptimalConfig, isMariaDb: boolean): Record<string, string> => {
  switch (config.dialect) {
    case "postgresql":
      return {
        statement_timeout: ms(config.statementTimeout),
        lock_timeout: ms(config.lockTimeout),
        idle_in_transaction_session_timeout: ms(config.idleInTransactionTimeout),
        application_name: config.applicationName,
        jit: config.jit ? "on" : "off",
        ...(config.searchPath === undefined ? {} : { search_path: config.searchPath })
      }
    case "mysql": {
      const zone = OptimalConfig.sessionTimeZone(config)
      return {
        ...(isMariaDb
          ? { max_statement_time: String(Duration.toSeconds(config.statementTimeout)) }
          : { max_execution_time: ms(config.statementTimeout) }),
        net_read_timeout: String(Math.max(1, Math.ceil(Duration.toSeconds(config.readTimeout)))),
        net_write_timeout: String(Math.max(1, Math.ceil(Duration.toSeconds(config.writeTimeout)))),
        character_set_connection: config.charset,
        collation_connection: config.collation,
        ...(zone === undefined ? {} : { time_zone: zone })
      }
    }
    case "sqlite":
      return {
        journal_mode: config.journalMode,
        foreign_keys: config.foreignKeys ? "1" : "0",
        busy_timeout: ms(config.busyTimeout)
      }
  }
}

/** A setting as the server reads it back, with its unit where the server keeps one (PostgreSQL). */
interface Read {
  readonly value: unknown
  readonly unit: string | null
}

const readAll = (
  client: DatabaseAdapter.NodeClient,
  dialect: OptimalConfig.OptimalConfig["dialect"],
  names: ReadonlyArray<string>
): Effect.Effect<Record<string, Read>, unknown> => {
  switch (dialect) {
    case "postgresql":
      // pg_settings has the value in the setting's own unit; a custom setting (`app.tenant`) is only in the session.
      return Effect.map(
        client.unsafe<{ name: string; setting: string | null; unit: string | null }>(
          `SELECT n AS name, coalesce(s.setting, current_setting(n, true)) AS setting, s.unit FROM unnest(ARRAY[${
            names.map((_, i) => `$${i + 1}`).join(", ")
          }]::text[]) AS n LEFT JOIN pg_settings s ON s.name = n`,
          names
        ),
        (rows) => Object.fromEntries(rows.map((r) => [r.name, { value: r.setting, unit: r.unit }]))
      )
    case "mysql":
      return Effect.map(
        client.unsafe<Record<string, unknown>>(`SELECT ${names.map((n) => `@@SESSION.${n} AS ${n}`).join(", ")}`),
        (rows) => Object.fromEntries(names.map((n) => [n, { value: rows[0]?.[n], unit: null }]))
      )
    case "sqlite":
      return Effect.map(
        Effect.forEach(
          names,
          (n) =>
            Effect.map(client.unsafe<Record<string, unknown>>(`PRAGMA ${n}`), (rows) => Object.values(rows[0] ?? {})[0])
        ),
        (values) => Object.fromEntries(names.map((n, i) => [n, { value: values[i], unit: null }]))
      )
  }
}

/** Reads back every setting FastORM applies, on one pooled session of `client`. */
export const readBack = (
  client: DatabaseAdapter.NodeClient,
  config: OptimalConfig.OptimalConfig,
  isMariaDb: boolean,
  readOnly = false
): Effect.Effect<ReadonlyArray<Setting>, unknown> => {
  const wanted = expected(config, isMariaDb)
  // A read-only SQLite connection cannot set the file's journal mode (the writer sets it): nothing to read back.
  const names = Object.keys(wanted).filter((name) => !(readOnly && name === "journal_mode"))
  return Effect.map(readAll(client, config.dialect, names), (read) =>
    names.map((name) => {
      const got = read[name]
      const applied = wanted[name]!
      return {
        name,
        applied,
        readBack: normalise(got?.value),
        ok: matches(applied, got?.value, { unit: got?.unit, listsAreSets: config.dialect === "mysql" })
      }
    }))
}
