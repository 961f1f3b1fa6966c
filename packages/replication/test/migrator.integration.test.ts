/**
 * The README's schema recipe: @effect/sql's Migrator run through `WriteConnection` (the primary) under
 * `FastOrm.layer`, on PostgreSQL, MariaDB and SQLite. Migrations run once (a second run applies nothing), the
 * tables reach the replicas, and a repository over them works.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Model, Repository, WriteConnection } from "@fastorm/core"
import { admin, waitReplicated } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { FastOrm } from "../src/index.js"
import { backends, noSession } from "./support/cluster.js"

class Note extends Model.Class<Note>("Note")({
  id: Model.Generated(Schema.Int),
  body: Schema.String,
  pinned: Schema.Int
}) {}

/** Two migrations for `table`: create it, then add a column. */
const migrations = (table: string, dialect: "postgres" | "mariadb" | "sqlite") => ({
  [`0001_create_${table}`]: Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe(
      dialect === "postgres"
        ? `CREATE TABLE ${table} (id SERIAL PRIMARY KEY, body TEXT NOT NULL)`
        : dialect === "mariadb"
        ? `CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT NOT NULL)`
        : `CREATE TABLE ${table} (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)`
    )),
  [`0002_pin_${table}`]: Effect.flatMap(
    SqlClient.SqlClient,
    (sql) => sql.unsafe(`ALTER TABLE ${table} ADD COLUMN pinned INT NOT NULL DEFAULT 0`)
  )
})

/** The recipe: the Migrator on the primary, as the plain SqlClient it asks for. */
const migrate = (table: string, dialect: "postgres" | "mariadb" | "sqlite") =>
  Migrator.make({})({
    loader: Migrator.fromRecord(migrations(table, dialect)),
    table: `${table}_migrations`
  }).pipe(Effect.provideServiceEffect(SqlClient.SqlClient, WriteConnection))

let runs = 0
const uniqueTable = () => `migrated_${process.pid}_${Date.now().toString(36)}_${++runs}`

for (const b of backends()) {
  describe(`the Migrator through WriteConnection on ${b.name}`, () => {
    it.scopedLive(
      "applies each migration once, on the primary; the tables replicate and a repository uses them",
      () =>
        Effect.gen(function*() {
          const table = uniqueTable()
          yield* Effect.addFinalizer(() =>
            Effect.orDie(Effect.forEach(
              [`DROP TABLE IF EXISTS ${table}`, `DROP TABLE IF EXISTS ${table}_migrations`],
              (s) => admin(b.nodes.primary, s),
              { discard: true }
            ))
          )
          const first = yield* noSession(migrate(table, b.name))
          const second = yield* noSession(migrate(table, b.name))
          expect(first).toEqual([[1, `create_${table}`], [2, `pin_${table}`]])
          expect(second).toEqual([])
          const Notes = Repository.make(Note, { table, idColumn: "id" })
          const note = yield* noSession(Notes.create({ body: "hello", pinned: 1 }))
          yield* Effect.promise(() => waitReplicated(b.nodes, { timeoutMs: 20_000 }))
          // An ordinary read: on a replica, which has the migrated table and the row.
          expect(yield* noSession(Notes.find(note.id))).toEqual(Option.some(note))
        }).pipe(
          Effect.provide(FastOrm.layer({ write: b.nodes.primary.url, read: b.nodes.replicas.map((r) => r.url) }))
        ),
      60_000
    )
  })
}

describe("the Migrator through WriteConnection on SQLite", () => {
  it.scopedLive("applies each migration once; the reader sees the tables", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fastorm-migrate-"))),
        (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
      )
      const file = Path.join(dir, "app.db")
      const table = uniqueTable()
      const run = Effect.gen(function*() {
        const first = yield* migrate(table, "sqlite")
        const second = yield* migrate(table, "sqlite")
        const Notes = Repository.make(Note, { table, idColumn: "id" })
        const note = yield* Notes.create({ body: "hello", pinned: 0 })
        return { first, second, found: yield* Notes.find(note.id), note }
      })
      const result = yield* Effect.provide(
        run,
        FastOrm.layer({ write: `sqlite:///${file}`, read: `sqlite:///${file}` })
      )
      expect(result.first).toEqual([[1, `create_${table}`], [2, `pin_${table}`]])
      expect(result.second).toEqual([])
      expect(result.found).toEqual(Option.some(result.note))
    }), 60_000)
})
