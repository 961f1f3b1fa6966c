/**
 * Rows as arrays (`CompiledStatement.asArrays`): a read whose rows go straight to a model's row decoder may ask for
 * them as arrays of values, which spares the driver an object per row; the rows then carry their column names, and
 * whatever needs objects makes them (`rowObjects`).
 */
import type { CompiledStatement } from "../CompiledStatement.js"

const asArraysOf = new WeakMap<CompiledStatement, CompiledStatement>()

/**
 * `statement` with its rows wanted as arrays (the same SQL and name: how rows come back is the client's business).
 * For reads whose rows go straight to a row decoder that takes arrays (`columnsOf`).
 */
export const asArrays = (statement: CompiledStatement): CompiledStatement => {
  if (statement.arrays === true) return statement
  let arrays = asArraysOf.get(statement)
  if (arrays === undefined) {
    arrays = { sql: statement.sql, name: statement.name, arrays: true }
    asArraysOf.set(statement, arrays)
  }
  return arrays
}

/** The key under which rows given as arrays carry their column names. */
export const ColumnsTypeId: unique symbol = Symbol.for("@fastorm/core/CompiledStatement/Columns")

/** The column names of rows given as arrays (a statement `asArrays`); undefined when the rows are objects. */
export const columnsOf = (rows: ReadonlyArray<unknown>): ReadonlyArray<string> | undefined =>
  (rows as { readonly [ColumnsTypeId]?: ReadonlyArray<string> })[ColumnsTypeId]

/** Marks `rows`, arrays of values, with their column names, in the result's order. */
export const withColumns = <A extends Array<unknown>>(rows: A, columns: ReadonlyArray<string>): A => {
  ;(rows as unknown as { [ColumnsTypeId]: ReadonlyArray<string> })[ColumnsTypeId] = columns
  return rows
}

/** Rows given as arrays (`columnsOf`) as objects keyed by column; other rows as they are. */
export const rowObjects = (rows: ReadonlyArray<any>): ReadonlyArray<any> => {
  const columns = columnsOf(rows)
  if (columns === undefined) return rows
  return rows.map((row: ReadonlyArray<unknown>) => {
    const out: Record<string, unknown> = {}
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i]!
      // An own property, as a driver's row has it, never the object's prototype.
      if (column === "__proto__") {
        Object.defineProperty(out, column, { value: row[i], enumerable: true, writable: true, configurable: true })
      } else out[column] = row[i]
    }
    return out
  })
}

/**
 * Reads one column of `rows`' rows, given as arrays (`columnsOf`) or as objects. Of two columns with one name, the
 * last, as an object built from the same result holds it.
 */
export const columnReader = (rows: ReadonlyArray<any>, column: string): (row: any) => unknown => {
  const columns = columnsOf(rows)
  if (columns === undefined) return (row) => row[column]
  const index = columns.lastIndexOf(column)
  return index < 0 ? () => undefined : (row) => row[index]
}

/** `out`, taken from `rows`, marked with `rows`' columns when they are arrays (a plain slice or filter drops them). */
const sameColumns = (rows: ReadonlyArray<any>, out: Array<any>): Array<any> => {
  const columns = columnsOf(rows)
  return columns === undefined ? out : withColumns(out, columns)
}

/** The rows from `start` to `end`, still marked with their columns when they are arrays. */
export const sliceRows = (rows: ReadonlyArray<any>, start: number, end?: number): Array<any> =>
  sameColumns(rows, rows.slice(start, end))

/** The rows that `keep`, still marked with their columns when they are arrays. */
export const filterRows = (rows: ReadonlyArray<any>, keep: (row: any) => boolean): Array<any> =>
  sameColumns(rows, rows.filter(keep))
