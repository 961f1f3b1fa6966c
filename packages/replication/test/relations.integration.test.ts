/**
 * Eager loads on the real clusters, through `FastOrm.layer` with round-robin replicas (which would alternate the
 * statements of a load between the two): every statement of one load runs on one node, by the router's count and
 * by the servers' own word (each row carries the port of the server that read it); the session's own writes are
 * seen by the whole load; a transaction's load runs on the primary.
 *
 * The tables are the test's own (unique names), each read through a view that adds the answering server's port.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Database, Model, ReadConnection, Relations, Repository, WriteConnection } from "@fastorm/core"
import type { NodeInfo } from "@fastorm/test-support"
import { admin, waitReplicated } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ConnectionRouter } from "../src/index.js"
import type { Backend } from "./support/cluster.js"
import { backends, fastOrm, nodeByPort, noSession, pausedReplay, report, warmUp } from "./support/cluster.js"

class Author extends Model.Class<Author>("Author")({
  id: Schema.Int,
  name: Schema.String,
  port: Schema.Number
}) {}

class Note extends Model.Class<Note>("Note")({
  id: Schema.Int,
  authorId: Schema.Int,
  body: Schema.String,
  port: Schema.Number
}) {}

class Reply extends Model.Class<Reply>("Reply")({
  id: Schema.Int,
  noteId: Schema.Int,
  body: Schema.String,
  port: Schema.Number
}) {}

/** A note as written (the base table, not the view). */
class NoteRow extends Model.Class<NoteRow>("NoteRow")({
  id: Model.Generated(Schema.Int),
  authorId: Schema.Int,
  body: Schema.String
}) {}

let tables = 0

const sync = (b: Backend) => Effect.promise(() => waitReplicated(b.nodes, { timeoutMs: 20_000 }))

const runAll = (client: SqlClient.SqlClient, statements: ReadonlyArray<string>) =>
  Effect.forEach(statements, (s) => client.unsafe(s), { discard: true })

const asAdmin = (node: NodeInfo, statements: ReadonlyArray<string>) =>
  Effect.forEach(statements, (s) => admin(node, s), { discard: true })

/** Authors (3), their notes (2 each) and replies (1 per note), each behind a view with the server's port. */
const fixture = (b: Backend) =>
  noSession(Effect.gen(function*() {
    const write = yield* WriteConnection
    const base = `rel_${process.pid}_${Date.now().toString(36)}_${++tables}`
    const names = ["authors", "notes", "replies"].map((t) => `${base}_${t}`) as [string, string, string]
    const q = (n: string) => b.name === "postgres" ? `"${n}"` : `\`${n}\``
    yield* Effect.addFinalizer(() =>
      Effect.orDie(
        asAdmin(b.nodes.primary, names.flatMap((t) => [`DROP VIEW IF EXISTS ${t}_v`, `DROP TABLE IF EXISTS ${t}`]))
      )
    )
    const port = b.name === "postgres" ? "inet_server_port()" : "rel_port()"
    if (b.name === "mariadb") {
      yield* asAdmin(b.nodes.primary, [
        "CREATE OR REPLACE FUNCTION rel_port() RETURNS INT NOT DETERMINISTIC READS SQL DATA RETURN @@port"
      ])
    }
    const id = b.name === "postgres" ? "id SERIAL PRIMARY KEY" : "id INT AUTO_INCREMENT PRIMARY KEY"
    const text = b.name === "postgres" ? "TEXT" : "VARCHAR(100)"
    yield* runAll(write, [
      `CREATE TABLE ${names[0]} (${id}, name ${text} NOT NULL)`,
      `CREATE TABLE ${names[1]} (${id}, ${q("authorId")} INT NOT NULL, body ${text} NOT NULL)`,
      `CREATE TABLE ${names[2]} (${id}, ${q("noteId")} INT NOT NULL, body ${text} NOT NULL)`
    ])
    const views = [
      `CREATE VIEW ${names[0]}_v AS SELECT id, name, ${port} AS port FROM ${names[0]}`,
      `CREATE VIEW ${names[1]}_v AS SELECT id, ${q("authorId")}, body, ${port} AS port FROM ${names[1]}`,
      `CREATE VIEW ${names[2]}_v AS SELECT id, ${q("noteId")}, body, ${port} AS port FROM ${names[2]}`
    ]
    // A MariaDB view calling a function is created by root (the binlog needs SUPER for it).
    if (b.name === "postgres") yield* runAll(write, views)
    else yield* asAdmin(b.nodes.primary, views)
    yield* runAll(write, [
      `INSERT INTO ${names[0]} (name) VALUES ('a'), ('b'), ('c')`,
      `INSERT INTO ${names[1]} (${q("authorId")}, body) SELECT id, CONCAT(name, '-1') FROM ${names[0]}`,
      `INSERT INTO ${names[1]} (${q("authorId")}, body) SELECT id, CONCAT(name, '-2') FROM ${names[0]}`,
      `INSERT INTO ${names[2]} (${q("noteId")}, body) SELECT id, CONCAT(body, '-r') FROM ${names[1]}`
    ])
    yield* sync(b)
    const Replies = Repository.make(Reply, { table: `${names[2]}_v`, idColumn: "id" })
    const Notes = Relations.define(Repository.make(Note, { table: `${names[1]}_v`, idColumn: "id" }), {
      replies: Relations.hasMany(Replies, { from: "id", to: "noteId" })
    })
    const Authors = Relations.define(Repository.make(Author, { table: `${names[0]}_v`, idColumn: "id" }), {
      notes: Relations.hasMany(Notes, { from: "id", to: "authorId" })
    })
    return { Authors, NoteRows: Repository.make(NoteRow, { table: names[1], idColumn: "id" }) }
  })).pipe(Effect.orDie)

/** The ports of every row of a load, by node name. */
const nodesOf = (
  b: Backend,
  authors: ReadonlyArray<
    { readonly port: number; readonly notes: ReadonlyArray<{ port: number; replies: ReadonlyArray<{ port: number }> }> }
  >
) => {
  const ports = authors.flatMap((a) => [a.port, ...a.notes.flatMap((n) => [n.port, ...n.replies.map((r) => r.port)])])
  return new Set(ports.map((p) => nodeByPort(b, p).name))
}

type Fixture = Effect.Effect.Success<ReturnType<typeof fixture>>

const load = (f: Fixture) => f.Authors.query().orderBy("id").with({ notes: { with: ["replies"] } }).get()

for (const b of backends()) {
  const primary = b.nodes.primary.name
  const replicaNames = b.nodes.replicas.map((r) => r.name)

  describe(`eager loads on ${b.name}`, () => {
    it.scopedLive(
      "every statement of a load runs on one replica, though round-robin alternates them",
      () =>
        Effect.gen(function*() {
          const f: Fixture = yield* fixture(b)
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* warmUp(b, yield* ReadConnection)
          const used = new Set<string>()
          for (let i = 0; i < 10; i++) {
            yield* router.resetStats
            const authors = yield* noSession(load(f))
            const stats = yield* router.stats
            expect(authors.map((a) => a.notes.map((n) => [n.body, n.replies.map((r) => r.body)]))).toEqual(
              ["a", "b", "c"].map((x) => [[`${x}-1`, [`${x}-1-r`]], [`${x}-2`, [`${x}-2-r`]]])
            )
            // By the servers' word: every row of the load came from one replica.
            const nodes = nodesOf(b, authors)
            expect(nodes.size).toBe(1)
            const node = [...nodes][0]!
            expect(replicaNames).toContain(node)
            used.add(node)
            // By the router's count: three statements (authors, notes, replies), all on that replica.
            expect(stats.byNode).toEqual({ [node]: 3 })
          }
          yield* report(`${b.name} eager loads on replicas`, { replicasUsed: [...used] })
          // Round-robin still spreads the loads themselves over both replicas.
          expect(used.size).toBe(2)
        }).pipe(Effect.provide(fastOrm(b, { strategy: "roundRobin" }))),
      60_000
    )

    it.scopedLive(
      "the session's own write is seen by the whole load, replay paused or running",
      () =>
        Effect.gen(function*() {
          const f: Fixture = yield* fixture(b)
          const router = yield* ConnectionRouter.ConnectionRouter
          // Replay running: each load sees the note written just before it, and stays on one node.
          for (let i = 0; i < 10; i++) {
            const note = yield* f.NoteRows.create({ authorId: 1, body: `running-${i}` })
            yield* router.resetStats
            const authors = yield* load(f)
            expect(authors[0]!.notes.map((n) => n.body)).toContain(note.body)
            expect(nodesOf(b, authors).size).toBe(1)
            expect(Object.keys((yield* router.stats).byNode).length).toBe(1)
          }
          // Replay paused: no replica has the write, so the whole load runs on the primary.
          yield* Effect.scoped(Effect.gen(function*() {
            yield* pausedReplay(b)
            const note = yield* f.NoteRows.create({ authorId: 2, body: "paused" })
            yield* router.resetStats
            const authors = yield* load(f)
            expect(authors[1]!.notes.map((n) => n.body)).toContain(note.body)
            expect(nodesOf(b, authors)).toEqual(new Set([primary]))
            expect(Object.keys((yield* router.stats).byNode)).toEqual([primary])
          }))
        }).pipe(Effect.provide(fastOrm(b, { sessionWaitTimeout: "50 millis" }))),
      90_000
    )

    it.scopedLive(
      "inside a transaction the load runs on the primary and sees the transaction's writes",
      () =>
        Effect.gen(function*() {
          const f: Fixture = yield* fixture(b)
          const authors = yield* Database.transaction(Effect.gen(function*() {
            yield* f.NoteRows.create({ authorId: 3, body: "in-tx" })
            return yield* load(f)
          }))
          expect(authors[2]!.notes.map((n) => n.body)).toContain("in-tx")
          expect(nodesOf(b, authors)).toEqual(new Set([primary]))
        }).pipe(Effect.provide(fastOrm(b))),
      60_000
    )
  })
}
