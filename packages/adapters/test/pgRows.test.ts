/**
 * Rows as arrays on pg: a query built from its text is switched to array rows without pg's copy of a configuration
 * object, and its result is marked with its columns; rows pg gave as objects stay objects.
 */
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import Pg from "pg"
import { asArrays, rowsFor } from "../src/internal/pgRows.js"

const fields = [{ name: "id" }, { name: "name" }]

describe("pg rows as arrays", () => {
  it("switch a query built from its text to array rows, as rowMode: \"array\" would", () => {
    const query = new Pg.Query("SELECT 1", [], () => undefined)
    expect(asArrays(query)).toBe(true)
    const result =
      (query as unknown as { _result: { rowAsArray: boolean; parseRow: (row: Array<unknown>) => unknown } })
        ._result
    expect(result.rowAsArray).toBe(true) // The same parsing pg does for rowMode "array": raw text through each column's parser, into an array.
    ;(result as unknown as { addFields: (f: unknown) => void }).addFields([
      { name: "id", dataTypeID: 23, format: "text" },
      { name: "name", dataTypeID: 25, format: "text" }
    ])
    expect(result.parseRow(["7", "x"])).toEqual([7, "x"])
    // Only once: a query already in array mode is left as it is.
    expect(asArrays(query)).toBe(false)
  })

  it("mark array rows with their columns, and leave object rows (or a statement asking for objects) as they are", () => {
    const arrays = CompiledStatement.asArrays(CompiledStatement.make("SELECT id, name FROM t"))
    const marked = rowsFor(arrays)({ rowAsArray: true, fields, rows: [[1, "a"]] })
    expect(CompiledStatement.columnsOf(marked)).toEqual(["id", "name"])
    const objects = rowsFor(arrays)({ rowAsArray: false, fields, rows: [{ id: 1, name: "a" }] })
    expect(CompiledStatement.columnsOf(objects)).toBeUndefined()
    const plain = rowsFor(CompiledStatement.make("SELECT id, name FROM t"))({ rowAsArray: true, fields, rows: [[1]] })
    expect(CompiledStatement.columnsOf(plain)).toBeUndefined()
  })
})
