/**
 * Quick start on SQLite, with no server: a writer connection and a read-only reader connection on one WAL file,
 * which is SQLite's form of a primary and a replica.
 *
 *   npm start
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { DatabaseAdapterFactory } from "@fastorm/adapters"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const program = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "fastorm-quickstart-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  // Three slashes then an absolute path: sqlite:////tmp/.../app.db
  const adapter = yield* DatabaseAdapterFactory.create(`sqlite:///${join(dir, "app.db")}`, { name: "quickstart" })
  const writer = yield* adapter.makeClient()
  const reader = yield* adapter.makeClient({ readOnly: true })

  yield* writer`CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL
  )`
  yield* writer`INSERT INTO users ${
    writer.insert([
      { name: "John", email: "john@example.com", status: "active" },
      { name: "Ada", email: "ada@example.com", status: "idle" }
    ])
  }`

  const users = yield* reader<
    { id: number; name: string; status: string }
  >`SELECT id, name, status FROM users ORDER BY id`
  yield* Console.log("Read through the read-only connection:")
  yield* Console.table(users)

  const refused = yield* reader`INSERT INTO users (name, email, status) VALUES ('Eve', 'eve@example.com', 'x')`.pipe(
    Effect.flip,
    Effect.map((error) => String((error.cause as { code?: string } | undefined)?.code ?? error.message))
  )
  yield* Console.log(`A write through the reader is refused: ${refused}`)

  const detected = yield* adapter.detectFeatures(reader)
  yield* Console.log(
    `\nDetected ${detected.version.product} ${detected.version.major}.${detected.version.minor}.${detected.version.patch}, features:`
  )
  yield* Console.table(detected.features)

  const pragma = (name: string) =>
    Effect.map(writer.unsafe<Record<string, unknown>>(`PRAGMA ${name}`), (rows) => Object.values(rows[0] ?? {})[0])
  yield* Console.log("Configuration applied, as the writer connection reports it:")
  yield* Console.table({
    journal_mode: yield* pragma("journal_mode"),
    synchronous: yield* pragma("synchronous"),
    cache_size: yield* pragma("cache_size"),
    foreign_keys: yield* pragma("foreign_keys"),
    busy_timeout: yield* pragma("busy_timeout")
  })
})

program.pipe(Effect.scoped, Effect.provide(Reactivity.layer), Effect.runPromise).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
