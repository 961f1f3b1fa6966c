/**
 * Quick start on SQLite, with no server: `FastOrm.layer` with a writer connection and a read-only reader connection
 * on one WAL file, which is SQLite's form of a primary and a replica. The same program runs on PostgreSQL and
 * MariaDB clusters by changing the URLs (see postgres-replicas.ts and mariadb-replicas.ts).
 *
 *   npm start
 */
import { DatabaseAdapterFactory } from "@fastorm/adapters"
import { Database, Model, ReadConnection, Repository, WriteConnection } from "@fastorm/core"
import { ConnectionRouter, FastOrm } from "@fastorm/replication"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

class User extends Model.Class<User>("User")({
  id: Model.Generated(Schema.Int),
  name: Schema.String,
  email: Schema.String,
  status: Schema.String
}) {}

const UserRepo = Repository.make(User, { table: "users", idColumn: "id" })

const showStats = (title: string) =>
  Effect.gen(function*() {
    const router = yield* ConnectionRouter.ConnectionRouter
    const stats = yield* router.stats
    yield* Console.log(title)
    yield* Console.table(
      Object.entries(stats.byNodeAndReason).map(([key, statements]) => {
        const [node, reason] = key.split("|")
        return { node, reason, statements }
      })
    )
    yield* router.resetStats
  })

/** The seed's program: nothing in it knows about SQLite, replicas or routing. */
const program = Effect.gen(function*() {
  const user = yield* UserRepo.create({ name: "John", email: "john@example.com", status: "active" })
  yield* UserRepo.create({ name: "Ada", email: "ada@example.com", status: "idle" })
  const fresh = yield* UserRepo.find(user.id, { forceWrite: true }) // read-your-own-write on the primary
  const active = yield* UserRepo.where("status", "active").forceWrite().get()
  yield* Database.transaction(Effect.gen(function*() { // every statement on the primary
    const again = yield* UserRepo.find(user.id) // routed to the primary: WriteOnly
    yield* Console.log(`in the transaction: ${Option.getOrThrow(again).name} is ${Option.getOrThrow(again).status}`)
    yield* UserRepo.update(user.id, { status: "idle" })
  }))
  yield* Console.log(`created ${user.name} (id ${user.id}); forced find: ${Option.getOrThrow(fresh).email}`)
  yield* Console.log(`active (forced): ${active.map((u) => u.name).join(", ")}`)
})

const main = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "fastorm-quickstart-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  // Three slashes then an absolute path: sqlite:////tmp/.../app.db. The reader opens the same file read-only.
  const url = `sqlite:///${join(dir, "app.db")}`

  yield* Effect.gen(function*() {
    const write = yield* WriteConnection
    const read = yield* ReadConnection
    yield* write`CREATE TABLE users (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL,
      email TEXT NOT NULL UNIQUE,
      status TEXT NOT NULL
    )`
    yield* (yield* ConnectionRouter.ConnectionRouter).resetStats

    yield* program
    yield* showStats("\nWhere the statements ran (statements inside the transaction use its own connection):")

    const users = yield* UserRepo.all()
    const idle = yield* UserRepo.where("status", "idle").get()
    yield* Console.log("Read through ReadConnection (the reader):")
    yield* Console.table(users.map((u) => ({ id: u.id, name: u.name, status: u.status })))
    yield* Console.log(`idle: ${idle.map((u) => u.name).join(", ")}`)
    yield* read`INSERT INTO users (name, email, status) VALUES ('Eve', 'eve@example.com', 'active')`
    yield* showStats("Ordinary reads on the reader; a write sent through ReadConnection was routed to the writer:")

    // The adapter of the same URL knows the dialect's features and the configuration it applies to each connection.
    const adapter = yield* DatabaseAdapterFactory.create(url, { name: "quickstart" })
    const detected = yield* adapter.detectFeatures(read)
    yield* Console.log(
      `Detected ${detected.version.product} ${detected.version.major}.${detected.version.minor}.${detected.version.patch}, features:`
    )
    yield* Console.table(detected.features)

    const pragma = (name: string) =>
      Effect.map(write.unsafe<Record<string, unknown>>(`PRAGMA ${name}`), (rows) => Object.values(rows[0] ?? {})[0])
    yield* Console.log("Configuration applied, as the writer connection reports it:")
    yield* Console.table({
      journal_mode: yield* pragma("journal_mode"),
      synchronous: yield* pragma("synchronous"),
      cache_size: yield* pragma("cache_size"),
      foreign_keys: yield* pragma("foreign_keys"),
      busy_timeout: yield* pragma("busy_timeout")
    })
  }).pipe(
    Effect.provide(FastOrm.layer({ write: { url, name: "writer" }, read: [{ url, name: "reader" }] }))
  )
})

main.pipe(Effect.scoped, Effect.runPromise).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
