/**
 * Relations and eager loading on SQLite, PostgreSQL and MariaDB (one suite, three backends): each relation kind,
 * nesting, a condition, order and limit per relation, empty parents and missing children, hostile names, the
 * statement count (one per relation level, never one per row), batches over the parameter limit, and where the
 * statements ran (one connection in a transaction, the primary for a forced load).
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { WriteConnection } from "../src/Connections.js"
import * as Database from "../src/Database.js"
import * as Relations from "../src/Relations.js"
import * as Testing from "../src/Testing.js"
import { Backend, backends } from "./fixtures.js"
import {
  CommentRepo,
  createTables,
  emptyTables,
  MemberRepo,
  Members,
  PostRepo,
  Posts,
  ProfileRepo,
  TagRepo,
  tagUser
} from "./relationsFixtures.js"

const records = Effect.flatMap(Testing.Recorder, (r) => r.records)
const clear = Effect.flatMap(Testing.Recorder, (r) => r.clear)
const sync = Effect.flatMap(Backend, (b) => b.sync)

const created = new Set<string>()

/** Fresh tables with: ann (3 posts, a profile, 2 tags), bob (1 post, 1 tag), cid (nothing), an orphan post. */
const seed = Effect.gen(function*() {
  const backend = yield* Backend
  const write = yield* WriteConnection
  if (!created.has(backend.name)) {
    yield* createTables(write, backend.name)
    created.add(backend.name)
  }
  yield* emptyTables(write)
  const [ann, bob, cid] = yield* MemberRepo.createMany([{ name: "ann" }, { name: "bob" }, { name: "cid" }])
  yield* ProfileRepo.create({ userId: ann!.id, bio: "hello" })
  const posts = yield* PostRepo.createMany([
    { userId: ann!.id, title: "a1", order: 1 },
    { userId: ann!.id, title: "a2", order: 2 },
    { userId: ann!.id, title: "a3", order: 3 },
    { userId: bob!.id, title: "b1", order: 1 },
    { userId: null, title: "orphan", order: 9 }
  ])
  yield* CommentRepo.createMany([
    { postId: posts[0]!.id, from: "bob" },
    { postId: posts[0]!.id, from: "cid" },
    { postId: posts[3]!.id, from: "ann" }
  ])
  const [t1, t2] = yield* TagRepo.createMany([{ label: "t1" }, { label: "t2" }])
  yield* tagUser(write, backend.name, ann!.id, t1!.id)
  yield* tagUser(write, backend.name, ann!.id, t2!.id)
  yield* tagUser(write, backend.name, bob!.id, t2!.id)
  yield* sync
  yield* clear
  return { ann: ann!, bob: bob!, cid: cid!, posts }
})

const titles = (posts: ReadonlyArray<{ readonly title: string }>) => posts.map((p) => p.title)

for (const { layer: backendLayer, name } of backends) {
  describe(name, () => {
    layer(backendLayer(), { timeout: 120_000 })((it) => {
      it.effect("each kind: hasMany, hasOne, belongsTo, manyToMany; missing children are [] or null", () =>
        Effect.gen(function*() {
          yield* seed
          const users = yield* Members.query().orderBy("id").with(["posts", "profile", "tags"]).get()
          expect(users.map((u) => u.name)).toEqual(["ann", "bob", "cid"])
          const [ann, bob, cid] = users
          expect(titles(ann!.posts)).toEqual(["a1", "a2", "a3"])
          expect(ann!.profile?.bio).toBe("hello")
          expect(ann!.tags.map((t) => t.label)).toEqual(["t1", "t2"])
          expect(titles(bob!.posts)).toEqual(["b1"])
          expect(bob!.profile).toBeNull()
          expect(bob!.tags.map((t) => t.label)).toEqual(["t2"])
          expect(cid!.posts).toEqual([])
          expect(cid!.profile).toBeNull()
          expect(cid!.tags).toEqual([])
          // Rows stay instances of their models.
          expect(ann!.posts[0]).toBeInstanceOf(PostRepo.model)
          // One statement for the users, one per relation.
          expect((yield* records).length).toBe(4)

          yield* clear
          const posts = yield* Posts.query().orderBy("id").with("author").get()
          expect(posts.map((p) => p.author?.name ?? null)).toEqual(["ann", "ann", "ann", "bob", null])
          expect((yield* records).length).toBe(2)
        }))

      it.effect("nested relations: one statement per level, whatever the number of rows", () =>
        Effect.gen(function*() {
          yield* seed
          const users = yield* Members.query().orderBy("id").with({
            posts: { with: { comments: true, author: true } },
            tags: true
          }).get()
          const ann = users[0]!
          expect(ann.posts.map((p) => p.comments.map((c) => c.from))).toEqual([["bob", "cid"], [], []])
          expect(ann.posts.every((p) => p.author?.name === "ann")).toBe(true)
          expect(users[1]!.posts[0]!.comments.map((c) => c.from)).toEqual(["ann"])
          expect(users[2]!.posts).toEqual([])
          // users, posts, comments, authors, tags.
          const statements = yield* records
          expect(statements.length).toBe(5)
          expect(statements.every((r) => r.role === "read")).toBe(true)
        }))

      it.effect("a condition, an order and a limit per parent", () =>
        Effect.gen(function*() {
          yield* seed
          const users = yield* Members.query().orderBy("id").with({
            posts: { where: (q) => q.where("order", ">=", 1).whereNot("title", "a2"), orderBy: ["order", "desc"] }
          }).get()
          expect(titles(users[0]!.posts)).toEqual(["a3", "a1"])

          const limited = yield* Members.query().orderBy("id").with({
            posts: { orderBy: ["order", "desc"], limit: 2 },
            tags: { orderBy: ["label", "desc"], limit: 1 }
          }).get()
          expect(limited.map((u) => titles(u.posts))).toEqual([["a3", "a2"], ["b1"], []])
          expect(limited.map((u) => u.tags.map((t) => t.label))).toEqual([["t2"], ["t2"], []])

          // A condition that matches nothing leaves every parent with none.
          const none = yield* Members.query().with({ posts: { where: (q) => q.where("title", "nothing") } }).get()
          expect(none.every((u) => u.posts.length === 0)).toBe(true)
        }))

      it.effect("empty parents and parents without keys send no relation statement", () =>
        Effect.gen(function*() {
          yield* seed
          const nobody = yield* Members.where("name", "nobody").with({ posts: { with: ["comments"] } }).get()
          expect(nobody).toEqual([])
          expect((yield* records).length).toBe(1)

          yield* clear
          const orphans = yield* Posts.where("title", "orphan").with("author").get()
          expect(orphans.map((p) => p.author)).toEqual([null])
          expect((yield* records).length).toBe(1)
        }))

      it.effect("no N+1: 50 users and their posts are two statements, compiled once per shape", () =>
        Effect.gen(function*() {
          yield* seed
          const users = yield* MemberRepo.createMany(Array.from({ length: 50 }, (_, i) => ({ name: `u${i}` })))
          yield* PostRepo.createMany(
            users.flatMap((
              u
            ) => [{ userId: u.id, title: `${u.name}-1`, order: 1 }, { userId: u.id, title: `${u.name}-2`, order: 2 }])
          )
          yield* sync
          yield* clear
          const load = Members.where("name", "like", "u%").with("posts").get()
          const loaded = yield* load
          expect(loaded.length).toBe(50)
          expect(loaded.every((u) => u.posts.length === 2 && u.posts[0]!.title === `${u.name}-1`)).toBe(true)
          const first = yield* records
          expect(first.length).toBe(2)
          yield* clear
          yield* load
          const second = yield* records
          // The same text both times: the statement is compiled once per shape (and prepared once per connection).
          expect(second.map((r) => r.sql)).toEqual(first.map((r) => r.sql))
        }))

      it.effect(
        "more parents than one statement may bind: the keys go in batches under the dialect's limit",
        () =>
          Effect.gen(function*() {
            yield* seed
            const backend = yield* Backend
            const write = yield* WriteConnection
            // Past SQLite's 32766 parameters, and MySQL's (and our PostgreSQL bound of) 65535.
            const n = backend.name === "sqlite" ? 33_000 : 66_000
            yield* write.unsafe(
              backend.name === "sqlite"
                ? `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${n}) INSERT INTO core_rel_users (name) SELECT 'bulk' || n FROM s`
                : backend.name === "postgres"
                ? `INSERT INTO core_rel_users (name) SELECT 'bulk' || n FROM generate_series(1, ${n}) n`
                : `INSERT INTO core_rel_users (name) SELECT CONCAT('bulk', seq) FROM seq_1_to_${n}`
            )
            const last = yield* MemberRepo.query().forceWrite().orderBy("id", "desc").first()
            const lastId = Option.getOrThrow(last).id
            yield* PostRepo.create({ userId: lastId, title: "last", order: 1 })
            yield* sync
            yield* clear
            const users = yield* Members.where("name", "like", "bulk%").with("posts").get()
            expect(users.length).toBe(n)
            expect(users.filter((u) => u.posts.length > 0).map((u) => [u.id, titles(u.posts)])).toEqual([
              [lastId, ["last"]]
            ])
            // The users, then two batches of keys.
            expect((yield* records).length).toBe(3)
          }),
        { timeout: 120_000 }
      )

      it.effect("first, paginate and cursor load the relations of their rows", () =>
        Effect.gen(function*() {
          const { ann } = yield* seed
          const first = yield* Members.query().orderBy("id").with("posts").first()
          expect(Option.map(first, (u) => titles(u.posts))).toEqual(Option.some(["a1", "a2", "a3"]))
          const page = yield* Members.query().with("profile").paginate({ page: 1, perPage: 2 })
          expect(page.data.map((u) => u.profile?.userId ?? null)).toEqual([ann.id, null])
          const cursorPage = yield* Members.query().with("tags").cursor({ limit: 1 })
          expect(cursorPage.data[0]!.tags.length).toBe(2)
          // A selected column list must keep the key the relation needs.
          const error = yield* Effect.flip(Members.query().select("name").with("posts").get())
          expect(error._tag).toBe("InvalidQuery")
          const selected = yield* Members.query().select("id", "name").orderBy("id").with("posts").get()
          expect(selected[0]!.posts.length).toBe(3)
        }))

      it.effect("a transaction runs the whole load on its connection; forceWrite sends it all to the primary", () =>
        Effect.gen(function*() {
          const { cid } = yield* seed
          const inTx = yield* Database.transaction(Effect.gen(function*() {
            yield* PostRepo.create({ userId: cid.id, title: "c1", order: 1 })
            yield* clear
            return yield* Members.where("id", cid.id).with("posts").get()
          }))
          // Its own uncommitted write is seen: the children come from the transaction's connection.
          expect(titles(inTx[0]!.posts)).toEqual(["c1"])
          const inTxRecords = (yield* records).filter((r) => !/^(COMMIT|RELEASE)/.test(r.sql))
          expect(inTxRecords.length).toBe(2)
          expect(inTxRecords.every((r) => r.role === "write")).toBe(true)
          expect(new Set(inTxRecords.map((r) => r.connection)).size).toBe(1)

          yield* clear
          const forced = yield* Members.query().forceWrite().with({ posts: { with: ["comments"] } }).get()
          expect(forced.length).toBe(3)
          const forcedRecords = yield* records
          expect(forcedRecords.length).toBe(3)
          expect(forcedRecords.every((r) => r.role === "write")).toBe(true)
          // Database.forceWrite around the load, too.
          yield* clear
          yield* Database.forceWrite(Members.query().with("tags").get())
          expect((yield* records).every((r) => r.role === "write")).toBe(true)
        }))

      it.effect("a target given as a function (declared further down) loads like any other", () =>
        Effect.gen(function*() {
          yield* seed
          const Authors = Relations.define(MemberRepo, {
            writings: Relations.hasMany(() => Later, { from: "id", to: "userId" })
          })
          const Later = Relations.define(PostRepo, {
            writer: Relations.belongsTo(MemberRepo, { from: "userId", to: "id" })
          })
          const users = yield* Authors.query().orderBy("id").with({ writings: { with: ["writer"] } }).get()
          expect(users[0]!.writings.map((p) => [p.title, p.writer?.name])).toEqual([
            ["a1", "ann"],
            ["a2", "ann"],
            ["a3", "ann"]
          ])
          expect((yield* records).length).toBe(3)
        }))

      it.effect("refusals before any SQL: an unknown relation, keys that are not columns, a stream", () =>
        Effect.gen(function*() {
          yield* seed
          const unknown = yield* Effect.flip(Members.query().with("nope" as any).get())
          expect(unknown._tag).toBe("InvalidRelation")
          const plain = yield* Effect.flip((MemberRepo.query() as any).with("posts").get() as Effect.Effect<never, any>)
          expect(plain._tag).toBe("InvalidRelation")
          const Broken = Relations.define(MemberRepo, {
            posts: Relations.hasMany(PostRepo, { from: "id", to: "authorId" as any }),
            back: Relations.hasMany(PostRepo, { from: "nope" as any, to: "userId" })
          })
          const broken = yield* Effect.flip(Broken.query().with("posts").get())
          expect(broken._tag).toBe("InvalidRelation")
          expect(broken.message).toContain("'authorId' is not a column of core_rel_posts")
          const back = yield* Effect.flip(Relations.check(Broken))
          expect(back.message).toContain("is not a column")
          yield* Relations.check(Members)
          const limit = yield* Effect.flip(Members.query().with({ posts: { limit: 0 } }).get())
          expect(limit._tag).toBe("InvalidLimit")
          const stream = yield* Effect.flip(Stream.runDrain(Members.query().with("posts").stream()))
          expect(stream._tag).toBe("InvalidQuery")
          expect((yield* records).length).toBe(0)
        }))
    })
  })
}
