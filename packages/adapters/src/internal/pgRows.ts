/**
 * How rows come out of pg's results: as objects, pg's default, or as arrays for a compiled statement that asks for
 * them (`CompiledStatement.asArrays`), which spares an object per row for reads whose rows go straight to a model's
 * row decoder (BENCHMARKS.md, lever 26).
 */
import { CompiledStatement } from "@fastorm/core"
import type Pg from "pg"

/** The rows of pg's result (several results: one array of rows each). */
export const rowsOf = (result: unknown): ReadonlyArray<any> =>
  Array.isArray(result)
    ? result.map((r: Pg.QueryResult) => r.rows ?? [])
    : (result as Pg.QueryResult | undefined)?.rows ?? []

/** The rows of a statement that asked for arrays: marked with their columns when pg gave arrays, else as given. */
const arrayRowsOf = (result: unknown): ReadonlyArray<any> => {
  const r = result as (Pg.QueryResult & { readonly rowAsArray?: boolean }) | undefined
  if (r === undefined || Array.isArray(result) || r.rowAsArray !== true) return rowsOf(result)
  const columns = new Array<string>(r.fields.length)
  for (let i = 0; i < columns.length; i++) columns[i] = r.fields[i]!.name
  return CompiledStatement.withColumns(r.rows, columns)
}

/** How a compiled statement's rows are taken from pg's result. */
export const rowsFor = (statement: CompiledStatement.CompiledStatement) =>
  statement.arrays === true ? arrayRowsOf : rowsOf

/** pg's query and result, as far as `asArrays` reads and sets them. */
interface ArrayModeQuery {
  _rowMode?: unknown
  readonly _result?: { rowAsArray?: unknown; parseRow?: unknown; readonly _parseRowAsArray?: unknown }
}

/**
 * Turns a query pg built from its text into one whose rows are arrays, as `rowMode: "array"` in a configuration
 * object would (then pg copies the object property by property: 1.8 µs a query, measured, against 0.07 µs for a
 * text). False, and the query left as it is, where this version of pg keeps its result otherwise.
 */
export const asArrays = (query: Pg.Query): boolean => {
  const inner = query as unknown as ArrayModeQuery
  const result = inner._result
  if (result === undefined || typeof result._parseRowAsArray !== "function" || result.rowAsArray !== false) {
    return false
  }
  result.rowAsArray = true
  result.parseRow = result._parseRowAsArray
  // A second result of the query (several statements) is made in this mode too.
  inner._rowMode = "array"
  return true
}
