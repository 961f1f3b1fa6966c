import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { ConnectionUrl, MySQLAdapter, OptimalConfig, PostgreSQLAdapter } from "../src/index.js"
import * as MysqlNode from "../src/internal/mysqlClient.js"
import * as PgNode from "../src/internal/pgPoolConfig.js"
import * as PgSession from "../src/internal/pgSession.js"
import * as SqliteNode from "../src/internal/sqliteClient.js"

const parsed = (url: string) => Either.getOrThrow(ConnectionUrl.parseEither(url))

describe("OptimalConfig", () => {
  it("has the documented defaults per dialect", () => {
    expect(OptimalConfig.poolBounds(OptimalConfig.postgres)).toEqual({ min: 10, max: 30 })
    expect(OptimalConfig.poolBounds(OptimalConfig.mysql)).toEqual({ min: 8, max: 24 })
    expect(OptimalConfig.postgres.jit).toBe(false)
    expect(OptimalConfig.mysql.charset).toBe("utf8mb4")
    expect(OptimalConfig.sqlite.journalMode).toBe("wal")
    expect(OptimalConfig.sqlite.cacheSizeKiB).toBe(65536)
    expect(OptimalConfig.sqlite.maxWriters).toBe(1)
    expect(OptimalConfig.sqlite.readerThreads).toBe(2)
  })

  it("user overrides always win; undefined keeps the default; durations accept any input form", () => {
    const merged = OptimalConfig.merge(OptimalConfig.postgres, {
      poolSize: 3,
      statementTimeout: "1500 millis",
      connectTimeout: undefined
    })
    expect(merged.poolSize).toBe(3)
    expect(Duration.toMillis(merged.statementTimeout)).toBe(1500)
    expect(merged.connectTimeout).toEqual(OptimalConfig.postgres.connectTimeout)
    expect(merged.maxOverflow).toBe(20)
    expect(merged.dialect).toBe("postgresql")
  })

  it("maps pool size + overflow onto pg-pool min/max and applies every setting in the pool config", () => {
    const config = OptimalConfig.merge(OptimalConfig.postgres, { poolSize: 4, maxOverflow: 6 })
    const pool = PgNode.poolConfig(
      { host: "db", port: 5432, password: Redacted.make("pw"), tls: { ssl: false } },
      config,
      {
        alias: "primary",
        readOnly: true
      }
    )
    expect(pool.min).toBe(4)
    expect(pool.max).toBe(10)
    expect(pool.statement_timeout).toBe(30_000)
    expect(pool.connectionTimeoutMillis).toBe(10_000)
    expect(pool.application_name).toBe("fastorm")
    // Zero: the system's keep-alive idle time.
    expect([pool.keepAlive, pool.keepAliveInitialDelayMillis]).toEqual([true, 0])
    expect(pool.options).toBe("-c jit=off -c default_transaction_read_only=on")
    expect(PgSession.startupOptions(config, false)).toBe("-c jit=off")
  })

  it("derives MySQL session statements per product: max_statement_time on MariaDB, max_execution_time on MySQL", () => {
    const config = OptimalConfig.merge(OptimalConfig.mysql, {
      statementTimeout: "2 seconds",
      readTimeout: "45 seconds"
    })
    const maria = MysqlNode.sessionStatements(config, true, true)
    expect(maria).toContain("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci")
    expect(maria.join(";")).toContain("max_statement_time = 2")
    expect(maria.join(";")).toContain("net_read_timeout = 45")
    expect(maria).toContain("SET SESSION TRANSACTION READ ONLY")
    const mysql = MysqlNode.sessionStatements(config, false, false)
    expect(mysql.join(";")).toContain("max_execution_time = 2000")
    expect(mysql).not.toContain("SET SESSION TRANSACTION READ ONLY")
  })

  it("MySQL timezone: \"local\" leaves the session's zone; \"Z\" and offsets set it; anything else is refused", () => {
    expect(OptimalConfig.mysql.timezone).toBe("local")
    expect(MysqlNode.sessionStatements(OptimalConfig.mysql, true, false).join(";")).not.toContain("time_zone")
    const utc = OptimalConfig.merge(OptimalConfig.mysql, { timezone: "Z" })
    expect(MysqlNode.sessionStatements(utc, true, false)).toContain("SET time_zone = '+00:00'")
    const india = OptimalConfig.merge(OptimalConfig.mysql, { timezone: "+05:30" })
    expect(MysqlNode.sessionStatements(india, false, false)).toContain("SET time_zone = '+05:30'")
    for (const timezone of ["local", "Z", "+13:00", "-12:59", "+00:00"]) {
      expect(OptimalConfig.check("mysql", { timezone }), timezone).toEqual([])
    }
    for (const timezone of ["+14:00", "-13:00", "UTC", "Europe/Paris", "+5:30", "+05:60", "z"]) {
      expect(OptimalConfig.check("mysql", { timezone }), timezone).toEqual([
        "timezone must be \"local\", \"Z\" or an offset from \"-12:59\" to \"+13:00\""
      ])
    }
    expect(OptimalConfig.check("postgresql", { timezone: "Z" })[0]).toContain("does not apply to PostgreSQL")
  })

  it("maxLifetime: 30 minutes by default, pg-pool maxLifetimeSeconds, and zero never expires", () => {
    expect(Duration.toMillis(OptimalConfig.postgres.maxLifetime)).toBe(30 * 60_000)
    expect(Duration.toMillis(OptimalConfig.mysql.maxLifetime)).toBe(30 * 60_000)
    const pool = (maxLifetime: Duration.DurationInput) =>
      PgNode.poolConfig(
        { host: "db", port: 5432, tls: { ssl: false } },
        OptimalConfig.merge(OptimalConfig.postgres, { maxLifetime }),
        { alias: "primary", readOnly: false }
      ).maxLifetimeSeconds
    expect(pool("30 minutes")).toBe(1800)
    expect(pool("1500 millis")).toBe(1.5)
    expect(pool("0 millis")).toBe(0)
    const rows: ReadonlyArray<readonly [openedAt: number, now: number, lifetime: string, outlived: boolean]> = [
      [0, 999, "1 second", false],
      [0, 1000, "1 second", true],
      [5000, 5999, "1 second", false],
      [0, 10 ** 12, "0 millis", false],
      [0, 30 * 60_000, "30 minutes", true]
    ]
    for (const [openedAt, now, lifetime, outlived] of rows) {
      expect(OptimalConfig.outlived(openedAt, now, Duration.decode(lifetime as Duration.DurationInput))).toBe(outlived)
    }
  })

  it("SQLite pragmas: a read-only connection never tries to change the journal mode", () => {
    expect(SqliteNode.pragmas(OptimalConfig.sqlite, false)).toContain("PRAGMA journal_mode = WAL")
    expect(SqliteNode.pragmas(OptimalConfig.sqlite, true).some((p) => p.includes("journal_mode"))).toBe(false)
    expect(SqliteNode.pragmas(OptimalConfig.sqlite, true)[0]).toBe("PRAGMA busy_timeout = 5000")
  })

  it("URL options tune the config and explicit overrides beat them", () => {
    const url = parsed("postgres://app@db/app?application_name=billing&connect_timeout=3&statement_timeout=700")
    const adapter = PostgreSQLAdapter.make(url, { config: { statementTimeout: "9 seconds" } })
    expect(adapter.optimalConfig.applicationName).toBe("billing")
    expect(Duration.toMillis(adapter.optimalConfig.connectTimeout)).toBe(3000)
    expect(Duration.toMillis(adapter.optimalConfig.statementTimeout)).toBe(9000)
    const mysql = MySQLAdapter.make(parsed("mysql://app@db/app?connectTimeout=1500"))
    expect(Duration.toMillis(mysql.optimalConfig.connectTimeout)).toBe(1500)
  })

  it("static features follow the assumed version and the scheme's product hint", () => {
    const maria = MySQLAdapter.make(parsed("mariadb://app@db/app"))
    expect(maria.assumedVersion.product).toBe("mariadb")
    expect(maria.features.supportsReturning).toBe(true)
    const mysql = MySQLAdapter.make(parsed("mysql://app@db/app"))
    expect(mysql.assumedVersion.product).toBe("mysql")
    expect(mysql.features.supportsReturning).toBe(false)
    const old = MySQLAdapter.make(parsed("mariadb://app@db/app"), { serverVersion: "10.4.30-MariaDB" })
    expect(old.features.supportsReturning).toBe(false)
  })
})
