/**
 * A reader's rows as objects built in JavaScript from better-sqlite3's arrays of values (raw mode), one object
 * literal per statement: V8 makes such objects with one fixed shape, much faster than better-sqlite3 setting each
 * row's properties one by one (most of a list's cost per row, beyond SQLite's own).
 *
 * SQLite re-prepares a statement when the schema changes, and its columns may change with it (`SELECT *` after an
 * ALTER TABLE): the names are read again after any DDL statement run through these clients (a process-wide
 * generation) and whenever a row's width differs from the names'.
 */
import { ObjectLiteral } from "@fastorm/core"
import type Sqlite from "better-sqlite3"

/** Makes one row object from its values. */
export type ToObject = ObjectLiteral.FromValues

let generation = 0

const ddl = /^\s*(?:create|alter|drop)\b/i

/** Records that `sql` may have changed the schema (a write statement's text; called after it ran). */
export const noteWrite = (sql: string): void => {
  if (ddl.test(sql)) generation++
}

/** A reader statement's row maker; `undefined` when better-sqlite3 must make the objects itself. */
export interface RowMaker {
  toObject: ToObject | undefined
  /** The statement's column names, in its rows' order. */
  names: ReadonlyArray<string>
  width: number
  generation: number
}

const columnNames = (statement: Sqlite.Statement): Array<string> => statement.columns().map((column) => column.name)

/**
 * The maker for the statement's current columns (`ObjectLiteral.fromValues`), or undefined where a literal would not
 * mean the same (a column named `__proto__`: a literal would set the prototype) or the runtime forbids generated code.
 * A name given twice keeps the last value, as in better-sqlite3's objects.
 */
export const rowMaker = (statement: Sqlite.Statement): RowMaker => {
  const names = columnNames(statement)
  return { toObject: ObjectLiteral.fromValues(names), names, width: names.length, generation }
}

/** Whether the maker may be stale: DDL ran since it was made, or the rows are not as wide as its names. */
export const isStale = (maker: RowMaker, values: ReadonlyArray<ReadonlyArray<unknown>>): boolean =>
  maker.generation !== generation || (values.length > 0 && values[0]!.length !== maker.width)

/** The rows as objects. */
export const rowsOf = (values: ReadonlyArray<ReadonlyArray<unknown>>, toObject: ToObject): Array<object> => {
  const rows = new Array<object>(values.length)
  for (let i = 0; i < values.length; i++) rows[i] = toObject(values[i]!)
  return rows
}

/** Row objects made one property at a time, by assignment as better-sqlite3 makes them. */
export const byProperty = (statement: Sqlite.Statement): ToObject => ObjectLiteral.byAssignment(columnNames(statement))

/** The row maker of rows whose column names come with them (a reader thread's): made again when the names change. */
export interface ByNames {
  readonly forNames: (names: ReadonlyArray<string>) => ToObject
}

/** A row maker kept for the last names it was given. */
export const byNames = (): ByNames => {
  let known: ReadonlyArray<string> = []
  let toObject: ToObject | undefined
  return {
    forNames: (names) => {
      let same = toObject !== undefined && known.length === names.length
      for (let i = 0; same && i < names.length; i++) same = known[i] === names[i]
      if (!same) {
        known = names
        toObject = ObjectLiteral.fromValues(names) ?? ObjectLiteral.byAssignment(names)
      }
      return toObject!
    }
  }
}
