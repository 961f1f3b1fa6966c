/**
 * A patch of plain fields is its own encoding once its values pass the fields' guards; every other patch, and every
 * value a guard refuses, gets exactly what the model's Schema gives (its encoding or its error).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as PatchEncoder from "../src/internal/patchEncoder.js"

const fields: Record<string, Schema.Schema.AnyNoContext> = {
  name: Schema.String,
  score: Schema.Int,
  active: Schema.Boolean,
  kind: Schema.Literal("a", "b"),
  note: Schema.NullOr(Schema.String),
  balance: Schema.NumberFromString,
  positive: Schema.Number.pipe(Schema.positive())
}

const bySchema = (keys: ReadonlyArray<string>, patch: Record<string, unknown>) => {
  const picked: Record<string, Schema.Schema.AnyNoContext> = {}
  for (const key of keys) picked[key] = fields[key]!
  return Schema.encodeUnknownEither(Schema.Struct(picked))(patch)
}

const cases: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ["plain fields", { name: "x", score: 3, active: false }],
  ["a literal and a null", { kind: "b", note: null }],
  ["a nullable string", { note: "n" }],
  ["a refinement it accepts", { positive: 2 }],
  ["a transformation", { balance: 12.5 }],
  ["plain fields beside a transformation", { name: "y", balance: 1 }],
  ["a wrong type", { name: 5 }],
  ["an Int that is not one", { score: 1.5 }],
  ["a literal out of range", { kind: "c" }],
  ["a refinement it refuses", { positive: -1 }],
  ["an object where a string belongs", { name: { evil: true } }]
]

describe("patchEncoder", () => {
  it.each(cases)("%s: the same outcome as the Schema", (_name, patch) => {
    const keys = Object.keys(patch)
    const encode = PatchEncoder.cache()(keys, Object.fromEntries(keys.map((key) => [key, fields[key]])))
    const expected = bySchema(keys, patch)
    const actual = encode(patch)
    expect(Either.isRight(actual)).toBe(Either.isRight(expected))
    if (Either.isRight(actual) && Either.isRight(expected)) expect(actual.right).toEqual(expected.right)
    if (Either.isLeft(actual) && Either.isLeft(expected)) expect(actual.left.message).toEqual(expected.left.message)
  })

  it("answers a plain patch without the Schema and a transformed one through it", () => {
    const schemaCalls: Array<string> = []
    const spy = (patch: Record<string, unknown>) => {
      schemaCalls.push(Object.keys(patch).join(","))
      return Either.right(patch)
    }
    const plain = PatchEncoder.plain(["name", "score"], { name: fields["name"], score: fields["score"] }, spy)
    const patch = { name: "x", score: 1 }
    expect(plain(patch)).toEqual(Either.right(patch))
    expect(schemaCalls).toEqual([])
    // A refused value goes to the Schema, for its error.
    plain({ name: "x", score: 0.5 })
    expect(schemaCalls).toEqual(["name,score"])
    const transformed = PatchEncoder.plain(["balance"], { balance: fields["balance"] }, spy)
    expect(transformed).toBe(spy)
  })

  it("keeps one encoder per set of columns", () => {
    const encoders = PatchEncoder.cache()
    const first = encoders(["name"], { name: fields["name"] })
    expect(encoders(["name"], { name: fields["name"] })).toBe(first)
    expect(encoders(["score"], { score: fields["score"] })).not.toBe(first)
  })
})
