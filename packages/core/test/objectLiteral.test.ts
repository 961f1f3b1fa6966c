/**
 * The generated object makers build the same objects as assigning the properties one by one (own keys, their order,
 * values, prototype), whatever the names, and no name escapes its string literal in the generated text.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ObjectLiteral from "../src/internal/objectLiteral.js"
import * as PublicObjectLiteral from "../src/ObjectLiteral.js"

/** Own keys, values and prototype: what "the same object" means here. */
const described = (o: object) => ({
  keys: Reflect.ownKeys(o),
  values: Reflect.ownKeys(o).map((k) => (o as Record<PropertyKey, unknown>)[k]),
  proto: Object.getPrototypeOf(o)
})

const many = Array.from({ length: 2000 }, (_, i) => `column_${i}`)

const names: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["plain identifiers", ["id", "name", "status"]],
  ["no names", []],
  ["the empty name", [""]],
  ["double and single quotes", ["a\"b", "it's", "\"", "\"}; globalThis.pwned = 1; ({\""]],
  ["backslashes", ["\\", "a\\\"b", "\\u0041", "\\\\"]],
  ["backquotes and template holes", ["`", "${globalThis}", "a`${1}`b"]],
  ["line terminators", ["a\nb", "a\rb", "a\u2028b", "a\u2029b"]],
  ["comment markers", ["*/", "/*", "//", "<!--", "-->"]],
  ["unicode", ["été", "名前", "🙂", "e\u0301", "\u0000", "\ud800", "\udfff"]],
  ["numeric-looking names", ["1", "0", "01", "-1", "1.5", "1e3", "4294967295", "NaN", "Infinity"]],
  ["names of Object.prototype's members", ["constructor", "toString", "hasOwnProperty", "valueOf", "__proto"]],
  ["a name given twice", ["a", "b", "a"]],
  ["every name given twice", ["x", "y", "x", "y"]],
  ["many columns", many]
]

describe("objectLiteral", () => {
  it.each(names)("fromValues builds what assignment builds: %s", (_, list) => {
    const make = ObjectLiteral.fromValues(list)
    expect(make).toBeTypeOf("function")
    const values = list.map((_, i) => i % 3 === 0 ? { i } : i % 3 === 1 ? `s${i}` : null)
    const built = make!(values)
    expect(described(built)).toEqual(described(ObjectLiteral.byAssignment(list)(values)))
    expect(Object.getPrototypeOf(built)).toBe(Object.prototype)
    expect((globalThis as Record<string, unknown>).pwned).toBeUndefined()
  })

  it.each(names)("the literal and the assignments hold each name as its JSON string: %s", (_, list) => {
    const values = list.map((_, i) => `v[${i}]`)
    const literal = ObjectLiteral.literal(list, values)!
    // Evaluated as data, the literal is the name list itself: nothing escaped a string.
    const parsed = JSON.parse(literal.replaceAll(/: v\[(\d+)\]/g, ": $1")) as Record<string, number>
    expect(Object.keys(parsed).sort()).toEqual([...new Set(list)].sort())
    for (const [name, index] of Object.entries(parsed)) expect(list.lastIndexOf(name)).toBe(index)
    const target: Record<string, unknown> = {}
    ObjectLiteral.compile<(t: object, v: ReadonlyArray<unknown>) => void>(
      ["t", "v"],
      ObjectLiteral.assignments("t", list, values)
    )!(target, list)
    expect(described(target)).toEqual(described(ObjectLiteral.byAssignment(list)(list)))
  })

  it.each([
    [["__proto__"]],
    [["id", "__proto__"]],
    [["__proto__", "__proto__"]]
  ])("no literal sets a prototype: %j", (list) => {
    expect(ObjectLiteral.canBuild(list)).toBe(false)
    expect(ObjectLiteral.literal(list, list.map(() => "null"))).toBeUndefined()
    expect(ObjectLiteral.fromValues(list)).toBeUndefined()
  })

  it.each([
    [["__proto", "proto__", "__PROTO__", " __proto__"], true],
    [["constructor", "prototype"], true]
  ])("names close to __proto__ are built: %j", (list, expected) => {
    expect(ObjectLiteral.canBuild(list)).toBe(expected)
    expect(Object.keys(ObjectLiteral.fromValues(list)!(list))).toEqual(list)
  })

  it.each([
    ["a body that does not parse", ["v"], "return {"],
    ["a parameter that is no identifier", ["a-b"], "return 1"]
  ])("compile answers undefined where no function can be made: %s", (_, params, body) => {
    expect(ObjectLiteral.compile(params, body)).toBeUndefined()
  })

  it("the public module's makers are the shared ones", () => {
    expect(PublicObjectLiteral.fromValues(["a"])!([1])).toEqual({ a: 1 })
    expect(PublicObjectLiteral.byAssignment(["a"])([1])).toEqual({ a: 1 })
  })
})
