/**
 * The types of relations: declarations refuse keys that are not columns, `with(...)` refuses names that are not
 * relations, and rows are typed by what was loaded (`Member & { posts: ReadonlyArray<Post> }`).
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { ReadConnection, WriteConnection } from "../src/Connections.js"
import * as Relations from "../src/Relations.js"
import type { Comment, Member, Post, Profile, Tag } from "./relationsFixtures.js"
import { MemberRepo, Members, PostRepo, Posts } from "./relationsFixtures.js"

type Success<T> = T extends Effect.Effect<infer A, any, any> ? A : never
type Requirements<T> = T extends Effect.Effect<any, any, infer R> ? R : never

// Two relations pointing at each other: one side annotated, the other inferred.
const Writers: Relations.Related<
  typeof Member,
  "id",
  { readonly writings: Relations.Relation<"hasMany", typeof Writings, "id"> }
> = Relations.define(MemberRepo, { writings: Relations.hasMany(() => Writings, { from: "id", to: "userId" }) })
const Writings = Relations.define(PostRepo, {
  writer: Relations.belongsTo(() => Writers, { from: "userId", to: "id" })
})

describe("relation types", () => {
  it("relations that point at each other nest both ways", () => {
    const _cycle = Writers.query().with({ writings: { with: { writer: { with: ["writings"] } } } }).get()
    type Writing = Success<typeof _cycle>[number]["writings"][number]
    expectTypeOf<NonNullable<Writing["writer"]>["writings"]>().toEqualTypeOf<ReadonlyArray<Post>>()
  })

  it("rows carry what was loaded", () => {
    const _get = Members.query().with("posts").get()
    expectTypeOf<Success<typeof _get>>().toEqualTypeOf<
      ReadonlyArray<Member & { readonly posts: ReadonlyArray<Post> }>
    >()
    const _many = Members.where("name", "ann").with(["profile", "tags"]).first()
    expectTypeOf<Success<typeof _many>>().toEqualTypeOf<
      Option.Option<Member & { readonly profile: Profile | null; readonly tags: ReadonlyArray<Tag> }>
    >()
    const _nested = Members.query().with({ posts: { with: ["comments"] } }).get()
    type Row = Success<typeof _nested>[number]
    expectTypeOf<Row["posts"][number]["comments"]>().toEqualTypeOf<ReadonlyArray<Comment>>()
    const _author = Posts.query().with({ author: true }).get()
    expectTypeOf<Success<typeof _author>[number]["author"]>().toEqualTypeOf<Member | null>()
    const _chained = Members.query().with("posts").with("profile").get()
    expectTypeOf<Success<typeof _chained>[number]["profile"]>().toEqualTypeOf<Profile | null>()
  })

  it("the connection a load needs is the query's", () => {
    const _read = Members.query().with("posts").get()
    expectTypeOf<Requirements<typeof _read>>().toEqualTypeOf<ReadConnection>()
    const _forced = Members.query().forceWrite().with("posts").get()
    expectTypeOf<Requirements<typeof _forced>>().toEqualTypeOf<WriteConnection>()
  })

  it("unknown relations, columns and conditions are refused at compile time", () => {
    // @ts-expect-error: no relation "comments" on users
    Members.query().with("comments")
    // @ts-expect-error: a plain repository has no relations
    MemberRepo.query().with("posts")
    // @ts-expect-error: "nope" is not a column of posts
    Members.query().with({ posts: { orderBy: "nope" } })
    // @ts-expect-error: "nope" is not a column of posts
    Members.query().with({ posts: { where: (q) => q.where("nope", 1) } })
    // @ts-expect-error: a title is a string
    Members.query().with({ posts: { where: (q) => q.where("title", 1) } })
    // @ts-expect-error: nested names are the target's relations
    Members.query().with({ posts: { with: ["tags"] } })
    Relations.define(MemberRepo, {
      // @ts-expect-error: "authorId" is not a column of posts
      posts: Relations.hasMany(PostRepo, { from: "id", to: "authorId" })
    })
    Relations.define(MemberRepo, {
      // @ts-expect-error: "uid" is not a column of users
      posts: Relations.hasMany(PostRepo, { from: "uid", to: "userId" })
    })
  })
})
