/**
 * The statements of one better-sqlite3 connection: prepared once per SQL text and kept, up to a bound, and run
 * synchronously. A reader whose rows FastORM makes itself (sqliteRows.ts) returns arrays of values; with reader
 * threads, each reader's measured cost tells sqliteOffload.ts where its next run goes.
 */
import { SqlError } from "@effect/sql/SqlError"
import { CompiledStatement } from "@fastorm/core"
import type Sqlite from "better-sqlite3"
import * as Offload from "./sqliteOffload.js"
import * as Rows from "./sqliteRows.js"

/**
 * What a statement's run returns: rows (`[]` for a write), the driver's result, rows as arrays, rows as arrays marked
 * with their columns (`CompiledStatement.asArrays`; objects where the statement has no row maker), or changes.
 */
export type Mode = "rows" | "raw" | "values" | "arrays" | "changes"

/** One prepared statement and what its runs need. */
export interface Prepared {
  readonly statement: Sqlite.Statement
  readonly reader: boolean
  /** A reader's row maker (the statement is then in raw mode); undefined: better-sqlite3 makes the objects. */
  maker: Rows.RowMaker | undefined
  /** Whether the statement currently returns integers as bigint (SqlClient.SafeIntegers). */
  safe: boolean
  /** A reader's measured cost, when the node has reader threads to send it to. */
  readonly cost: Offload.Cost | undefined
  /** The row maker of the rows a reader thread returns, when the node has reader threads. */
  readonly threadRows: Rows.ByNames | undefined
}

/** Query shapes are few; texts with literals in them are not: past this bound a statement cache starts again. */
export const MAX_STATEMENTS = 500

/** The statement cache of one connection. */
export interface Statements {
  /** Runs `sql` now, prepared once (throws a `SqlError`); `safe`: integers as bigint (SqlClient.SafeIntegers). */
  readonly run: (sql: string, params: ReadonlyArray<unknown>, mode: Mode, safe: boolean) => any
  /** The statement of `sql` if it was prepared (and not forgotten since). */
  readonly cached: (sql: string) => Prepared | undefined
}

/** The statement cache of `db`; `measured`: the node has reader threads, so readers' costs are measured. */
export const make = (db: Sqlite.Database, measured: boolean): Statements => {
  const cache = new Map<string, Prepared>()
  const prepare = (sql: string): Prepared => {
    let prepared = cache.get(sql)
    if (prepared === undefined) {
      let statement: Sqlite.Statement
      try {
        statement = db.prepare(sql)
      } catch (cause) {
        throw new SqlError({ cause, message: "Failed to prepare statement " })
      }
      if (cache.size >= MAX_STATEMENTS) cache.clear()
      const maker = statement.reader ? Rows.rowMaker(statement) : undefined
      // A reader with a row maker returns arrays of values from now on (sqliteRows.ts makes the objects).
      if (maker?.toObject !== undefined) statement.raw(true)
      prepared = {
        statement,
        reader: statement.reader,
        maker: maker?.toObject !== undefined ? maker : undefined,
        safe: false,
        cost: measured && maker?.toObject !== undefined ? Offload.unmeasured() : undefined,
        threadRows: measured ? Rows.byNames() : undefined
      }
      cache.set(sql, prepared)
    }
    return prepared
  }

  /** The statement's row maker, made again if it may be stale (a schema change). */
  const current = (prepared: Prepared, values: ReadonlyArray<ReadonlyArray<unknown>>): Rows.RowMaker => {
    let maker = prepared.maker!
    if (Rows.isStale(maker, values)) {
      maker = Rows.rowMaker(prepared.statement)
      prepared.maker = maker
    }
    return maker
  }

  const run = (sql: string, params: ReadonlyArray<unknown>, mode: Mode, safe: boolean): any => {
    const prepared = prepare(sql)
    const statement = prepared.statement
    try {
      if (prepared.safe !== safe) {
        statement.safeIntegers(safe)
        prepared.safe = safe
      }
      if (prepared.reader) {
        if (prepared.maker !== undefined) {
          const cost = prepared.cost
          const start = cost === undefined ? 0 : performance.now()
          const values = statement.all(params as Array<unknown>) as Array<ReadonlyArray<unknown>>
          if (cost !== undefined) Offload.observe(cost, (performance.now() - start) * 1000, values.length)
          if (mode === "changes") return values.length
          if (mode === "values") return values
          const maker = current(prepared, values)
          if (mode === "arrays") return CompiledStatement.withColumns(values, maker.names)
          // A column now named `__proto__`: objects made one property at a time, as a plain loop would.
          return Rows.rowsOf(values, maker.toObject ?? Rows.byProperty(statement))
        }
        if (mode === "changes") return statement.all(params as Array<unknown>).length
        if (mode !== "values") return statement.all(params as Array<unknown>)
        statement.raw(true)
        try {
          return statement.all(params as Array<unknown>)
        } finally {
          statement.raw(false)
        }
      }
      const result = statement.run(params as Array<unknown>)
      Rows.noteWrite(sql)
      return mode === "raw" ? result : mode === "changes" ? result.changes : []
    } catch (cause) {
      throw new SqlError({ cause, message: "Failed to execute statement" })
    }
  }

  return { run, cached: (sql) => cache.get(sql) }
}
