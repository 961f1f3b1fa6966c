/**
 * `upsertMany`: many rows inserted, or updated where their conflict columns already exist, in as few statements as
 * the servers' parameter limits allow, all in one transaction. Returns the rows as stored, in the input's order.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { ParseError } from "effect/ParseResult"
import { onOneConnection } from "../Database.js"
import type { ValidationError } from "../Errors.js"
import { InvalidColumn, InvalidValue } from "../Errors.js"
import type { TableInfo } from "./engine.js"
import * as engine from "./engine.js"
import type { Condition } from "./sql.js"
import * as Sql from "./sql.js"
import * as Shape from "./sqlShape.js"
import * as validation from "./validation.js"

type Row = Record<string, unknown>

/** What upsertMany needs from its repository. */
export interface Context {
  readonly info: TableInfo
  /** A row of the insert variant, encoded and checked (every key a column, every value bindable). */
  readonly encodeInsert: (data: unknown) => Effect.Effect<Row, ValidationError | ParseError>
}

// Bound parameters per statement: PostgreSQL and MySQL take 65 535, SQLite 32 766.
const maxParams = (dialect: engine.Dialect) => dialect === "sqlite" ? 32_766 : 65_535

/** A key that tells rows apart by their conflict values. */
const keyOf = (values: ReadonlyArray<unknown>): string =>
  values.map((v) =>
    v instanceof Date
      ? `d${v.toISOString()}`
      : v instanceof Uint8Array
      ? `u${Buffer.from(v).toString("hex")}`
      : `${typeof v}${String(v)}`
  ).join("\u0000")

/** Checks the conflict columns: at least one, each a column. */
const checkConflict = (info: TableInfo, conflict: unknown): Either.Either<ReadonlyArray<string>, ValidationError> => {
  if (!Array.isArray(conflict) || conflict.length === 0) {
    return Either.left(
      new InvalidColumn({ table: info.table, column: "", reason: "upsertMany needs at least one conflict column" })
    )
  }
  return Either.all(conflict.map((c) => validation.checkColumn(info.table, info.columns, c)))
}

/** Inserts or updates every row; the rows as stored, in order. */
export const upsertMany = (ctx: Context, data: unknown, options: { readonly conflict?: unknown }) =>
  Effect.gen(function*() {
    const { info } = ctx
    if (info.setupError !== undefined) return yield* Effect.fail(info.setupError)
    const conflict = yield* checkConflict(info, options?.conflict)
    if (!Array.isArray(data)) {
      return yield* Effect.fail(
        new InvalidValue({ column: "(rows)", received: validation.describe(data), reason: "expected an array" })
      )
    }
    if (data.length === 0) return []
    const rows: Array<Row> = []
    const seen = new Set<string>()
    for (const item of data) {
      const row = yield* ctx.encodeInsert(item)
      for (const column of conflict) {
        if (!(column in row)) {
          return yield* Effect.fail(
            new InvalidValue({ column, received: "undefined", reason: "conflict column missing" })
          )
        }
      }
      // Two rows with one conflict key: PostgreSQL refuses the statement, MySQL keeps the last. Refused here.
      const key = keyOf(conflict.map((c) => row[c]))
      if (seen.has(key)) {
        return yield* Effect.fail(
          new InvalidValue({
            column: conflict.join(", "),
            received: "duplicate",
            reason: "two rows share conflict values"
          })
        )
      }
      seen.add(key)
      rows.push(row)
    }
    // Rows with the same columns share a statement (a missing optional field keeps its default).
    const groups = new Map<string, Array<number>>()
    rows.forEach((row, i) => {
      const columns = Object.keys(row).join(",")
      groups.set(columns, [...(groups.get(columns) ?? []), i])
    })
    const result: Array<unknown> = new Array(rows.length)
    return yield* engine.withWriter((sql, returning) => {
      const dialect = engine.dialectOf(sql)
      const batches: Array<ReadonlyArray<number>> = []
      for (const [columns, indices] of groups) {
        const size = Math.max(1, Math.floor(maxParams(dialect) / Math.max(1, columns.split(",").length)))
        for (let i = 0; i < indices.length; i += size) batches.push(indices.slice(i, i + size))
      }
      const run = Effect.forEach(batches, (batch) =>
        Effect.flatMap(
          upsertBatch(sql, info, batch.map((i) => rows[i]!), conflict, returning),
          (stored) =>
            Effect.sync(() => {
              batch.forEach((index, j) => {
                result[index] = stored[j]
              })
            })
        ), { discard: true })
      // One statement that returns its rows needs no transaction; batches, and MySQL's read-back, share one.
      const single = batches.length === 1 && returning && dialect !== "mysql"
      return Effect.as(single ? run : onOneConnection(run), result)
    })
  })

const upsertBatch = (
  sql: SqlClient.SqlClient,
  info: TableInfo,
  rows: ReadonlyArray<Row>,
  conflict: ReadonlyArray<string>,
  returning: boolean
) => {
  const dialect = engine.dialectOf(sql)
  const columns = Object.keys(rows[0]!)
  const updates = columns.filter((c) => c !== info.idColumn && !conflict.includes(c))
  // Nothing else to update: assign a conflict column to itself so the row is still returned.
  const assigned = updates.length > 0 ? updates : [conflict[0]!]
  const params: Array<unknown> = []
  for (const row of rows) for (const c of columns) params.push(Shape.bindValue(dialect, row[c]))
  const text = Sql.upsert(dialect, info.table, columns, rows.length, conflict, assigned)
  // A text per row count: run unprepared, so servers do not keep a plan for every batch size.
  if (returning && dialect !== "mysql") {
    // RETURNING yields the rows in the order of VALUES.
    return Effect.flatMap(sql.unsafe(text, params), info.decodeRows)
  }
  const insert = dialect === "mysql" ? text : text.replace(/ RETURNING \*$/, "")
  return Effect.zipRight(sql.unsafe(insert, params), readBack(sql, info, rows, conflict))
}

/** The stored rows, found by their conflict values, in the order of `rows`. */
const readBack = (
  sql: SqlClient.SqlClient,
  info: TableInfo,
  rows: ReadonlyArray<Row>,
  conflict: ReadonlyArray<string>
) => {
  const dialect = engine.dialectOf(sql)
  const byRow = (row: Row): Condition => ({
    _tag: "Group",
    connector: "OR",
    not: false,
    conditions: conflict.map((c) => ({
      _tag: "Compare",
      connector: "AND",
      column: c,
      operator: "=",
      value: row[c] as any
    }))
  })
  const conditions: ReadonlyArray<Condition> = [{
    _tag: "Group",
    connector: "AND",
    not: false,
    conditions: rows.map(byRow)
  }]
  const s: Sql.Select = {
    table: info.table,
    conditions,
    columns: undefined,
    orders: [],
    limit: undefined,
    offset: undefined,
    lock: false
  }
  return Effect.flatMap(sql.unsafe(Sql.select(dialect, s), Shape.conditionParams(dialect, conditions)), (found) => {
    const byKey = new Map<string, unknown>()
    for (const row of found) byKey.set(keyOf(conflict.map((c) => (row as Row)[c])), row)
    const ordered: Array<unknown> = []
    const missing: Array<number> = []
    rows.forEach((row, i) => {
      const stored = byKey.get(keyOf(conflict.map((c) => row[c])))
      if (stored === undefined) missing.push(i)
      ordered.push(stored)
    })
    // A value the server stores differently (a case-insensitive collation, a date read back as a Date): one by one,
    // compared by the server.
    const lookups = Effect.forEach(missing, (i) => {
      const one: Sql.Select = { ...s, conditions: [byRow(rows[i]!)], limit: 1 }
      return Effect.map(
        sql.unsafe(Sql.select(dialect, one), engine.selectParams(dialect, one)),
        (hit) => {
          ordered[i] = hit[0]
        }
      )
    }, { discard: true })
    return Effect.flatMap(lookups, () => info.decodeRows(ordered))
  })
}
