/**
 * Rows decoded by the compiled per-model decoder agree with the model's Schema on every row it accepts, and every
 * row it does not accept (a wrong type, a missing column, a value only the Schema can judge) is left to the Schema.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as CompiledStatement from "../src/CompiledStatement.js"
import { makeDecodeRows } from "../src/internal/decodeRows.js"
import * as RowArrays from "../src/internal/rowArrays.js"
import * as RowDecoder from "../src/internal/rowDecoder.js"
import * as Model from "../src/Model.js"

class Account extends Model.Class<Account>("Account")({
  id: Model.Generated(Schema.Int),
  name: Schema.String,
  active: Schema.Boolean,
  kind: Schema.Literal("a", "b"),
  note: Schema.NullOr(Schema.String),
  balance: Schema.NumberFromString,
  created: Schema.DateFromSelf
}) {}

const created = new Date("2026-01-02T03:04:05Z")
const row = { id: 1, name: "x", active: true, kind: "a", note: null, balance: "12.5", created, extra: "ignored" }

const fast = RowDecoder.compile(Account)!
const schema = Schema.decodeUnknownEither(Account)

describe("rowDecoder", () => {
  it("compiles a model class and a struct, not other schemas", () => {
    expect(fast).toBeTypeOf("function")
    expect(RowDecoder.compile(Schema.Struct({ a: Schema.String }))).toBeTypeOf("function")
    expect(RowDecoder.compile(Schema.String)).toBeUndefined()
    expect(RowDecoder.compile(Schema.Struct({ a: Schema.optional(Schema.String) }))).toBeUndefined()
  })

  it("builds the same instance as the model's Schema", () => {
    const decoded = fast(row)
    expect(decoded).toBeInstanceOf(Account)
    expect(decoded).toEqual(Either.getOrThrow(schema(row)))
    expect((decoded as Account).balance).toBe(12.5)
    expect(decoded as object).not.toHaveProperty("extra")
  })

  const rejected: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
    ["a string where an Int is", { ...row, id: "1" }],
    ["a fraction where an Int is", { ...row, id: 1.5 }],
    ["a number where a boolean is", { ...row, active: 1 }],
    ["a literal not in the union", { ...row, kind: "c" }],
    ["a transformation that fails", { ...row, balance: "twelve" }],
    ["a missing column", (({ note: _note, ...rest }) => rest)(row)]
  ]
  for (const [name, input] of rejected) {
    it(`leaves ${name} to the Schema`, () => {
      expect(fast(input)).toBeUndefined()
      expect(Either.isLeft(schema(input))).toBe(true)
    })
  }

  it("builds instances of a class with its own instance fields through its constructor", () => {
    class Tagged extends Model.Class<Tagged>("Tagged")({ id: Schema.Int, name: Schema.String }) {
      readonly source = "db"
    }
    const decode = RowDecoder.compile(Tagged)!
    for (const id of [1, 2, 3]) {
      const decoded = decode({ id, name: "x" }) as Tagged
      expect(decoded).toBeInstanceOf(Tagged)
      expect(decoded.source).toBe("db")
      expect(decoded).toEqual(Either.getOrThrow(Schema.decodeUnknownEither(Tagged)({ id, name: "x" })))
    }
  })

  it("later rows of a plain class are the same instances the constructor builds", () => {
    const first = fast(row) as Account
    const second = fast({ ...row, id: 2 }) as Account
    expect(second).toBeInstanceOf(Account)
    expect(RowDecoder.sameInstance(second, new Account({ ...first, id: 2 }, { disableValidation: true }))).toBe(true)
    expect(second).toEqual(Either.getOrThrow(schema({ ...row, id: 2 })))
  })

  it.effect("makeDecodeRows reports the Schema's error for a row the fast path left", () =>
    Effect.gen(function*() {
      const decode = makeDecodeRows(Account)
      const ok = yield* decode([row, { ...row, id: 2 }])
      expect(ok.map((a) => a.id)).toEqual([1, 2])
      const error = yield* Effect.flip(decode([row, { ...row, id: "2" }]))
      expect(error._tag).toBe("ParseError")
    }))

  it("checks Int, literal unions and undefined-accepting fields like the Schema", () => {
    const struct = Schema.Struct({
      n: Schema.Int,
      kind: Schema.Literal("a", 1, true, null),
      maybe: Schema.UndefinedOr(Schema.String)
    })
    const decode = RowDecoder.compile(struct)!
    const decodeSchema = Schema.decodeUnknownEither(struct)
    const inputs: ReadonlyArray<Record<string, unknown>> = [
      { n: 1, kind: "a", maybe: "x" },
      { n: 1, kind: 1, maybe: undefined },
      { n: 2 ** 53, kind: true, maybe: "x" },
      { n: 1, kind: null, maybe: "x" },
      { n: 1, kind: "b", maybe: "x" },
      { n: 1, kind: "a" }
    ]
    for (const input of inputs) {
      const fast = decode(input)
      const slow = decodeSchema(input)
      if (fast !== undefined) expect(fast).toEqual(Either.getOrThrow(slow))
      else expect(input).toSatisfy((i) => Either.isLeft(decodeSchema(i)) || !("maybe" in i))
    }
    expect(decode({ n: 1, kind: "a" })).toBeUndefined()
    expect(decode({ n: 1.5, kind: "a", maybe: "x" })).toBeUndefined()
  })

  it("reads keys that are not identifiers as they are, and never builds __proto__", () => {
    const odd = Schema.Struct({ "a\"b": Schema.String, "x\ny": Schema.Number, "constructor": Schema.String })
    const decode = RowDecoder.compile(odd)!
    const input = { "a\"b": "q", "x\ny": 1, "constructor": "c" }
    expect(decode(input)).toEqual(input)
    expect(RowDecoder.compile(Schema.Struct({ ["__proto__"]: Schema.String }))).toBeUndefined()
  })

  describe("rows given as arrays (`CompiledStatement.asArrays`)", () => {
    // The columns in another order than the model's fields, one the model does not have, as a driver gives them.
    const columns = ["created", "extra", "balance", "note", "kind", "active", "name", "id"]
    const asArray = (input: Record<string, unknown>) => columns.map((column) => input[column])
    const arrays = RowDecoder.compileArrays(Account)!

    it("build by column the same instances as rows given as objects", () => {
      const decode = arrays(columns)!
      for (const id of [1, 2, 3]) {
        const decoded = decode(asArray({ ...row, id }))
        expect(decoded).toBeInstanceOf(Account)
        expect(decoded).toEqual(Either.getOrThrow(schema({ ...row, id })))
        expect(decoded as object).not.toHaveProperty("extra")
      }
    })

    it("have no decoder when a field has no column, and one per list of columns", () => {
      expect(arrays(columns.filter((column) => column !== "note"))).toBeUndefined()
      expect(arrays([...columns])).toBe(arrays(columns))
      const reversed = [...columns].reverse()
      expect(arrays(reversed)!(reversed.map((column) => ({ ...row, id: 9 } as Record<string, unknown>)[column])))
        .toEqual(Either.getOrThrow(schema({ ...row, id: 9 })))
    })

    for (const [name, input] of rejected.filter(([name]) => name !== "a missing column")) {
      it(`leave ${name} to the Schema`, () => {
        expect(arrays(columns)!(asArray(input))).toBeUndefined()
      })
    }

    it.effect("makeDecodeRows decodes them, and reports the Schema's error for a row the fast path left", () =>
      Effect.gen(function*() {
        const decode = makeDecodeRows(Account)
        const given = (inputs: ReadonlyArray<Record<string, unknown>>) =>
          CompiledStatement.withColumns(inputs.map(asArray), columns)
        const ok = yield* decode(given([row, { ...row, id: 2 }]))
        expect(ok).toEqual([row, { ...row, id: 2 }].map((input) => Either.getOrThrow(schema(input))))
        const error = yield* Effect.flip(decode(given([row, { ...row, id: "2" }])))
        expect(error._tag).toBe("ParseError")
        expect(String(error)).toContain("id")
        // A model without a fast decoder (a property signature) gets them as objects.
        const Optional = Schema.Struct({ id: Schema.Int, note: Schema.optional(Schema.String) })
        const rows = CompiledStatement.withColumns([[1, "x"], [2, null]], ["id", "note"])
        const exit = yield* Effect.either(makeDecodeRows(Optional)(rows))
        expect(Either.isLeft(exit)).toBe(true)
        expect(yield* makeDecodeRows(Optional)(CompiledStatement.withColumns([[1, "x"]], ["id", "note"])))
          .toEqual([{ id: 1, note: "x" }])
      }))

    it("become objects with their columns as own properties, __proto__ included", () => {
      const objects = CompiledStatement.rowObjects(CompiledStatement.withColumns([[1, "p"]], ["id", "__proto__"]))
      expect(Object.getPrototypeOf(objects[0])).toBe(Object.prototype)
      expect(Object.keys(objects[0])).toEqual(["id", "__proto__"])
      expect(objects[0]["__proto__"]).toBe("p")
      const plain = [{ id: 1 }]
      expect(CompiledStatement.rowObjects(plain)).toBe(plain)
    })

    it("are read by column, sliced and filtered as objects are, keeping their columns", () => {
      // The same result as arrays and as objects: one column twice (the last one is the object's), one absent.
      const given = [
        ["a", 1, 10],
        ["b", 2, 20],
        ["c", 3, 30]
      ]
      const marked = () => CompiledStatement.withColumns(given.map((r) => [...r]), ["name", "id", "id"])
      const objects = CompiledStatement.rowObjects(marked())
      for (const rows of [marked(), objects]) {
        expect(rows.map(RowArrays.columnReader(rows, "id"))).toEqual([10, 20, 30])
        expect(rows.map(RowArrays.columnReader(rows, "gone"))).toEqual([undefined, undefined, undefined])
        const sliced = RowArrays.sliceRows(rows, 1, 3)
        expect(CompiledStatement.rowObjects(sliced)).toEqual(objects.slice(1, 3))
        const name = RowArrays.columnReader(rows, "name")
        const kept = RowArrays.filterRows(rows, (r) => name(r) !== "b")
        expect(CompiledStatement.rowObjects(kept)).toEqual([objects[0], objects[2]])
        expect(CompiledStatement.columnsOf(kept)).toEqual(CompiledStatement.columnsOf(rows))
      }
    })
  })
})
