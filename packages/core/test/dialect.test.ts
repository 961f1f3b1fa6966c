import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Dialect from "../src/Dialect.js"
import { fakeClient } from "./fixtures.js"

/** A client that only answers which dialect it speaks. */
const speaking = (name: "pg" | "mysql" | "sqlite" | "mssql" | "clickhouse") =>
  ({ onDialect: (cases: Record<string, () => unknown>) => cases[name]!() }) as unknown as SqlClient.SqlClient

describe("Dialect", () => {
  it("maps @effect/sql's names to FastORM's, in one place", () => {
    const table = [
      ["pg", "postgresql"],
      ["mysql", "mysql"],
      ["sqlite", "sqlite"],
      ["mssql", undefined],
      ["clickhouse", undefined]
    ] as const
    for (const [effectSql, fastorm] of table) {
      expect([effectSql, Dialect.fromEffectSql(effectSql)]).toEqual([effectSql, fastorm])
      expect([effectSql, Dialect.fromClient(speaking(effectSql))]).toEqual([effectSql, fastorm])
    }
  })

  it.effect("of: a real client's dialect; a dialect FastORM does not speak is named in the defect", () =>
    Effect.gen(function*() {
      const { client } = yield* fakeClient(() => undefined)
      expect(Dialect.of(client)).toBe("sqlite")
      expect(Dialect.of(speaking("pg"))).toBe("postgresql")
      expect(() => Dialect.of(speaking("mssql"))).toThrow(
        "FastORM speaks PostgreSQL, MySQL/MariaDB and SQLite; this client speaks mssql"
      )
    }))
})
