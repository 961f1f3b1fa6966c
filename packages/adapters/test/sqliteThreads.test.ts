import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import * as TestSupport from "@fastorm/test-support"
import Sqlite from "better-sqlite3"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { DatabaseAdapterFactory } from "../src/index.js"
import * as SqliteConnection from "../src/internal/sqliteConnection.js"
import * as Threads from "../src/internal/sqliteThreads.js"

const tempFile = TestSupport.tempFile("fastorm-threads-")

// SQLite's own work and one row: tens of milliseconds on any machine, far over the bound for a reader thread.
const slowCount = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) " +
  "SELECT count(*) AS n, sum(x) AS total, json_extract(?, '$.tag') AS tag FROM c"
const slowRows = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) " +
  "SELECT x AS n, 'row ' || x AS label FROM c WHERE x % 50000 = 0"

/** A writer and a reader on one new file; the reader with `readerThreads` threads. */
const nodes = (readerThreads: number) =>
  Effect.gen(function*() {
    const file = yield* tempFile
    const adapter = yield* DatabaseAdapterFactory.create(`sqlite:///${file}`, { config: { readerThreads } })
    const writer = yield* adapter.makeClient()
    yield* writer`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`
    const reader = yield* adapter.makeClient({ readOnly: true })
    return { writer, reader }
  })

const warm = [300_000, "{\"tag\":\"warm\"}"]

/** Forks the slow count on `reader` and says whether it had ended 1 ms later: whether it held the event loop. */
const heldTheEventLoop = (reader: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    // A million rows: hundreds of milliseconds on a thread, room for a loaded machine to be late with the 1 ms timer.
    const fiber = yield* Effect.fork(
      reader.unsafe<{ n: number; tag: string }>(slowCount, [1_000_000, "{\"tag\":\"x\"}"])
    )
    yield* Effect.sleep("1 millis")
    const done = Option.isSome(yield* Fiber.poll(fiber))
    const rows = yield* Fiber.join(fiber)
    expect(rows).toEqual([{ n: 1_000_000, total: 500_000_500_000, tag: "x" }])
    return done
  })

/** Measures the slow count twice; its third run starts the threads, waits for one, and leaves the event loop. */
const onAThread = (reader: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2; i++) yield* reader.unsafe(slowCount, warm)
    expect(yield* heldTheEventLoop(reader)).toBe(false)
  })

/** Starts `threads` and waits until one has opened its connection. */
const started = (threads: Threads.ReaderThreads) =>
  Effect.gen(function*() {
    expect(yield* threads.ready).toBe(true)
    expect(threads.available()).toBe(true)
  })

describe("SQLite reader threads", () => {
  it.scopedLive("a slow read leaves the event loop once measured: the threads start then, and it runs there", () =>
    Effect.gen(function*() {
      const { reader } = yield* nodes(2)
      yield* onAThread(reader)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("with readerThreads 0 the same read holds the event loop until it ends, every time", () =>
    Effect.gen(function*() {
      const { reader } = yield* nodes(0)
      for (let i = 0; i < 2; i++) yield* reader.unsafe(slowCount, warm)
      for (let i = 0; i < 3; i++) {
        expect(yield* heldTheEventLoop(reader)).toBe(true)
        // Time in which threads, were there any, would have started.
        yield* Effect.sleep("200 millis")
      }
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("no thread runs before start: a read is answered stopped at once", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      yield* Effect.sync(() => new Sqlite(file).exec("PRAGMA journal_mode = WAL").close())
      const threads = yield* Threads.make(1, { filename: file, pragmas: [], busyTimeoutMs: 1000 })
      const answers: Array<boolean | undefined> = []
      threads.run("SELECT 1", [], false, (_error, _names, _values, _micros, stopped) => answers.push(stopped))
      expect(answers).toEqual([true])
      yield* Effect.sleep("200 millis")
      expect(threads.available()).toBe(false)
      yield* started(threads)
    }))

  it.scopedLive("without a driver file a thread could load (a bundle), no thread starts: reads are answered stopped", () =>
    Effect.gen(function*() {
      const logs = TestSupport.captureLogs()
      const file = yield* tempFile
      yield* Effect.sync(() => new Sqlite(file).exec("PRAGMA journal_mode = WAL").close())
      const threads = yield* Threads.make(2, { filename: file, pragmas: [], busyTimeoutMs: 1000 }, () => undefined)
        .pipe(Effect.provide(logs.layer), Logger.withMinimumLogLevel(LogLevel.Debug))
      // Ready at once with none: the first slow read does not wait for threads that cannot come.
      expect(yield* threads.ready.pipe(Effect.timeout("1 second"))).toBe(false)
      expect(threads.available()).toBe(false)
      const answers: Array<boolean | undefined> = []
      threads.run("SELECT 1", [], false, (_error, _names, _values, _micros, stopped) => answers.push(stopped))
      expect(answers).toEqual([true])
      // Said once, quietly: a bundle without the file is a supported way to run, not a fault.
      expect(logs.lines.map((line) => [line.level, line.message])).toEqual([
        ["DEBUG", "better-sqlite3 has no file a reader thread could load: reads stay on the event loop"]
      ])
    }))

  it.scopedLive("a thread that cannot open the file does not start: one warning, and its reads stay stopped", () =>
    Effect.gen(function*() {
      const logs = TestSupport.captureLogs()
      const file = yield* tempFile
      // Never created: a thread opens the file read-only and must find it.
      const threads = yield* Threads.make(2, { filename: file, pragmas: [], busyTimeoutMs: 1000 }).pipe(
        Effect.provide(logs.layer)
      )
      expect(yield* threads.ready).toBe(false)
      // Both threads have stopped: a second warning would have been logged by now.
      yield* Effect.sleep("200 millis")
      const warnings = () => logs.lines.filter((line) => line.level === "WARN")
      expect(warnings().map((line) => line.message)).toEqual([
        expect.stringMatching(
          /^A SQLite reader thread did not start: its reads run on the client's connection SqlError: Failed to open/
        )
      ])
      expect(threads.available()).toBe(false)
    }))

  it.scopedLive("rows, arrays of values (marked or not) and safe integers come back from a thread as from the writer's", () =>
    Effect.gen(function*() {
      const { reader, writer } = yield* nodes(2)
      yield* onAThread(reader)
      const expected = yield* writer.unsafe(slowRows)
      expect(expected).toHaveLength(6)
      for (let i = 0; i < 3; i++) expect(yield* reader.unsafe(slowRows)).toEqual(expected)
      expect(yield* reader.unsafe(slowRows).values).toEqual(yield* writer.unsafe(slowRows).values)
      // Asked for arrays (`CompiledStatement.asArrays`): arrays marked with their columns.
      const arrays = yield* CompiledStatement.run(
        reader,
        CompiledStatement.asArrays(CompiledStatement.make(slowRows)),
        []
      )
      expect(CompiledStatement.columnsOf(arrays)).toEqual(Object.keys(expected[0]!))
      expect(CompiledStatement.rowObjects(arrays)).toEqual(expected)
      const safe = yield* reader.unsafe<{ n: bigint }>(slowRows).pipe(
        Effect.provideService(SqlClient.SafeIntegers, true)
      )
      expect(safe.map((row) => row.n)).toEqual([50_000n, 100_000n, 150_000n, 200_000n, 250_000n, 300_000n])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a thread sees the writer's commits", () =>
    Effect.gen(function*() {
      const { reader, writer } = yield* nodes(2)
      yield* onAThread(reader)
      const count = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) " +
        "SELECT (SELECT count(*) FROM c) AS spin, (SELECT count(*) FROM t) AS n"
      for (let i = 0; i < 2; i++) yield* reader.unsafe(count)
      for (let n = 1; n <= 3; n++) {
        yield* writer`INSERT INTO t (v) VALUES (${`v${n}`})`
        expect(yield* reader.unsafe(count)).toEqual([{ spin: 300_000, n }])
      }
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a statement that fails on a thread fails with a SqlError carrying SQLite's code", () =>
    Effect.gen(function*() {
      const { reader } = yield* nodes(2)
      yield* onAThread(reader)
      const error = yield* Effect.flip(reader.unsafe(slowCount, [300_000, "not json"]))
      expect(error).toBeInstanceOf(SqlError)
      expect(error.message).toBe("Failed to execute statement")
      expect(String((error.cause as Error).message)).toMatch(/malformed JSON/)
      expect((error.cause as { code?: string }).code).toBe("SQLITE_ERROR")
      // The thread is still there for the next read.
      expect(yield* reader.unsafe(slowCount, [10, "{\"tag\":\"after\"}"])).toEqual([{ n: 10, total: 55, tag: "after" }])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a thread that stops before answering says so: its pending read is reported stopped", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      yield* Effect.sync(() => new Sqlite(file).exec("PRAGMA journal_mode = WAL").close())
      const scope = yield* Scope.make()
      const threads = yield* Threads.make(1, { filename: file, pragmas: [], busyTimeoutMs: 1000 }).pipe(
        Scope.extend(scope)
      )
      yield* started(threads)
      const answer = yield* Deferred.make<{ readonly stopped: boolean; readonly error: string | undefined }>()
      threads.run(slowCount, [3_000_000, "{}"], false, (error, _names, _values, _micros, stopped) => {
        Deferred.unsafeDone(answer, Exit.succeed({ stopped: stopped === true, error: error?.message }))
      })
      yield* Scope.close(scope, Exit.void)
      expect(yield* Deferred.await(answer)).toEqual({ stopped: true, error: "A SQLite reader thread stopped" })
      expect(threads.available()).toBe(false)
    }))

  it.scoped("a read whose thread stopped runs on the client's own connection instead, and loses nothing", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const db = yield* Effect.acquireRelease(
        Effect.sync(() => new Sqlite(file)),
        (db) => Effect.sync(() => db.close())
      )
      let asked = 0
      const stopping: Threads.ReaderThreads = {
        available: () => true,
        ready: Effect.succeed(true),
        run: (_sql, _params, _safe, done) => {
          asked++
          done(new SqlError({ cause: undefined, message: "A SQLite reader thread stopped" }), [], [], 0, true)
        }
      }
      const { connection } = SqliteConnection.make(
        db,
        () => ({ executeStream: () => Stream.empty, executeStreamBatches: () => Stream.empty }),
        stopping
      )
      for (let i = 0; i < 2; i++) yield* connection.execute(slowCount, warm, undefined)
      expect(asked).toBe(0)
      const rows = yield* connection.execute(slowCount, [300_000, "{\"tag\":\"x\"}"], undefined)
      expect(asked).toBe(1)
      expect(rows).toEqual([{ n: 300_000, total: 45_000_150_000, tag: "x" }])
    }))

  it.scopedLive("a parameter that cannot be copied to a thread is a SqlError, and the thread serves the next read", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      yield* Effect.sync(() => new Sqlite(file).exec("PRAGMA journal_mode = WAL").close())
      const threads = yield* Threads.make(1, { filename: file, pragmas: [], busyTimeoutMs: 1000 })
      yield* started(threads)
      const ask = (params: ReadonlyArray<unknown>) =>
        Effect.async<{ readonly error: string | undefined; readonly values: ReadonlyArray<unknown> }>((resume) =>
          threads.run(
            "SELECT ? AS v",
            params,
            false,
            (error, _names, values) => resume(Effect.succeed({ error: error?.message, values }))
          )
        )
      expect(yield* ask([() => 1])).toEqual({ error: "Failed to execute statement", values: [] })
      expect(yield* ask([7])).toEqual({ error: undefined, values: [[7]] })
    }))

  it.scoped("a bad readerThreads value is a typed configuration error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        DatabaseAdapterFactory.create("sqlite:///app.db", { config: { readerThreads: -1 } })
      )
      expect(String(error.message)).toMatch(/readerThreads must be a non-negative integer/)
    }))
})
