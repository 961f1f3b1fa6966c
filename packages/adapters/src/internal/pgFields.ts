/**
 * pg's result with its row description's work kept per statement: pg builds every column's type parser and an empty
 * row object on each RowDescription, which a statement's every run receives again, the same (BENCHMARKS.md, lever 39).
 * Here a run whose columns match the last run of the same text on the same connection's type set takes that run's
 * parsers and empty row instead.
 */
import type Pg from "pg"

/** A column of a RowDescription, as far as its parser depends on it. */
interface Field {
  readonly name: string
  readonly dataTypeID: number
  readonly format?: string
}

/** What pg's `Result.addFields` builds from a row description. */
interface Kept {
  readonly fields: ReadonlyArray<Field>
  readonly parsers: Array<unknown>
  readonly empty: object
}

/** A connection's type set: pg gives each client its own, which `Client.query` puts on each result. */
interface Types {
  getTypeParser(oid: number, format: string): unknown
}

/** How many statement texts one connection keeps; past it the oldest goes (a connection's statements are few). */
const KEPT_PER_CONNECTION = 256

/** True when `fields` describes the same columns as `kept`, the same names, types and formats in the same order. */
export const sameColumns = (kept: ReadonlyArray<Field>, fields: ReadonlyArray<Field>): boolean => {
  if (kept.length !== fields.length) return false
  for (let i = 0; i < fields.length; i++) {
    const a = kept[i]!
    const b = fields[i]!
    if (a.name !== b.name || a.dataTypeID !== b.dataTypeID || (a.format ?? "text") !== (b.format ?? "text")) {
      return false
    }
  }
  return true
}

/**
 * Keeps `entry` for `text` in `statements`, in place of what it kept for that text; past `limit` texts the one kept
 * longest ago goes (a connection runs few distinct texts, but nothing stops an application from making many).
 */
export const keep = <A>(statements: Map<string, A>, text: string, entry: A, limit = KEPT_PER_CONNECTION): void => {
  if (!statements.delete(text) && statements.size >= limit) statements.delete(statements.keys().next().value!)
  statements.set(text, entry)
}

const byTypes = new WeakMap<Types, Map<string, Kept>>()

/** The statements one type set keeps, made on first use. */
const keptFor = (types: Types): Map<string, Kept> => {
  let kept = byTypes.get(types)
  if (kept === undefined) {
    kept = new Map()
    byTypes.set(types, kept)
  }
  return kept
}

/** pg's `Result` as this module extends it: the fields its `addFields` sets. */
interface ResultFields {
  fields: ReadonlyArray<Field>
  _parsers: Array<unknown> | undefined
  _types: Types | undefined
  _prebuiltEmptyResultObject: object | null
  addFields(fields: ReadonlyArray<Field>): void
}
type ResultClass = new(rowMode: string | undefined, types: unknown) => ResultFields

/** pg's `Result`, keeping its row description's work for the statement `text`. */
const keeping = (Base: ResultClass) =>
  class KeptResult extends Base {
    constructor(readonly text: string) {
      super(undefined, undefined)
    }
    override addFields(fields: ReadonlyArray<Field>): void {
      const types = this._types
      if (types === undefined) return super.addFields(fields)
      const statements = keptFor(types)
      const kept = statements.get(this.text)
      if (kept !== undefined && sameColumns(kept.fields, fields)) {
        this.fields = fields
        this._parsers = kept.parsers
        this._prebuiltEmptyResultObject = kept.empty
        return
      }
      super.addFields(fields)
      keep(statements, this.text, {
        fields,
        parsers: this._parsers ?? [],
        empty: this._prebuiltEmptyResultObject ?? {}
      })
    }
  }

// pg's `Result` (the driver is loaded when a PostgreSQL node is first used, never imported here) and its keeping
// subclass, made for the first result seen: one pg per process.
let base: ResultClass | undefined
let KeptResult: ReturnType<typeof keeping> | undefined

/** The keeping subclass of `Result`; undefined where this pg's result is not the class this module knows. */
const keptClassOf = (Result: ResultClass): ReturnType<typeof keeping> | undefined => {
  if (Result === base) return KeptResult
  if (typeof Result !== "function" || typeof Result.prototype?.addFields !== "function") return undefined
  base = Result
  KeptResult = keeping(Result)
  return KeptResult
}

/**
 * The query pg would build for `text` and `values`, its result keeping its row description's work (above); rows as
 * objects, as pg's own (array rows: `pgRows.asArrays`).
 */
export const keptQuery = (
  Query: typeof Pg.Query,
  text: string,
  values: ReadonlyArray<unknown> | undefined,
  reply: ((error: Error | null | undefined, result: any) => void) | undefined
): Pg.Query => {
  const built = new Query(text, values as Array<unknown>, reply) as Pg.Query & { _result?: unknown; _results?: unknown }
  // pg answers with `_results`, which is `_result` until a second statement's rows come.
  const result = built._result as { readonly constructor: ResultClass } | undefined
  const Kept = result === undefined || built._results !== result ? undefined : keptClassOf(result.constructor)
  if (Kept !== undefined) {
    built._result = built._results = new Kept(text)
  }
  return built
}
