import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as TestSupport from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import { existsSync } from "node:fs"
import { DatabaseAdapterFactory, DatabaseFeatures, SQLiteAdapter } from "../src/index.js"

const tempFile = TestSupport.tempFile("fastorm-adapter-")

const pragma = (client: SqlClient.SqlClient, name: string) =>
  Effect.map(client.unsafe<Record<string, unknown>>(`PRAGMA ${name}`), (rows) => Object.values(rows[0] ?? {})[0])

describe("SQLite adapter", () => {
  it.scoped("applies WAL, cache, foreign keys, busy timeout and synchronous, read back from the connection", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const adapter = yield* DatabaseAdapterFactory.create(`sqlite:///${file}`)
      expect(adapter.dialect).toBe("sqlite")
      expect(adapter.driver).toBe("better-sqlite3")
      const writer = yield* adapter.makeClient({ verify: true })
      expect(yield* pragma(writer, "journal_mode")).toBe("wal")
      expect(yield* pragma(writer, "cache_size")).toBe(-65536)
      expect(yield* pragma(writer, "foreign_keys")).toBe(1)
      expect(yield* pragma(writer, "busy_timeout")).toBe(5000)
      expect(yield* pragma(writer, "synchronous")).toBe(1)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("user overrides always win", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const adapter = yield* DatabaseAdapterFactory.create(`sqlite:///${file}`, {
        config: { cacheSizeKiB: 1024, busyTimeout: "250 millis", foreignKeys: false }
      })
      const writer = yield* adapter.makeClient()
      expect(yield* pragma(writer, "cache_size")).toBe(-1024)
      expect(yield* pragma(writer, "busy_timeout")).toBe(250)
      expect(yield* pragma(writer, "foreign_keys")).toBe(0)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("the URL's pragmas apply below user overrides", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const url = `sqlite:///${file}?journal_mode=DELETE&synchronous=full&foreign_keys=off&busy_timeout=1234`
      const writer = yield* Effect.flatMap(DatabaseAdapterFactory.create(url), (adapter) => adapter.makeClient())
      expect(yield* pragma(writer, "journal_mode")).toBe("delete")
      expect(yield* pragma(writer, "synchronous")).toBe(2)
      expect(yield* pragma(writer, "foreign_keys")).toBe(0)
      expect(yield* pragma(writer, "busy_timeout")).toBe(1234)
      const overridden = yield* Effect.flatMap(
        DatabaseAdapterFactory.create(url, { config: { busyTimeout: "250 millis" } }),
        (adapter) => adapter.makeClient()
      )
      expect(yield* pragma(overridden, "busy_timeout")).toBe(250)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("a read-only connection on the same file sees the writer's commits and cannot write", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const adapter = yield* DatabaseAdapterFactory.create(`sqlite:///${file}`)
      const writer = yield* adapter.makeClient()
      yield* writer`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`
      const reader = yield* adapter.makeClient({ readOnly: true })
      yield* writer`INSERT INTO t (v) VALUES ('a')`
      const rows = yield* reader<{ v: string }>`SELECT v FROM t`
      expect(rows.map((r) => r.v)).toEqual(["a"])
      expect(yield* pragma(reader, "journal_mode")).toBe("wal")
      const error = yield* Effect.flip(reader`INSERT INTO t (v) VALUES ('b')`)
      expect((error.cause as { code?: string }).code).toBe("SQLITE_READONLY")
      const count = yield* writer<{ n: number }>`SELECT count(*) AS n FROM t`
      expect(count[0]!.n).toBe(1)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("mode=rw and mode=ro need the file: a mistyped path fails typed and creates nothing", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      for (const url of [`sqlite:///${file}?mode=rw`, `sqlite:///${file}?mode=ro`]) {
        const error = yield* Effect.flip(Effect.flatMap(DatabaseAdapterFactory.create(url), (a) => a.makeClient()))
        expect(error._tag).toBe("ConnectionFailed")
        expect(error.message).toContain("unable to open database file (SQLITE_CANTOPEN)")
        expect(existsSync(file)).toBe(false)
      }
      // rwc, the default, creates it; then rw opens it read-write.
      yield* Effect.flatMap(DatabaseAdapterFactory.create(`sqlite:///${file}?mode=rwc`), (a) => a.makeClient())
      expect(existsSync(file)).toBe(true)
      const rw = yield* Effect.flatMap(
        DatabaseAdapterFactory.create(`sqlite:///${file}?mode=rw`),
        (a) => a.makeClient()
      )
      yield* rw`CREATE TABLE t (id INTEGER PRIMARY KEY)`
      expect(yield* pragma(rw, "journal_mode")).toBe("wal")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("openMode \"ro\": every connection of the node reads and none writes, the file left as it was", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const writer = yield* Effect.flatMap(DatabaseAdapterFactory.create(`sqlite:///${file}`), (a) => a.makeClient())
      yield* writer`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`
      yield* writer`INSERT INTO t (v) VALUES ('a')`
      const ro = yield* Effect.flatMap(
        DatabaseAdapterFactory.create(`sqlite:///${file}`, { config: { openMode: "ro" } }),
        (a) => a.makeClient({ verify: true })
      )
      expect((yield* ro<{ v: string }>`SELECT v FROM t`).map((r) => r.v)).toEqual(["a"])
      expect(yield* pragma(ro, "query_only")).toBe(0)
      const error = yield* Effect.flip(ro`INSERT INTO t (v) VALUES ('b')`)
      expect((error.cause as { code?: string }).code).toBe("SQLITE_READONLY")
      expect((yield* writer<{ n: number }>`SELECT count(*) AS n FROM t`)[0]!.n).toBe(1)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scoped("detects the bundled SQLite version and derives features from the static table", () =>
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create("sqlite://:memory:")
      const client = yield* adapter.makeClient()
      const detected = yield* adapter.detectFeatures(client)
      expect(detected.version.product).toBe("sqlite")
      expect(`${detected.version.major}.${detected.version.minor}.${detected.version.patch}`).toBe(
        SQLiteAdapter.bundledVersion()
      )
      expect(detected.features).toEqual(DatabaseFeatures.featuresFor(detected.version))
      // better-sqlite3 12 bundles SQLite 3.5x: everything the table gates on version is there.
      expect(detected.features.supportsReturning && detected.features.supportsJsonFields).toBe(true)
      expect(adapter.features).toEqual(detected.features)
    }).pipe(Effect.provide(Reactivity.layer)))
})
