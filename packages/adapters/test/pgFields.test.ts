/**
 * pg results that keep their row description's work (`pgFields.ts`): a statement's next run on the same type set takes
 * the parsers its last run built, as long as its columns are the same; a changed column, or another connection's
 * types, builds them afresh. Driven with the messages pg's connection would hand a query, no server needed.
 */
import { describe, expect, it } from "@effect/vitest"
import Pg from "pg"
import { keep, keptQuery, sameColumns } from "../src/internal/pgFields.js"
import { asArrays } from "../src/internal/pgRows.js"

interface Column {
  readonly name: string
  readonly dataTypeID: number
  readonly format?: string
}

/** What a test reads of pg's query and its result. */
interface Seen {
  readonly rows: ReadonlyArray<unknown>
  readonly parsers: unknown
}

const INT4 = 23
const TEXT = 25
const BOOL = 16

/** Runs `text` as pg's client would on a connection with `types`: its row description, its rows, its completion. */
const run = (
  types: Pg.CustomTypesConfig,
  text: string,
  columns: ReadonlyArray<Column>,
  data: ReadonlyArray<ReadonlyArray<string | null>>,
  rowMode?: "array"
): Seen => {
  let answer: { rows: ReadonlyArray<unknown> } | undefined
  const built = keptQuery(Pg.Query, text, [], (error, result) => {
    if (error) throw error
    answer = result
  })
  // Array rows as pgSubmit asks for them.
  if (rowMode === "array" && !asArrays(built)) throw new Error("this pg keeps array rows otherwise")
  const query = built as unknown as {
    _result: { _types: unknown; _parsers: unknown }
    handleRowDescription(msg: unknown): void
    handleDataRow(msg: unknown): void
    handleCommandComplete(msg: unknown, connection: unknown): void
    handleReadyForQuery(connection: unknown): void
  }
  // pg's client puts its type set on every result it runs.
  query._result._types = types
  query.handleRowDescription({ fields: columns.map((c) => ({ format: "text", ...c })) })
  for (const fields of data) query.handleDataRow({ fields })
  query.handleCommandComplete({ text: `SELECT ${data.length}` }, {})
  query.handleReadyForQuery({})
  return { rows: answer!.rows, parsers: query._result._parsers }
}

describe("the columns of two row descriptions (sameColumns)", () => {
  const id = { name: "id", dataTypeID: INT4 }
  it.each([
    ["the same columns", [id, { name: "n", dataTypeID: TEXT }], [id, { name: "n", dataTypeID: TEXT }], true],
    ["no columns on either side", [], [], true],
    ["a format given or left to its default", [{ ...id, format: "text" }], [id], true],
    ["a column more", [id], [id, { name: "n", dataTypeID: TEXT }], false],
    ["another name", [id], [{ name: "ID", dataTypeID: INT4 }], false],
    ["another type", [id], [{ name: "id", dataTypeID: TEXT }], false],
    ["another format", [id], [{ ...id, format: "binary" }], false],
    ["the same columns in another order", [id, { name: "n", dataTypeID: TEXT }], [
      { name: "n", dataTypeID: TEXT },
      id
    ], false]
  ])("%s: %s", (_, kept, fields, same) => {
    expect(sameColumns(kept, fields)).toBe(same)
  })
})

describe("what a connection keeps (keep)", () => {
  it("replaces a text's entry, and past the limit lets go of the text kept longest ago", () => {
    const kept = new Map<string, number>()
    keep(kept, "a", 1, 2)
    keep(kept, "b", 2, 2)
    keep(kept, "a", 3, 2)
    expect([...kept]).toEqual([["b", 2], ["a", 3]])
    keep(kept, "c", 4, 2)
    expect([...kept]).toEqual([["a", 3], ["c", 4]])
    expect(kept.size).toBe(2)
  })
})

describe("a pg result that keeps its row description's work (keptQuery)", () => {
  const columns = [{ name: "id", dataTypeID: INT4 }, { name: "n", dataTypeID: INT4 }]

  it("parses a statement's next run with the parsers its last run built", () => {
    const types = new Pg.TypeOverrides() as unknown as Pg.CustomTypesConfig
    const first = run(types, "SELECT id, n FROM t", columns, [["1", "5"]])
    const second = run(types, "SELECT id, n FROM t", columns, [["2", null], ["3", "7"]])
    expect(first.rows).toEqual([{ id: 1, n: 5 }])
    expect(second.rows).toEqual([{ id: 2, n: null }, { id: 3, n: 7 }])
    expect(second.parsers).toBe(first.parsers)
  })

  it("gives arrays where asked, from the same kept parsers as objects", () => {
    const types = new Pg.TypeOverrides() as unknown as Pg.CustomTypesConfig
    const objects = run(types, "SELECT id, n FROM u", columns, [["1", "5"]])
    const arrays = run(types, "SELECT id, n FROM u", columns, [["1", "5"]], "array")
    expect(arrays.rows).toEqual([[1, 5]])
    expect(arrays.parsers).toBe(objects.parsers)
  })

  it("builds them afresh when a column's type changed (ALTER COLUMN ... TYPE), then keeps the new ones", () => {
    const types = new Pg.TypeOverrides() as unknown as Pg.CustomTypesConfig
    const before = run(types, "SELECT id, n FROM v", columns, [["1", "5"]])
    const asText = [columns[0]!, { name: "n", dataTypeID: TEXT }]
    const after = run(types, "SELECT id, n FROM v", asText, [["1", "5"]])
    expect(before.rows).toEqual([{ id: 1, n: 5 }])
    expect(after.rows).toEqual([{ id: 1, n: "5" }])
    expect(after.parsers).not.toBe(before.parsers)
    const asBool = [columns[0]!, { name: "n", dataTypeID: BOOL }]
    expect(run(types, "SELECT id, n FROM v", asBool, [["1", "t"]]).rows).toEqual([{ id: 1, n: true }])
    expect(run(types, "SELECT id, n FROM v", asBool, [["1", "f"]]).rows).toEqual([{ id: 1, n: false }])
  })

  it("keeps one connection's parsers from another's type set", () => {
    const plain = new Pg.TypeOverrides() as unknown as Pg.CustomTypesConfig & Pg.TypeOverrides
    const own = new Pg.TypeOverrides() as unknown as Pg.CustomTypesConfig & Pg.TypeOverrides
    own.setTypeParser(INT4, "text", (value: string) => `int ${value}`)
    expect(run(plain, "SELECT id, n FROM w", columns, [["1", "5"]]).rows).toEqual([{ id: 1, n: 5 }])
    expect(run(own, "SELECT id, n FROM w", columns, [["1", "5"]]).rows).toEqual([{ id: "int 1", n: "int 5" }])
    expect(run(plain, "SELECT id, n FROM w", columns, [["2", "6"]]).rows).toEqual([{ id: 2, n: 6 }])
  })

  it("keeps each text's own columns", () => {
    const types = new Pg.TypeOverrides() as unknown as Pg.CustomTypesConfig
    const one = run(types, "SELECT id FROM x", [columns[0]!], [["1"]])
    const other = run(types, "SELECT n FROM x", [{ name: "n", dataTypeID: TEXT }], [["1"]])
    expect(one.rows).toEqual([{ id: 1 }])
    expect(other.rows).toEqual([{ n: "1" }])
    expect(run(types, "SELECT id FROM x", [columns[0]!], [["2"]]).parsers).toBe(one.parsers)
  })
})
