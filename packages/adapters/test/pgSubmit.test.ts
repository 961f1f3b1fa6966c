import { describe, expect, it } from "@effect/vitest"
import Pg from "pg"
import { fromText } from "../src/internal/pgSubmit.js"

/** What pg reads of a query it is handed. */
interface Built {
  readonly text: string
  readonly values?: ReadonlyArray<unknown>
  readonly name?: string
  readonly _result: { readonly rowAsArray: boolean }
}

describe("a query built from its text (fromText)", () => {
  it.each([
    ["text and values", { text: "SELECT $1", values: [1] }, undefined, false],
    ["a prepared statement", { text: "SELECT $1", values: [1], name: "s1" }, "s1", false],
    ["rows as arrays", { text: "SELECT $1", values: [1], rowMode: "array" }, undefined, true],
    [
      "a prepared statement with rows as arrays",
      { text: "SELECT $1", values: [1], name: "s2", rowMode: "array" },
      "s2",
      true
    ]
  ])("%s keeps its text, values, name and row mode", (_, config, name, arrays) => {
    const built = fromText(Pg.Query, config as Pg.QueryConfig) as unknown as Built
    expect(built).toBeInstanceOf(Pg.Query)
    expect(built.text).toBe(config.text)
    expect(built.values).toEqual(config.values)
    expect(built.name).toBe(name)
    expect(built._result.rowAsArray).toBe(arrays)
  })

  it.each([
    ["its own types", { text: "SELECT $1", values: [1], types: { getTypeParser: () => String } }],
    ["another row mode", { text: "SELECT $1", values: [1], rowMode: "object" }],
    ["a submittable", new Pg.Query("SELECT 1")]
  ])("one with %s is left to pg as it is", (_, config) => {
    expect(fromText(Pg.Query, config as Pg.QueryConfig)).toBeUndefined()
  })
})
