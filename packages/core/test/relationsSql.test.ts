/**
 * The pure parts of a relation level: how many keys one statement carries per dialect, the padded key-list lengths
 * that keep statement shapes few, the split into batches, how keys from both sides compare, and the SQL text.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { keyOf } from "../src/internal/relations/load.js"
import { plans } from "../src/internal/relations/plan.js"
import * as RelationSql from "../src/internal/relations/sql.js"
import { MemberRepo, Members } from "./relationsFixtures.js"

describe("relation levels", () => {
  it.each(
    [
      ["postgresql", 0, 65535],
      ["postgresql", 10, 65535],
      ["mysql", 0, 65535],
      ["mysql", 3, 65532],
      ["sqlite", 0, 32766],
      ["sqlite", 2, 32764]
    ] as const
  )("maxKeys(%s, %i other parameters) = %i", (dialect, others, max) => {
    expect(RelationSql.maxKeys(dialect, others)).toBe(max)
  })

  it.each(
    [
      ["postgresql", 5, 100, 5],
      ["mysql", 1, 100, 1],
      ["mysql", 5, 100, 8],
      ["mysql", 50, 100, 64],
      ["mysql", 65, 100, 100],
      ["sqlite", 100, 100, 100],
      ["sqlite", 3, 32766, 4]
    ] as const
  )("paddedLength(%s, %i keys, max %i) = %i", (dialect, keys, max, length) => {
    expect(RelationSql.paddedLength(dialect, keys, max)).toBe(length)
  })

  it("batches keep every key once, in order, none longer than the bound", () => {
    const keys = Array.from({ length: 70_001 }, (_, i) => i)
    const batches = RelationSql.chunks(keys, 32766)
    expect(batches.map((b) => b.length)).toEqual([32766, 32766, 4469])
    expect(batches.flat()).toEqual(keys)
    expect(RelationSql.chunks([], 10)).toEqual([])
  })

  it.each(
    [
      [1, "1", "1"],
      [true, 1, "1"],
      [false, 0, "0"],
      [7, "7", "7"],
      [new Date("2024-01-02T03:04:05.000Z"), new Date("2024-01-02T03:04:05.000Z"), "2024-01-02T03:04:05.000Z"],
      [new Uint8Array([1, 255]), Buffer.from([1, 255]), "01ff"]
    ] as const
  )("a parent key %s matches a child key %s", (parent, child, text) => {
    expect(keyOf(parent)).toBe(text)
    expect(keyOf(child)).toBe(text)
  })

  it("the text quotes every identifier and binds the keys (one array on PostgreSQL)", () => {
    const info = (Members.query() as any).state.info
    const planned = plans(info, Members.relations, {
      posts: { where: (q: any) => q.where("order", ">", 1), limit: 2 },
      tags: true
    })
    const [posts, tags] = Either.getOrThrow(planned)
    const pg = RelationSql.level("postgresql", posts!, [1, 2])
    expect(pg.render()).toBe(
      `SELECT * FROM (SELECT fastorm_x.*, ROW_NUMBER() OVER (PARTITION BY fastorm_x."userId" ORDER BY fastorm_x."id" ASC) AS fastorm_rn FROM (SELECT * FROM "core_rel_posts" WHERE ("userId" = ANY($1)) AND (("order" > $2))) fastorm_x) fastorm_r WHERE fastorm_rn <= 2 ORDER BY fastorm_r."id" ASC`
    )
    expect(pg.params).toEqual([[1, 2], 1])
    const my = RelationSql.level("mysql", tags!, [1, 2])
    expect(my.render()).toBe(
      "SELECT fastorm_j.`user` AS fastorm_parent, fastorm_c.* FROM `core_rel_user_tags` fastorm_j JOIN (SELECT * FROM `core_rel_tags`) fastorm_c ON fastorm_c.`id` = fastorm_j.`group` WHERE fastorm_j.`user` IN (?, ?) ORDER BY fastorm_c.`id` ASC"
    )
    expect(my.params).toEqual([1, 2])
    // The shape changes with what changes the text, and only with it.
    expect(RelationSql.level("mysql", tags!, [3, 4]).shape).toBe(my.shape)
    expect(RelationSql.level("mysql", tags!, [3, 4, 5, 6]).shape).not.toBe(my.shape)
    expect(RelationSql.level("postgresql", posts!, [1, 2, 3]).shape).toBe(pg.shape)
  })

  it("a spec of names is planned once per parent and declarations; a spec with options every time", () => {
    const info = (Members.query() as any).state.info
    const once = Either.getOrThrow(plans(info, Members.relations, "posts"))
    expect(Either.getOrThrow(plans(info, Members.relations, "posts"))).toBe(once)
    expect(Either.getOrThrow(plans(info, Members.relations, ["posts", "tags"])).map((p) => p.name)).toEqual([
      "posts",
      "tags"
    ])
    // Other declarations with the same names: their own plans.
    expect(Either.getOrThrow(plans(info, { ...Members.relations }, "posts"))).not.toBe(once)
    const withOptions = Either.getOrThrow(plans(info, Members.relations, { posts: { limit: 2 } }))
    expect(Either.getOrThrow(plans(info, Members.relations, { posts: { limit: 2 } }))).not.toBe(withOptions)
    expect(withOptions[0]!.limit).toBe(2)
  })

  it("a manyToMany level binds its condition's values before the keys, the others after", () => {
    const info = (Members.query() as any).state.info
    const [posts, tags] = Either.getOrThrow(plans(info, Members.relations, ["posts", "tags"]))
    expect(RelationSql.levelParams("mysql", posts!, [1, 2], ["x"])).toEqual([1, 2, "x"])
    expect(RelationSql.levelParams("postgresql", posts!, [1, 2], ["x"])).toEqual([[1, 2], "x"])
    expect(RelationSql.levelParams("sqlite", tags!, [1, 2], ["x"])).toEqual(["x", 1, 2])
    expect(RelationSql.levelParams("postgresql", tags!, [1, 2], ["x"])).toEqual(["x", [1, 2]])
  })

  it("a plain repository declares nothing: with() names no relation", () => {
    const info = (MemberRepo.query() as any).state.info
    const planned = plans(info, {}, "posts")
    expect(Either.isLeft(planned) && planned.left._tag).toBe("InvalidRelation")
    expect(Either.isLeft(plans(info, Members.relations, 42)) ? "refused" : "accepted").toBe("refused")
    // A relation named like a column would hide it on the loaded rows.
    const hiding = plans(info, { name: Members.relations.posts }, "name")
    expect(Either.isLeft(hiding) && hiding.left.message).toBe(
      "Invalid relation Member.name: core_rel_users has a column of that name"
    )
  })
})
