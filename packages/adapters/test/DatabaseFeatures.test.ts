import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import type { DatabaseFeatures, ServerVersion } from "../src/DatabaseFeatures.js"
import * as F from "../src/DatabaseFeatures.js"
import type { ServerProduct } from "../src/Dialect.js"

const right = (e: Either.Either<ServerVersion, unknown>): ServerVersion => {
  if (Either.isLeft(e)) throw new Error("expected a version")
  return e.right
}
const triple = (v: ServerVersion) => [v.product, v.major, v.minor, v.patch]

describe("server version parsing", () => {
  it("reads PostgreSQL server_version_num in both numbering schemes", () => {
    expect(triple(right(F.fromPostgresVersionNum(150019)))).toEqual(["postgresql", 15, 19, 0])
    expect(triple(right(F.fromPostgresVersionNum("150019")))).toEqual(["postgresql", 15, 19, 0])
    expect(triple(right(F.fromPostgresVersionNum(100000)))).toEqual(["postgresql", 10, 0, 0])
    expect(triple(right(F.fromPostgresVersionNum(90624)))).toEqual(["postgresql", 9, 6, 24])
    expect(triple(right(F.fromPostgresVersionNum(90500)))).toEqual(["postgresql", 9, 5, 0])
    expect(Either.isLeft(F.fromPostgresVersionNum("15.4"))).toBe(true)
    expect(Either.isLeft(F.fromPostgresVersionNum(""))).toBe(true)
  })

  it("reads PostgreSQL version strings", () => {
    expect(triple(right(F.fromPostgresVersion("15.19 (Debian 15.19-1.pgdg120+1)")))).toEqual(["postgresql", 15, 19, 0])
    expect(triple(right(F.fromPostgresVersion("PostgreSQL 16.2 on x86_64-pc-linux-gnu")))).toEqual([
      "postgresql",
      16,
      2,
      0
    ])
    expect(triple(right(F.fromPostgresVersion("17beta1")))).toEqual(["postgresql", 17, 0, 0])
    expect(triple(right(F.fromPostgresVersion("9.6.24")))).toEqual(["postgresql", 9, 6, 24])
  })

  it("tells MariaDB from MySQL in VERSION() strings", () => {
    expect(triple(right(F.fromMysqlVersion("10.11.19-MariaDB-0+deb12u1-log")))).toEqual(["mariadb", 10, 11, 19])
    expect(triple(right(F.fromMysqlVersion("5.5.5-10.11.6-MariaDB")))).toEqual(["mariadb", 10, 11, 6])
    expect(triple(right(F.fromMysqlVersion("11.4.2-MariaDB")))).toEqual(["mariadb", 11, 4, 2])
    expect(triple(right(F.fromMysqlVersion("8.0.36")))).toEqual(["mysql", 8, 0, 36])
    expect(triple(right(F.fromMysqlVersion("8.4.0-log")))).toEqual(["mysql", 8, 4, 0])
    expect(triple(right(F.fromMysqlVersion("5.5.5")))).toEqual(["mysql", 5, 5, 5])
    const v = right(F.fromMysqlVersion("10.11.19-MariaDB-0+deb12u1-log"))
    expect(v.raw).toBe("10.11.19-MariaDB-0+deb12u1-log")
    expect(Either.isLeft(F.fromMysqlVersion("MariaDB"))).toBe(true)
  })

  it("reads SQLite versions", () => {
    expect(triple(right(F.fromSqliteVersion("3.50.4")))).toEqual(["sqlite", 3, 50, 4])
    expect(triple(right(F.fromSqliteVersion("3.8")))).toEqual(["sqlite", 3, 8, 0])
    expect(Either.isLeft(F.fromSqliteVersion("three"))).toBe(true)
  })

  it("dispatches by dialect or product", () => {
    expect(triple(right(F.parseServerVersion("postgresql", 150019)))).toEqual(["postgresql", 15, 19, 0])
    expect(triple(right(F.parseServerVersion("postgresql", "120000")))).toEqual(["postgresql", 12, 0, 0])
    expect(triple(right(F.parseServerVersion("postgresql", "15.4")))).toEqual(["postgresql", 15, 4, 0])
    expect(triple(right(F.parseServerVersion("mysql", "10.6.0-MariaDB")))).toEqual(["mariadb", 10, 6, 0])
    expect(triple(right(F.parseServerVersion("mariadb", "10.6.0")))).toEqual(["mariadb", 10, 6, 0])
    expect(triple(right(F.parseServerVersion("sqlite", "3.45.1")))).toEqual(["sqlite", 3, 45, 1])
    const e = F.parseServerVersion("sqlite", "garbage")
    expect(Either.isLeft(e) && e.left._tag).toBe("UnrecognizedServerVersion")
  })

  it("parseVersion falls back to the conservative floor", () => {
    expect(F.parseVersion("postgresql", "nope")).toEqual(F.floorVersion.postgresql)
    expect(triple(F.parseVersion("mysql", "8.0.0"))).toEqual(["mysql", 8, 0, 0])
  })
})

type Flag = keyof DatabaseFeatures
// [product, flag, version just below the threshold, the threshold]
const thresholds: ReadonlyArray<
  readonly [ServerProduct, Flag, readonly [number, number, number], readonly [number, number, number]]
> = [
  ["postgresql", "supportsJsonFields", [9, 3, 25], [9, 4, 0]],
  ["postgresql", "supportsFullTextSearch", [8, 2, 23], [8, 3, 0]],
  ["postgresql", "supportsWindowFunctions", [8, 3, 23], [8, 4, 0]],
  ["postgresql", "supportsCte", [8, 3, 23], [8, 4, 0]],
  ["postgresql", "supportsUpsert", [9, 4, 26], [9, 5, 0]],
  ["postgresql", "supportsReturning", [8, 1, 23], [8, 2, 0]],
  ["postgresql", "supportsPartialIndexes", [7, 1, 3], [7, 2, 0]],
  ["postgresql", "supportsConcurrentIndexes", [8, 1, 23], [8, 2, 0]],
  ["postgresql", "supportsSchemas", [7, 2, 8], [7, 3, 0]],
  ["mysql", "supportsJsonFields", [5, 7, 7], [5, 7, 8]],
  ["mysql", "supportsCte", [8, 0, 0], [8, 0, 1]],
  ["mysql", "supportsWindowFunctions", [8, 0, 1], [8, 0, 2]],
  ["mariadb", "supportsJsonFields", [10, 2, 6], [10, 2, 7]],
  ["mariadb", "supportsWindowFunctions", [10, 1, 48], [10, 2, 0]],
  ["mariadb", "supportsCte", [10, 2, 0], [10, 2, 1]],
  ["mariadb", "supportsReturning", [10, 4, 34], [10, 5, 0]],
  ["sqlite", "supportsJsonFields", [3, 37, 2], [3, 38, 0]],
  ["sqlite", "supportsWindowFunctions", [3, 24, 0], [3, 25, 0]],
  ["sqlite", "supportsCte", [3, 8, 2], [3, 8, 3]],
  ["sqlite", "supportsReturning", [3, 34, 1], [3, 35, 0]],
  ["sqlite", "supportsUpsert", [3, 23, 1], [3, 24, 0]],
  ["sqlite", "supportsPartialIndexes", [3, 7, 17], [3, 8, 0]]
]

describe("featuresFor", () => {
  for (const [product, flag, below, at] of thresholds) {
    it(`${product} ${flag}: false at ${below.join(".")}, true from ${at.join(".")}`, () => {
      expect(F.featuresFor(F.version(product, ...below))[flag]).toBe(false)
      expect(F.featuresFor(F.version(product, ...at))[flag]).toBe(true)
      expect(F.featuresFor(F.version(product, at[0] + 1, 0, 0))[flag]).toBe(true)
    })
  }

  it("gives modern PostgreSQL everything", () => {
    const all = F.featuresFor(F.version("postgresql", 15, 19))
    expect(Object.values(all).every((b) => b)).toBe(true)
  })

  it("never gives MySQL RETURNING, arrays, partial or concurrent indexes, or schemas", () => {
    const f = F.featuresFor(F.version("mysql", 9, 1, 0))
    expect(f).toEqual({
      supportsJsonFields: true,
      supportsArrayFields: false,
      supportsFullTextSearch: true,
      supportsWindowFunctions: true,
      supportsCte: true,
      supportsUpsert: true,
      supportsReturning: false,
      supportsPartialIndexes: false,
      supportsConcurrentIndexes: false,
      supportsSchemas: false
    })
  })

  it("treats MariaDB apart from MySQL", () => {
    // MySQL 10.x does not exist, but the same numbers read as MariaDB get RETURNING.
    expect(F.featuresFor(F.version("mariadb", 10, 11, 6)).supportsReturning).toBe(true)
    expect(F.featuresFor(F.version("mysql", 8, 4, 0)).supportsReturning).toBe(false)
    const f = F.featuresFor(F.version("mariadb", 11, 4, 2))
    expect([f.supportsArrayFields, f.supportsPartialIndexes, f.supportsConcurrentIndexes, f.supportsSchemas])
      .toEqual([false, false, false, false])
    expect([f.supportsUpsert, f.supportsFullTextSearch]).toEqual([true, true])
  })

  it("gives SQLite no arrays, concurrent indexes or schemas, and FTS always", () => {
    const f = F.featuresFor(F.version("sqlite", 3, 50, 4))
    expect([f.supportsArrayFields, f.supportsConcurrentIndexes, f.supportsSchemas]).toEqual([false, false, false])
    expect(Object.entries(f).filter(([, b]) => b).length).toBe(7)
    expect(F.featuresFor(F.version("sqlite", 3, 0, 0)).supportsFullTextSearch).toBe(true)
  })

  it("compares versions component by component", () => {
    expect(F.atLeast(F.version("sqlite", 3, 100, 0), 3, 38, 0)).toBe(true)
    expect(F.atLeast(F.version("sqlite", 4, 0, 0), 3, 38, 5)).toBe(true)
    expect(F.atLeast(F.version("sqlite", 3, 38, 4), 3, 38, 5)).toBe(false)
    expect(F.atLeast(F.version("sqlite", 2, 99, 99), 3)).toBe(false)
  })
})

describe("conservative features", () => {
  it("minimalFeatures assumes nothing", () => {
    expect(Object.values(F.minimalFeatures).some((b) => b)).toBe(false)
  })

  it("staticFeatures(mysql) only claims what both MySQL 5.7.8 and MariaDB 10.3 have", () => {
    const f = F.staticFeatures("mysql")
    expect(f.supportsJsonFields).toBe(true)
    expect(f.supportsUpsert).toBe(true)
    expect(f.supportsWindowFunctions).toBe(false)
    expect(f.supportsCte).toBe(false)
    expect(f.supportsReturning).toBe(false)
  })

  it("staticFeatures(postgresql) is everything, staticFeatures(sqlite) lacks RETURNING and JSON", () => {
    expect(Object.values(F.staticFeatures("postgresql")).every((b) => b)).toBe(true)
    const s = F.staticFeatures("sqlite")
    expect([s.supportsReturning, s.supportsJsonFields]).toEqual([false, false])
    expect([s.supportsUpsert, s.supportsWindowFunctions, s.supportsCte]).toEqual([true, true, true])
  })

  it("static features never claim more than the live table for any version at or above the floor", () => {
    for (const product of ["postgresql", "mysql", "mariadb", "sqlite"] as const) {
      const dialect = product === "mariadb" ? "mysql" : product
      const floor = F.featuresFor(F.floorVersion[product])
      for (const [k, v] of Object.entries(F.staticFeatures(dialect))) {
        if (v) expect(floor[k as Flag], `${product} ${k}`).toBe(true)
      }
    }
  })
})
