import { describe, expect, it } from "@effect/vitest"
import { OptimalConfig } from "../src/index.js"
import * as MysqlNode from "../src/internal/mysqlClient.js"
import * as PgSession from "../src/internal/pgSession.js"
import { sessionStatement, startupOptions } from "../src/internal/serverSettings.js"

describe("serverSettings", () => {
  it.each(
    [
      ["postgresql", { work_mem: "64MB", "app.tenant": "acme" }],
      ["postgresql", { Random_Page_Cost: "1.1", default_transaction_isolation: "repeatable read" }],
      ["mysql", { sql_mode: "STRICT_TRANS_TABLES,NO_ZERO_DATE", sort_buffer_size: "262144" }],
      ["postgresql", {}]
    ] as const
  )("%s takes %j", (dialect, serverSettings) => {
    expect(OptimalConfig.check(dialect, { serverSettings })).toEqual([])
  })

  it.each(
    [
      [
        "postgresql",
        "64MB",
        "serverSettings must be an object of server settings by name, e.g. { work_mem: \"64MB\" }"
      ],
      [
        "postgresql",
        ["work_mem"],
        "serverSettings must be an object of server settings by name, e.g. { work_mem: \"64MB\" }"
      ],
      [
        "postgresql",
        { "work mem": "1" },
        "serverSettings has a name that is not a server setting's (letters, digits and _)"
      ],
      [
        "mysql",
        { "app.tenant": "a" },
        "serverSettings has a name that is not a server setting's (letters, digits and _)"
      ],
      ["postgresql", { statement_timeout: "5s" }, "serverSettings cannot set statement_timeout: use statementTimeout"],
      ["postgresql", { Search_Path: "app" }, "serverSettings cannot set search_path: use searchPath"],
      [
        "postgresql",
        { client_encoding: "LATIN1" },
        "serverSettings cannot set client_encoding: FastORM's connections always use UTF8"
      ],
      ["mysql", { time_zone: "+00:00" }, "serverSettings cannot set time_zone: use timezone"],
      [
        "mysql",
        { autocommit: "0" },
        "serverSettings cannot set autocommit: FastORM's statements and transactions rely on it"
      ],
      [
        "postgresql",
        { work_mem: "1MB", WORK_MEM: "2MB" },
        "serverSettings gives work_mem twice (names are case-insensitive)"
      ],
      ["postgresql", { work_mem: "" }, "serverSettings.work_mem must be printable text of 1 to 1024 characters"],
      ["postgresql", { work_mem: 64 }, "serverSettings.work_mem must be printable text of 1 to 1024 characters"],
      [
        "postgresql",
        { work_mem: "1\n-c x=y" },
        "serverSettings.work_mem must be printable text of 1 to 1024 characters"
      ],
      ["mysql", { sql_mode: "a\\b" }, "serverSettings.sql_mode must not hold a backslash"]
    ] as const
  )("%s refuses %j: %s", (dialect, serverSettings, problem) => {
    expect(OptimalConfig.check(dialect, { serverSettings })).toEqual([problem])
  })

  it("is no SQLite setting", () => {
    expect(OptimalConfig.check("sqlite", { serverSettings: {} })).toEqual([
      "\"serverSettings\" does not apply to SQLite (it is a PostgreSQL and MySQL/MariaDB setting)"
    ])
  })

  it("PostgreSQL startup options escape spaces and backslashes as the server reads them", () => {
    expect(startupOptions({ Work_Mem: "64MB", default_transaction_isolation: "repeatable read", x: "a\\b" })).toEqual([
      "-c work_mem=64MB",
      "-c default_transaction_isolation=repeatable\\ read",
      "-c x=a\\\\b"
    ])
    const config = OptimalConfig.merge(OptimalConfig.postgres, { serverSettings: { work_mem: "64MB" } })
    expect(PgSession.startupOptions(config, true)).toBe(
      "-c jit=off -c default_transaction_read_only=on -c work_mem=64MB"
    )
  })

  it("MySQL gets one SET SESSION: numbers as numbers, other values quoted", () => {
    expect(sessionStatement({})).toBeUndefined()
    expect(sessionStatement({ sort_buffer_size: "262144", SQL_MODE: "ANSI,NO_ZERO_DATE", x: "it's", y: "-1.5" })).toBe(
      "SET SESSION sort_buffer_size = 262144, sql_mode = 'ANSI,NO_ZERO_DATE', x = 'it''s', y = -1.5"
    )
    const config = OptimalConfig.merge(OptimalConfig.mysql, { serverSettings: { sort_buffer_size: "262144" } })
    const statements = MysqlNode.sessionStatements(config, true, true)
    expect(statements.at(-1)).toBe("SET SESSION sort_buffer_size = 262144")
    expect(MysqlNode.sessionStatements(OptimalConfig.mysql, true, true).join(";")).not.toContain("sort_buffer")
  })

  it("merges by name across sources, a later one winning, names in lower case", () => {
    const fromUrl = OptimalConfig.merge(OptimalConfig.postgres, { serverSettings: { work_mem: "4MB", geqo: "off" } })
    const both = OptimalConfig.merge(fromUrl, { serverSettings: { WORK_MEM: "64MB", random_page_cost: "1.1" } })
    expect(both.serverSettings).toEqual({ work_mem: "64MB", geqo: "off", random_page_cost: "1.1" })
  })

  it("behind a pooler that refuses startup parameters, a node with server settings refuses to connect, naming one", () => {
    expect(PgSession.poolerRefusal(OptimalConfig.postgres)).toBeUndefined()
    const config = OptimalConfig.merge(OptimalConfig.postgres, { serverSettings: { work_mem: "64MB" } })
    expect(PgSession.poolerRefusal(config)).toMatch(/^unsupported startup parameter: work_mem \(serverSettings/)
    expect(PgSession.poolerRefusal(config)).toContain("ALTER ROLE app SET work_mem")
  })
})
