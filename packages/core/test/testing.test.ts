import { describe, expect, it } from "@effect/vitest"
import { SqliteTesting } from "@fastorm/adapters"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ReadConnection, WriteConnection } from "../src/Connections.js"
import * as Testing from "../src/Testing.js"
import { UserRepo } from "./fixtures.js"

const layer = Testing.recording({ readAlias: "reader", writeAlias: "primary" }).pipe(
  Layer.provideMerge(SqliteTesting.layer())
)

describe("Testing", () => {
  it.scoped("the SQLite reader sees the primary's commits and cannot write", () =>
    Effect.gen(function*() {
      const write = yield* WriteConnection
      const read = yield* ReadConnection
      yield* write`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`
      yield* write`INSERT INTO t (v) VALUES ('a')`
      expect(yield* read`SELECT v FROM t`).toEqual([{ v: "a" }])
      const error = yield* Effect.flip(read`INSERT INTO t (v) VALUES ('b')`)
      expect((error.cause as { code?: string }).code).toBe("SQLITE_READONLY")
      const recorder = yield* Testing.Recorder
      const records = yield* recorder.records
      expect(records.map((r) => [r.role, r.alias])).toEqual([
        ["write", "primary"],
        ["write", "primary"],
        ["read", "reader"],
        ["read", "reader"]
      ])
      yield* recorder.clear
      expect(yield* recorder.records).toEqual([])
    }).pipe(Effect.provide(layer)))

  it("a repository is a plain object that validates names from outside", () => {
    expect(UserRepo.isColumn("email")).toBe(true)
    expect(UserRepo.isColumn("email; DROP TABLE users")).toBe(false)
    expect(UserRepo.isColumn("__proto__")).toBe(false)
    expect(UserRepo.columns).toEqual(["id", "name", "email", "status", "age"])
  })
})
