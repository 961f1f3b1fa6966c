/**
 * `FastOrm.layer` configuration on SQLite (no server needed): every bad option is a typed error of the layer that
 * lists every problem of its kind, never a defect; one read URL or a list; the default cluster name.
 */
import { describe, expect, it } from "@effect/vitest"
import { Repository, WriteConnection } from "@fastorm/core"
import { Model, Schema } from "@fastorm/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ConnectionRouter, FastOrm, ReadWriteConfig } from "../src/index.js"

class Item extends Model.Class<Item>("Item")({ id: Model.Generated(Schema.Int), label: Schema.String }) {}
const Items = Repository.make(Item, { table: "items", idColumn: "id" })

/** A fresh directory, removed with the test's scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fastorm-layer-config-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** How building the layer ended: "started", or its typed failure's tag and message (a defect fails the test). */
const start = (
  config: FastOrm.FastOrmConfig
): Effect.Effect<{ readonly _tag: string; readonly message: string }, never, Scope.Scope> =>
  Effect.flatMap(Effect.exit(Layer.build(FastOrm.layer(config))), (exit) => {
    if (Exit.isSuccess(exit)) return Effect.succeed({ _tag: "started", message: "" })
    const failure = Cause.failureOption(exit.cause)
    if (Option.isNone(failure)) return Effect.die(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
    return Effect.succeed({ _tag: failure.value._tag, message: failure.value.message })
  })

describe("FastOrm.layer configuration", () => {
  it.scopedLive("read takes one URL as well as a list", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "app.db")
      const program = Effect.gen(function*() {
        const write = yield* WriteConnection
        yield* write`CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL)`
        const created = yield* Items.create({ label: "one" })
        const router = yield* ConnectionRouter.ConnectionRouter
        expect(router.replicas).toEqual(["replica-1"])
        yield* router.resetStats
        expect(Option.map(yield* Items.find(created.id), (i) => i.label)).toEqual(Option.some("one"))
        expect((yield* router.stats).byNode).toEqual({ "replica-1": 1 })
      })
      yield* Effect.scoped(
        Effect.provide(program, FastOrm.layer({ write: `sqlite:///${file}`, read: `sqlite:///${file}` }))
      )
    }))

  it.scopedLive("the SQLAlchemy spelling sqlite+aiosqlite:// starts the layer", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "app.db")
      const started = yield* start({ write: `sqlite+aiosqlite:///${file}`, read: [`sqlite+pysqlite:///${file}`] })
      expect(started._tag).toBe("started")
    }))

  it.scopedLive("pool: every problem in one InvalidPoolConfig, before anything is opened", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "app.db")
      const failed = yield* start({
        write: `sqlite:///${file}`,
        // The typed config refuses these; JavaScript and `Config` callers can still pass them.
        pool: { busyTimeout: "soon", cacheSizeKiB: -1, poolSize: 3 } as any
      })
      expect(failed._tag).toBe("InvalidPoolConfig")
      expect(failed.message).toBe(
        "Invalid connection settings: busyTimeout must be a finite duration, e.g. \"5 seconds\" or a number of " +
          "milliseconds; cacheSizeKiB must be a non-negative integer; \"poolSize\" does not apply to SQLite (it is a " +
          "PostgreSQL and MySQL/MariaDB setting)"
      )
      expect(Fs.existsSync(file)).toBe(false)
    }))

  it("pool is typed: a key of no dialect does not compile", () => {
    // @ts-expect-error a typo of poolSize
    const _typo: FastOrm.FastOrmConfig = { write: "sqlite://:memory:", pool: { poolsize: 3 } }
    // @ts-expect-error not a duration
    const _soon: FastOrm.FastOrmConfig = { write: "sqlite://:memory:", pool: { busyTimeout: "soon" } }
    const _ok: FastOrm.FastOrmConfig = { write: "sqlite://:memory:", pool: { busyTimeout: "1 second" } }
    expect(_ok.pool).toBeDefined()
  })

  it.scopedLive("health: a duration that does not parse is InvalidHealthConfig listing every problem", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "app.db")
      const failed = yield* start({
        write: `sqlite:///${file}`,
        health: { interval: "soon", timeout: "later", failureThreshold: 0 } as any
      })
      expect(failed._tag).toBe("InvalidHealthConfig")
      expect(failed.message).toBe(
        "Invalid health monitor configuration: interval must be a finite duration, e.g. \"2 seconds\" or a number of " +
          "milliseconds; timeout must be a finite duration, e.g. \"2 seconds\" or a number of milliseconds; " +
          "failureThreshold must be an integer >= 1"
      )
    }))

  it.scopedLive("readWrite: forcePrimaryForTransaction and unknown keys are refused, with what to use instead", () =>
    Effect.gen(function*() {
      const failed = yield* start({
        write: "sqlite://:memory:",
        readWrite: { forcePrimaryForTransaction: false, stratgy: "random" } as any
      })
      expect(failed._tag).toBe("InvalidReadWriteConfig")
      expect(failed.message).toContain(
        "forcePrimaryForTransaction is not an option: statements inside Database.transaction always run on its connection"
      )
      expect(failed.message).toContain("unknown option \"stratgy\" (options: enableReadWriteSplit, readPreference")
    }))

  it.scopedLive("a SQLite reader of a private in-memory database is refused", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "app.db")
      const failed = yield* start({ write: `sqlite:///${file}`, read: "sqlite://:memory:" })
      expect(failed._tag).toBe("InvalidCluster")
      expect(failed.message).toBe(
        "Invalid cluster: replica-1 is sqlite://:memory:, a private in-memory database that cannot see the primary's " +
          "data: read the primary's own file (sqlite:///app.db), or give no read URL"
      )
    }))

  it.scopedLive("a SQLite reader that cannot be opened fails the layer with ConnectionFailed naming the problem", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "app.db")
      const missingFile = yield* start({ write: `sqlite:///${file}`, read: `sqlite:///${Path.join(dir, "other.db")}` })
      expect(missingFile._tag).toBe("ConnectionFailed")
      expect(missingFile.message).toBe(
        "Could not connect to database node \"replica-1\": unable to open database file (SQLITE_CANTOPEN)"
      )
      const missingFolder = yield* start({
        write: `sqlite:///${file}`,
        read: { url: `sqlite:///${Path.join(dir, "nowhere", "app.db")}`, name: "reader" }
      })
      expect(missingFolder._tag).toBe("ConnectionFailed")
      expect(missingFolder.message).toBe(
        "Could not connect to database node \"reader\": Cannot open database because the directory does not exist"
      )
    }))

  it.scopedLive("a SQLite primary in a missing folder: PrimaryUnavailable says what happened and after how long", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "nowhere", "app.db")
      const failed = yield* start({ write: `sqlite:///${file}` })
      expect(failed._tag).toBe("PrimaryUnavailable")
      expect(failed.message).toMatch(
        new RegExp(
          `^The primary "primary" is unavailable: Cannot open database because the directory does not exist ` +
            `after \\d+ ms, connecting to ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`
        )
      )
    }))

  it.scopedLive("the default cluster name is the primary's identity; an explicit name wins", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const name = (config: FastOrm.FastOrmConfig) =>
        Effect.scoped(
          Effect.provide(Effect.map(ConnectionRouter.ConnectionRouter, (r) => r.cluster), FastOrm.layer(config))
        )
      const a = Path.join(dir, "a.db")
      const b = Path.join(dir, "b.db")
      expect(yield* name({ write: `sqlite:///${a}` })).toBe(a)
      expect(yield* name({ write: `sqlite:///${b}` })).toBe(b)
      expect(yield* name({ write: `sqlite:///${a}`, name: "users" })).toBe("users")
    }))
})

describe("ReadWriteConfig.resolve", () => {
  const problems = (config: unknown) =>
    Either.match(ReadWriteConfig.resolve(config as ReadWriteConfig.ReadWriteConfig), {
      onLeft: (e) => e.problems,
      onRight: () => []
    })

  it("accepts every documented option and applies the defaults", () => {
    const resolved = Either.getOrThrow(ReadWriteConfig.resolve({ strategy: "random", startDegraded: true }))
    expect(resolved.strategy).toBe("random")
    expect(resolved.consistency).toBe("session")
    expect(Object.keys(resolved).sort()).toEqual(Object.keys(ReadWriteConfig.defaults).sort())
    expect("forcePrimaryForTransaction" in resolved).toBe(false)
  })

  it("lists every problem: removed and unknown keys, wrong types, values out of range", () => {
    expect(problems({
      forcePrimaryForTransaction: true,
      readPrefrence: "primary",
      "p@ss": 1,
      enableReadWriteSplit: "yes",
      degradedWeight: 2,
      sessionWaitTimeout: "soon"
    })).toEqual([
      "forcePrimaryForTransaction is not an option: statements inside Database.transaction always run on its " +
      "connection (README, \"Guarantees and their limits\")",
      "unknown option \"readPrefrence\" (options: enableReadWriteSplit, readPreference, consistency, strategy, " +
      "maxReplicationLag, sessionWaitTimeout, primaryWaitTimeout, statementTimeout, connectTimeout, " +
      "maxFallbackConcurrency, degradedWeight, startDegraded)",
      "an option with an unexpected name (not shown)",
      "enableReadWriteSplit must be true or false",
      "sessionWaitTimeout must be a finite duration of at least 0 ms",
      "degradedWeight must be in [0, 1]"
    ])
  })

  it("forcePrimaryForTransaction does not compile", () => {
    // @ts-expect-error removed: statements inside Database.transaction always run on its connection
    const _config: ReadWriteConfig.ReadWriteConfig = { forcePrimaryForTransaction: true }
    expect(_config).toBeDefined()
  })
})
