/**
 * SQLite through `FastOrm.layer`: a writer connection and read-only reader connections on one WAL file run the same
 * programs as the server clusters. Reads go to the readers, writes to the writer, tokens are no-ops.
 */
import { describe, expect, it } from "@effect/vitest"
import { Database, Model, ReadConnection, Repository, WriteConnection } from "@fastorm/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ConnectionRouter, FastOrm } from "../src/index.js"
import type { ReadWriteConfig } from "../src/index.js"

class User extends Model.Class<User>("User")({
  id: Model.Generated(Schema.Int),
  name: Schema.String,
  email: Schema.String,
  status: Schema.String
}) {}

const Users = Repository.make(User, { table: "users", idColumn: "id" })

/** A fresh database file, removed with the test's scope. */
const tempFile = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fastorm-sqlite-test-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  ),
  (dir) => Path.join(dir, "app.db")
)

/** Runs `program` against a writer and two readers on one fresh file, with the table created. */
const onSqlite = <A, E>(
  program: Effect.Effect<A, E, FastOrm.Services>,
  readWrite: ReadWriteConfig.ReadWriteConfig = {}
) =>
  Effect.flatMap(tempFile, (file) =>
    Effect.gen(function*() {
      const write = yield* WriteConnection
      yield* write`CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        email TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL
      )`
      yield* (yield* ConnectionRouter.ConnectionRouter).resetStats
      return yield* program
    }).pipe(
      Effect.provide(FastOrm.layer({
        write: `sqlite:///${file}`,
        read: [`sqlite:///${file}`, { url: `sqlite:///${file}`, name: "reader-b" }],
        readWrite,
        health: { interval: "200 millis" }
      }))
    ))

const stats = Effect.flatMap(ConnectionRouter.ConnectionRouter, (router) => router.stats)

describe("FastOrm.layer on SQLite", () => {
  it.scopedLive("the seed's program: create, forced reads, queries and a transaction", () =>
    onSqlite(Effect.gen(function*() {
      const john = yield* Users.create({ name: "John", email: "john@example.com", status: "active" })
      expect(john.id).toBeGreaterThan(0)
      const fresh = yield* Users.find(john.id, { forceWrite: true })
      expect(Option.map(fresh, (u) => u.email)).toEqual(Option.some("john@example.com"))
      const active = yield* Users.where("status", "active").forceWrite().get()
      expect(active.map((u) => u.name)).toEqual(["John"])

      const inside = yield* Database.transaction(Effect.gen(function*() {
        const again = yield* Users.find(john.id)
        yield* Users.update(john.id, { status: "idle" })
        // Read back inside the transaction: the transaction's own connection sees its uncommitted write.
        return [again, yield* Users.find(john.id)] as const
      }))
      expect(Option.map(inside[0], (u) => u.status)).toEqual(Option.some("active"))
      expect(Option.map(inside[1], (u) => u.status)).toEqual(Option.some("idle"))
      // Committed: a reader sees it.
      expect(Option.map(yield* Users.find(john.id), (u) => u.status)).toEqual(Option.some("idle"))
    })))

  it.scopedLive("ordinary reads run on the reader connections, alternating, and none on the writer", () =>
    onSqlite(Effect.gen(function*() {
      yield* Users.createMany([
        { name: "Ada", email: "ada@example.com", status: "active" },
        { name: "Bob", email: "bob@example.com", status: "idle" }
      ])
      const router = yield* ConnectionRouter.ConnectionRouter
      yield* router.resetStats
      for (let i = 0; i < 10; i++) {
        expect(yield* Users.count()).toBe(2)
      }
      expect((yield* Users.where("status", "idle").get()).map((u) => u.name)).toEqual(["Bob"])
      const s = yield* stats
      expect(s.byNode).toEqual({ "replica-1": 6, "reader-b": 5 })
      expect(s.byReason).toEqual({ ordinary: 11 })
    })))

  it.scopedLive("a write through ReadConnection is routed to the writer", () =>
    onSqlite(Effect.gen(function*() {
      const read = yield* ReadConnection
      yield* read`INSERT INTO users (name, email, status) VALUES ('Eve', 'eve@example.com', 'active')`
      const s = yield* stats
      expect(s.byNodeAndReason).toEqual({ "primary|write": 1 })
      expect(yield* Users.count({ forceWrite: true })).toBe(1)
    })))

  it.scopedLive("forced reads and reads inside a transaction run on the writer", () =>
    onSqlite(Effect.gen(function*() {
      const read = yield* ReadConnection
      yield* Database.forceWrite(read`SELECT count(*) AS n FROM users`)
      yield* Database.transaction(read`SELECT count(*) AS n FROM users`)
      // A transaction's statements (BEGIN, the read, COMMIT) run on its own connection and are counted as such.
      const s = yield* stats
      expect(s.byNodeAndReason).toEqual({ "primary|forceWrite": 1, "primary|transaction": 3 })
    })))

  it.scopedLive("session tokens are no-ops: no token after a write, and the next read never waits", () =>
    onSqlite(
      Effect.gen(function*() {
        const created = yield* Users.create({ name: "Kim", email: "kim@example.com", status: "active" })
        expect(yield* FastOrm.sessionToken).toEqual(Option.none())
        const router = yield* ConnectionRouter.ConnectionRouter
        yield* router.resetStats
        // One file: the reader sees the commit at once, so read-your-writes holds without a token.
        const [elapsed, found] = yield* Effect.timed(Users.find(created.id))
        expect(Option.map(found, (u) => u.name)).toEqual(Option.some("Kim"))
        expect((yield* stats).byReason).toEqual({ ordinary: 1 })
        // A session wait would take up to sessionWaitTimeout (2 s here).
        expect(Duration.toMillis(elapsed)).toBeLessThan(1000)
      }),
      { consistency: "session", sessionWaitTimeout: "2 seconds" }
    ))

  it.scopedLive("readWrite options apply: with the split off everything runs on the writer", () =>
    onSqlite(
      Effect.gen(function*() {
        yield* Users.count()
        yield* Users.all()
        expect((yield* stats).byNodeAndReason).toEqual({ "primary|primary": 2 })
      }),
      { enableReadWriteSplit: false }
    ))
})
