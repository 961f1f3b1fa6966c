/**
 * Configuration holes closed: the SQLAlchemy SQLite schemes, a node's identity (an unnamed cluster's name), and the
 * check of connection settings (one typed error listing every problem, never a defect).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Url from "../src/ConnectionUrl.js"
import * as DatabaseAdapterFactory from "../src/DatabaseAdapterFactory.js"
import * as OptimalConfig from "../src/OptimalConfig.js"

const parsed = (url: string) => Either.getOrThrow(Url.parseEither(url))

describe("SQLAlchemy SQLite schemes", () => {
  for (const scheme of ["sqlite+aiosqlite", "sqlite+pysqlite", "SQLite+AioSQLite"]) {
    it(`${scheme}:/// reads like sqlite:///`, () => {
      const url = parsed(`${scheme}:///app.db`)
      expect([url.dialect, url.driver, url.filename, url.scheme]).toEqual([
        "sqlite",
        "better-sqlite3",
        "app.db",
        scheme
      ])
      expect(parsed(`${scheme}:////abs/app.db`).filename).toBe("/abs/app.db")
      expect(parsed(`${scheme}://:memory:`).filename).toBe(":memory:")
    })
  }
})

describe("ConnectionUrl.identity", () => {
  const table: ReadonlyArray<readonly [string, string]> = [
    ["postgresql://app:S3cret@db.internal:6432/shop", "postgresql://db.internal:6432/shop"],
    ["postgres://db.internal/shop", "postgresql://db.internal:5432/shop"],
    ["postgresql+asyncpg://u:p@db.internal/shop?sslmode=require", "postgresql://db.internal:5432/shop"],
    ["mysql://app:pw@10.0.0.5:3307/orders", "mysql://10.0.0.5:3307/orders"],
    ["mariadb://app:pw@10.0.0.5:3307/orders", "mysql://10.0.0.5:3307/orders"],
    ["postgresql://app@[::1]:5432/shop", "postgresql://[::1]:5432/shop"],
    ["postgresql:///shop?host=/var/run/postgresql", "postgresql://%2Fvar%2Frun%2Fpostgresql:5432/shop"],
    ["sqlite:////srv/data/app.db", "/srv/data/app.db"],
    ["sqlite:///data/app.db", "/home/app/data/app.db"],
    ["sqlite+aiosqlite:///app.db", "/home/app/app.db"],
    ["sqlite://:memory:", ":memory:"]
  ]
  for (const [url, identity] of table) {
    it(`${url} -> ${identity}`, () => {
      expect(Url.identity(parsed(url), "/home/app")).toBe(identity)
    })
  }

  it("two databases on one server, or one database on two servers, are different clusters", () => {
    const ids = ["postgresql://h:5432/a", "postgresql://h:5432/b", "postgresql://h2:5432/a", "mysql://h:5432/a"]
    expect(new Set(ids.map((u) => Url.identity(parsed(u)))).size).toBe(4)
  })
})

describe("OptimalConfig.check", () => {
  const table: ReadonlyArray<readonly [string, "postgresql" | "mysql" | "sqlite", unknown, ReadonlyArray<string>]> = [
    ["valid PostgreSQL settings", "postgresql", { poolSize: 2, maxOverflow: 4, statementTimeout: "2 seconds" }, []],
    ["valid SQLite settings", "sqlite", { busyTimeout: 250, journalMode: "wal", cacheSizeKiB: 1024 }, []],
    ["undefined keeps the default", "mysql", { poolSize: undefined }, []],
    ["nothing given", "postgresql", undefined, []],
    ["a duration that does not parse", "sqlite", { busyTimeout: "soon" }, [
      "busyTimeout must be a finite duration, e.g. \"5 seconds\" or a number of milliseconds"
    ]],
    ["an infinite duration", "postgresql", { lockTimeout: "Infinity" }, [
      "lockTimeout must be a finite duration, e.g. \"5 seconds\" or a number of milliseconds"
    ]],
    ["a negative duration", "mysql", { readTimeout: -5 }, ["readTimeout must not be negative"]],
    ["a zero connect timeout", "postgresql", { connectTimeout: 0 }, ["connectTimeout must be longer than zero"]],
    ["negative and fractional sizes", "postgresql", { poolSize: -1, maxOverflow: 2.5 }, [
      "poolSize must be a non-negative integer",
      "maxOverflow must be a non-negative integer"
    ]],
    ["a size given as text", "mysql", { poolSize: "10" }, ["poolSize must be a non-negative integer"]],
    ["no connection at all", "mysql", { poolSize: 0, maxOverflow: 0 }, [
      "poolSize + maxOverflow must allow at least one connection"
    ]],
    ["a setting of another dialect", "postgresql", { busyTimeout: "1 second", charset: "utf8mb4" }, [
      "\"busyTimeout\" does not apply to PostgreSQL (it is a SQLite setting)",
      "\"charset\" does not apply to PostgreSQL (it is a MySQL/MariaDB setting)"
    ]],
    ["a network setting on SQLite", "sqlite", { poolSize: 4 }, [
      "\"poolSize\" does not apply to SQLite (it is a PostgreSQL and MySQL/MariaDB setting)"
    ]],
    ["a typo", "sqlite", { busytimeout: 5 }, [
      "\"busytimeout\" is not a SQLite setting (known: maxWriters, journalMode, synchronous, cacheSizeKiB, foreignKeys, busyTimeout, readerThreads, openMode)"
    ]],
    ["a key that might be a secret is not shown", "sqlite", { "pw=hunter2": 1 }, [
      "a setting (name not shown) is not a SQLite setting (known: maxWriters, journalMode, synchronous, cacheSizeKiB, foreignKeys, busyTimeout, readerThreads, openMode)"
    ]],
    ["values outside their set, wrong types", "sqlite", { journalMode: "WAL2", foreignKeys: "yes", maxWriters: 2 }, [
      "journalMode must be one of \"wal\", \"delete\", \"truncate\", \"persist\", \"memory\", \"off\"",
      "foreignKeys must be true or false",
      "maxWriters must be one of 1"
    ]],
    ["not an object", "postgresql", "poolSize=3", ["the connection settings must be an object of settings"]]
  ]
  for (const [name, dialect, overrides, problems] of table) {
    it(name, () => {
      expect(OptimalConfig.check(dialect, overrides)).toEqual(problems)
    })
  }

  it.effect("DatabaseAdapterFactory.create fails with InvalidPoolConfig listing every problem, not a defect", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(DatabaseAdapterFactory.create("sqlite:///app.db", {
        config: { busyTimeout: "soon", cacheSizeKiB: -1 } as any
      }))
      expect(error._tag).toBe("InvalidPoolConfig")
      expect(error.message).toBe(
        "Invalid connection settings: busyTimeout must be a finite duration, e.g. \"5 seconds\" or a number of " +
          "milliseconds; cacheSizeKiB must be a non-negative integer"
      )
    }))
})
