import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type { Dialect } from "../src/Dialect.js"
import {
  ConnectionUrl,
  MySQLAdapter,
  OptimalConfig,
  PostgreSQLAdapter,
  SQLiteAdapter,
  validateDatabaseConnection
} from "../src/index.js"
import { optionSpecs, settingsFromOptions } from "../src/internal/options.js"
import { settings as settingKinds } from "../src/internal/overrides.js"

const parsed = (url: string) => {
  const result = ConnectionUrl.parseEither(url)
  if (Either.isLeft(result)) throw new Error(`expected ${url} to parse: ${result.left.message}`)
  return result.right
}
const problemsOf = (url: string) =>
  validateDatabaseConnection(url).map((p) => `${p._tag}:${"option" in p ? p.option : ""}`)

const base: Record<Dialect, string> = {
  postgresql: "postgres://app@db.example/app?sslmode=verify-full&",
  mysql: "mysql://app@db.example/app?ssl-mode=VERIFY_IDENTITY&",
  sqlite: "sqlite:///app.db?"
}

describe("URL options", () => {
  it("every setting an option gives is a setting of its dialect, of the setting's kind", () => {
    for (const dialect of Object.keys(optionSpecs) as Array<Dialect>) {
      for (const [option, spec] of Object.entries(optionSpecs[dialect])) {
        if (spec._tag !== "setting") continue
        expect(Object.keys(settingKinds[dialect]), `${dialect} ${option}`).toContain(spec.setting)
      }
    }
  })

  it.each(
    [
      ["postgresql", "connect_timeout=2.5", { connectTimeout: Duration.millis(2500) }],
      ["postgresql", "statement_timeout=1500", { statementTimeout: Duration.millis(1500) }],
      ["postgresql", "lock_timeout=0", { lockTimeout: Duration.millis(0) }],
      ["postgresql", "idle_in_transaction_session_timeout=9000", { idleInTransactionTimeout: Duration.millis(9000) }],
      ["postgresql", "keepalives=0", { keepAlive: false }],
      ["postgresql", "keepalives_idle=30", { keepAliveInitialDelay: Duration.millis(30_000) }],
      ["postgresql", "application_name=a&fallback_application_name=b", { applicationName: "a" }],
      ["postgresql", "fallback_application_name=b&application_name=a", { applicationName: "a" }],
      ["postgresql", "fallback_application_name=b", { applicationName: "b" }],
      ["postgresql", "search_path=app,+public", { searchPath: "app, public" }],
      ["postgresql", "search_path=%22%24user%22,public", { searchPath: "\"$user\",public" }],
      ["postgresql", "search_path=%22Sales2026%22", { searchPath: "\"Sales2026\"" }],
      // libpq's options: -c name=value, -cname=value or --name=value, spaces escaped with a backslash.
      ["postgresql", "options=-c%20statement_timeout%3D5s%20-c%20search_path%3Dapp,public", {
        statementTimeout: Duration.millis(5000),
        searchPath: "app,public"
      }],
      ["postgresql", "options=-cjit%3Don%20--lock-timeout%3D2min", { jit: true, lockTimeout: Duration.minutes(2) }],
      ["postgresql", "options=-c%20application_name%3Dbilling%5C%20api", { applicationName: "billing api" }],
      ["postgresql", "options=-c%20idle_in_transaction_session_timeout%3D1500", {
        idleInTransactionTimeout: Duration.millis(1500)
      }],
      // Server settings FastORM has no setting for: serverSettings, as the server will get them.
      ["postgresql", "options=-c%20work_mem%3D64MB%20-c%20default_transaction_isolation%3Drepeatable%5C%20read", {
        serverSettings: { work_mem: "64MB", default_transaction_isolation: "repeatable read" }
      }],
      // An option of its own wins over the same setting in options, whatever their order.
      ["postgresql", "lock_timeout=100&options=-c%20lock_timeout%3D250", { lockTimeout: Duration.millis(100) }],
      ["postgresql", "options=-c%20lock_timeout%3D250&lock_timeout=100", { lockTimeout: Duration.millis(100) }],
      ["mysql", "connect_timeout=3", { connectTimeout: Duration.millis(3000) }],
      ["mysql", "connect_timeout=3&connectTimeout=700", { connectTimeout: Duration.millis(700) }],
      ["mysql", "read_timeout=40&write_timeout=50", {
        readTimeout: Duration.seconds(40),
        writeTimeout: Duration.seconds(50)
      }],
      ["mysql", "charset=UTF8MB4&collation=utf8mb4_BIN", { charset: "utf8mb4", collation: "utf8mb4_bin" }],
      ["mysql", "enableKeepAlive=false", { keepAlive: false }],
      ["mysql", "keepAliveInitialDelay=15000", { keepAliveInitialDelay: Duration.millis(15_000) }],
      ["mysql", "timezone=Z", { timezone: "Z" }],
      ["mysql", "timezone=%2B05:30", { timezone: "+05:30" }],
      ["mysql", "timezone=-12:59", { timezone: "-12:59" }],
      ["mysql", "timezone=local", { timezone: "local" }],
      // Connector/J's sessionVariables: a value with commas in single quotes.
      ["mysql", "sessionVariables=sql_mode%3D'NO_ZERO_DATE,STRICT_TRANS_TABLES',sort_buffer_size%3D262144", {
        serverSettings: { sql_mode: "NO_ZERO_DATE,STRICT_TRANS_TABLES", sort_buffer_size: "262144" }
      }],
      ["sqlite", "journal_mode=DELETE&synchronous=Full", { journalMode: "delete", synchronous: "full" }],
      ["sqlite", "foreign_keys=on&busy_timeout=250", { foreignKeys: true, busyTimeout: Duration.millis(250) }],
      ["sqlite", "mode=RO", { openMode: "ro" }],
      ["sqlite", "mode=rw", { openMode: "rw" }]
    ] as const
  )("%s ?%s gives its settings", (dialect, query, expected) => {
    const url = parsed(`${base[dialect]}${query}`)
    expect(settingsFromOptions(dialect, url.options)).toEqual(expected)
    const fromUrl = dialect === "postgresql"
      ? PostgreSQLAdapter.configFromUrl(url)
      : dialect === "mysql"
      ? MySQLAdapter.configFromUrl(url)
      : SQLiteAdapter.configFromUrl(url)
    expect(fromUrl).toEqual(expected)
    // What a URL gives passes the same checks as explicit overrides.
    expect(OptimalConfig.check(dialect, fromUrl)).toEqual([])
  })

  it.each(
    [
      ["postgresql", "statement_timeout", "30s"],
      ["postgresql", "connect_timeout", "0"],
      ["postgresql", "connect_timeout", "0.0001"],
      ["postgresql", "lock_timeout", "-1"],
      ["postgresql", "keepalives", "maybe"],
      // A space inside a name would need escaping in the startup option; so would a quote or a backslash.
      ["postgresql", "search_path", "%22my%20schema%22"],
      ["postgresql", "search_path", "app;drop"],
      ["postgresql", "search_path", "app,,public"],
      ["postgresql", "search_path", "1app"],
      ["postgresql", "options", "-c%20statement_timeout%3Dsoon"],
      ["postgresql", "options", "verbose"],
      ["postgresql", "options", "-c%20nameonly"],
      ["mysql", "timezone", "%2B14:00"],
      ["mysql", "timezone", "-13:00"],
      ["mysql", "timezone", "Europe/Paris"],
      // "+" is a space in a URL's query: the offset must be written %2B.
      ["mysql", "timezone", "+05:30"],
      ["mysql", "charset", "latin1"],
      ["mysql", "collation", "latin1_swedish_ci"],
      ["mysql", "read_timeout", "soon"],
      ["mysql", "connectTimeout", "0"],
      ["mysql", "sessionVariables", "time_zone%3D'%2B00:00'"],
      ["mysql", "sessionVariables", "sql_mode%3D'TRADITIONAL"],
      ["mysql", "sessionVariables", "a%3D1,A%3D2"],
      ["mysql", "sessionVariables", "a%3D1,"],
      ["sqlite", "journal_mode", "wall"],
      ["sqlite", "busy_timeout", "1.5"],
      ["sqlite", "mode", "memory"]
    ] as const
  )("%s %s=%s is an InvalidOptionValue that names the option, never the value", (dialect, option, value) => {
    const problems = validateDatabaseConnection(`${base[dialect]}${option}=${value}`)
    expect(problems.map((p) => p._tag)).toEqual(["InvalidOptionValue"])
    expect(problems[0]!.message).toContain(`"${option}" takes `)
    expect(problems[0]!.message).not.toContain(`=${value}`)
    expect(problems[0]!.message).not.toContain(` ${value} `)
  })

  it.each(
    [
      ["postgresql", "options=-c%20client_encoding%3DLATIN1", "always use UTF8"],
      ["postgresql", "target_session_attrs=read-write", "write URL"],
      ["postgresql", "query_timeout=100", "statement_timeout"],
      ["mysql", "dateStrings=true", "Schema"],
      ["mysql", "application_name=x", "no application name"],
      ["sqlite", "immutable=1", "mode=ro"],
      ["sqlite", "timeout=5", "busy_timeout"]
    ] as const
  )("%s ?%s is refused with what to do instead", (dialect, query, instead) => {
    const problems = validateDatabaseConnection(`${base[dialect]}${query}`)
    expect(problems.map((p) => p._tag)).toEqual(["UnsupportedOption"])
    expect(problems[0]!.severity).toBe("error")
    expect(problems[0]!.message).toContain("is not applied by FastORM")
    expect(problems[0]!.message).toContain(instead)
  })

  it("refused and invalid options fail the parse, each listed", () => {
    expect(problemsOf("postgres://app@localhost/app?target_session_attrs=any&lock_timeout=soon&sslmod=1")).toEqual([
      "UnsupportedOption:target_session_attrs",
      "InvalidOptionValue:lock_timeout",
      "UnknownOption:sslmod"
    ])
    expect(Either.isLeft(ConnectionUrl.parseEither("sqlite:///a.db?journal_mode=wal&mode=memory"))).toBe(true)
  })
})
