/** Column codecs: the guard shortcut agrees with the schemas it stands for, on values they accept and refuse. */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Columns from "../src/internal/columns.js"
import * as validation from "../src/internal/validation.js"

const fields = {
  n: Schema.Int,
  s: Schema.NullOr(Schema.String),
  k: Schema.Literal("a", "b"),
  f: Schema.NumberFromString,
  d: Schema.DateFromSelf
} as const

const values: ReadonlyArray<unknown> = [1, 1.5, "1", "a", "c", null, true, new Date(0), Infinity, undefined, {}]

describe("columns", () => {
  for (const [name, field] of Object.entries(fields)) {
    const column = Columns.make(name, field as Schema.Schema.AnyNoContext)
    const loose = Schema.encodeUnknownEither(
      Schema.make(Columns.withoutRefinements(field.ast)) as Schema.Schema<unknown, unknown, never>
    )
    const decode = Schema.decodeUnknownEither(field as Schema.Schema<unknown, unknown, never>)
    it(`${name}: encode and decode agree with the schema on every value`, () => {
      for (const value of values) {
        const encoded = column.encode(value)
        const expected = loose(value)
        expect(Either.isRight(encoded)).toBe(
          Either.isRight(expected) && Either.isRight(validation.checkValue(name, expected.right))
        )
        if (Either.isRight(encoded) && Either.isRight(expected)) expect(encoded.right).toEqual(expected.right)
        const decoded = column.decode(value)
        const decodedBySchema = decode(value)
        expect(Either.isRight(decoded)).toBe(Either.isRight(decodedBySchema))
        if (Either.isRight(decoded)) expect(decoded.right).toEqual(Either.getOrThrow(decodedBySchema))
      }
    })
  }
})
