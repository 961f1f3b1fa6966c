/**
 * A test layer on SQLite: `WriteConnection` and `ReadConnection` without any server. It lives here rather than in
 * @fastorm/core so that core never needs the native better-sqlite3 module; core's `Testing.recording` wraps it.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type { SqlError } from "@effect/sql/SqlError"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { DriverNotInstalled } from "./AdapterError.js"
import * as SqliteNode from "./internal/sqliteClient.js"
import * as OptimalConfig from "./OptimalConfig.js"

/** Options of the SQLite test layer. */
export interface Options {
  /** The database file; default: a fresh file in a temporary directory, removed when the layer is released. */
  readonly filename?: string | undefined
}

/**
 * `WriteConnection` on a SQLite file in WAL mode and `ReadConnection` on a second, `readonly` connection to the same
 * file: a write through the reader fails with SQLITE_READONLY, like a write reaching a replica would.
 */
export const layer = (
  options?: Options
): Layer.Layer<ReadConnection | WriteConnection, DriverNotInstalled | SqlError> =>
  Layer.scopedContext(Effect.gen(function*() {
    let filename = options?.filename
    if (filename === undefined) {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fastorm-sqlite-"))),
        (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
      )
      filename = Path.join(dir, "primary.db")
    }
    // The primary creates the file and switches it to WAL before the reader opens it read-only. Both are node
    // clients as the SQLite adapter makes them (pragmas, compiled statements, streams).
    const write = yield* SqliteNode.make(filename, OptimalConfig.sqlite, { alias: "sqlite-primary", readOnly: false })
    const read = yield* SqliteNode.make(filename, OptimalConfig.sqlite, { alias: "sqlite-reader", readOnly: true })
    return Context.make(WriteConnection, write).pipe(Context.add(ReadConnection, read))
  })).pipe(Layer.provide(Reactivity.layer))
