/**
 * `upsert` and `upsertMany`: rows inserted, or updated where their conflict columns already exist. One row is one
 * compiled statement (prepared where the client prepares, like the other writes); many rows go in as few statements
 * as the servers' parameter limits allow, all in one transaction, and come back as stored, in the input's order.
 * Statement texts are rendered once per column list, conflict columns, row count and dialect.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { ParseError } from "effect/ParseResult"
import * as CompiledStatement from "../CompiledStatement.js"
import type { WriteConnection } from "../Connections.js"
import { onOneConnection } from "../Database.js"
import type { ConnectionError, ModelNotFound, TransactionOutcomeUnknown, ValidationError } from "../Errors.js"
import { InvalidColumn, InvalidValue } from "../Errors.js"
import type { TableInfo } from "./engine.js"
import * as engine from "./engine.js"
import * as RowSql from "./rowSql.js"
import * as Sql from "./sql.js"
import type { Condition } from "./sql.js"
import * as Shape from "./sqlShape.js"
import * as validation from "./validation.js"

type Row = Record<string, unknown>

/** What upsertMany needs from its repository. */
export interface Context {
  readonly info: TableInfo
  /** A row of the insert variant, encoded and checked (every key a column, every value bindable). */
  readonly encodeInsert: (data: unknown) => Effect.Effect<Row, ValidationError | ParseError>
  /** The first row decoded, or `ModelNotFound` for `id` without one. */
  readonly firstOr: (rows: ReadonlyArray<unknown>, id: unknown) => Effect.Effect<any, ParseError | ModelNotFound>
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
const checkConflict = (
  info: TableInfo,
  conflict: unknown,
  operation: string
): Either.Either<ReadonlyArray<string>, ValidationError> => {
  if (!Array.isArray(conflict) || conflict.length === 0) {
    return Either.left(
      new InvalidColumn({ table: info.table, column: "", reason: `${operation} needs at least one conflict column` })
    )
  }
  return Either.all(conflict.map((c) => validation.checkColumn(info.table, info.columns, c)))
}

/** The first conflict column a row lacks, as the error that reports it. */
const missingConflict = (row: Row, conflict: ReadonlyArray<string>): InvalidValue | undefined => {
  for (const column of conflict) {
    if (!(column in row)) return new InvalidValue({ column, received: "undefined", reason: "conflict column missing" })
  }
  return undefined
}

/** The columns an upsert updates: all but the id and conflict columns, else a conflict column set to itself. */
const assignedOf = (info: TableInfo, columns: ReadonlyArray<string>, conflict: ReadonlyArray<string>) => {
  const updates = columns.filter((c) => c !== info.idColumn && !conflict.includes(c))
  // Nothing else to update: assigning a conflict column to itself still returns the row.
  return updates.length > 0 ? updates : [conflict[0]!]
}

// Texts of more rows are rendered per call: cached, a bulk load's one-off batch sizes would keep large strings.
const CACHED_ROWS = 64

/** The text of `key` for `count` rows: compiled once per shape while it is small, else rendered. */
const textOf = (info: TableInfo, dialect: engine.Dialect, key: string, count: number, render: () => string) =>
  count <= CACHED_ROWS ? engine.compiled(info, dialect, key, render).sql : render()

const upsertKey = (columns: ReadonlyArray<string>, conflict: ReadonlyArray<string>, count: number) =>
  `upsert ${columns.join(",")}|${conflict.join(",")} x${count}`

const renderUpsert = (
  info: TableInfo,
  dialect: engine.Dialect,
  columns: ReadonlyArray<string>,
  count: number,
  conflict: ReadonlyArray<string>
) =>
() => RowSql.upsert(dialect, info.table, columns, count, conflict, assignedOf(info, columns, conflict))

/** The SELECT of the rows whose conflict values are those of `rows`, with its cache key and parameters. */
const selectByConflict = (
  dialect: engine.Dialect,
  info: TableInfo,
  rows: ReadonlyArray<Row>,
  conflict: ReadonlyArray<string>,
  limit: number | undefined
) => {
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
  const s: Sql.Select = {
    table: info.table,
    conditions: [{ _tag: "Group", connector: "AND", not: false, conditions: rows.map(byRow) }],
    columns: undefined,
    orders: [],
    limit,
    offset: undefined,
    lock: false
  }
  return {
    key: `select|${Shape.selectShape(dialect, s)}`,
    render: () => Sql.select(dialect, s),
    params: engine.selectParams(dialect, s)
  }
}

type UpsertError = ValidationError | ParseError | ModelNotFound | SqlError | ConnectionError | TransactionOutcomeUnknown

/** Inserts or updates one row; the row as stored. */
export const upsertOne = (
  ctx: Context,
  data: unknown,
  options: { readonly conflict?: unknown }
): Effect.Effect<any, UpsertError, WriteConnection> => {
  const { info } = ctx
  if (info.setupError !== undefined) return Effect.fail(info.setupError)
  return Effect.flatMap(ctx.encodeInsert(data), (row): Effect.Effect<any, UpsertError, WriteConnection> => {
    const conflict = checkConflict(info, options?.conflict, "upsert")
    if (Either.isLeft(conflict)) return Effect.fail(conflict.left)
    const missing = missingConflict(row, conflict.right)
    if (missing !== undefined) return Effect.fail(missing)
    const columns = Object.keys(row)
    return engine.withWriter((sql) => {
      const dialect = engine.dialectOf(sql)
      const statement = engine.compiled(
        info,
        dialect,
        upsertKey(columns, conflict.right, 1),
        renderUpsert(info, dialect, columns, 1, conflict.right)
      )
      const params: Array<unknown> = []
      for (const c of columns) params.push(Shape.bindValue(dialect, row[c]))
      const id = row[conflict.right[0]!]
      if (dialect !== "mysql") {
        return Effect.flatMap(CompiledStatement.run(sql, statement, params), (rows) => ctx.firstOr(rows, id))
      }
      // Read back by the conflict columns, which identify the row whether it was inserted or updated.
      const read = selectByConflict(dialect, info, [row], conflict.right, 1)
      const readStatement = engine.compiled(info, dialect, read.key, read.render)
      return onOneConnection(Effect.zipRight(
        CompiledStatement.run(sql, statement, params),
        Effect.flatMap(CompiledStatement.run(sql, readStatement, read.params), (rows) => ctx.firstOr(rows, id))
      ))
    })
  })
}

/** Inserts or updates every row; the rows as stored, in order. */
export const upsertMany = (ctx: Context, data: unknown, options: { readonly conflict?: unknown }) =>
  Effect.gen(function*() {
    const { info } = ctx
    if (info.setupError !== undefined) return yield* Effect.fail(info.setupError)
    const conflict = yield* checkConflict(info, options?.conflict, "upsertMany")
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
      const missing = missingConflict(row, conflict)
      if (missing !== undefined) return yield* Effect.fail(missing)
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
  const params: Array<unknown> = []
  for (const row of rows) for (const c of columns) params.push(Shape.bindValue(dialect, row[c]))
  const text = textOf(
    info,
    dialect,
    upsertKey(columns, conflict, rows.length),
    rows.length,
    renderUpsert(info, dialect, columns, rows.length, conflict)
  )
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
  const all = selectByConflict(dialect, info, rows, conflict, undefined)
  return Effect.flatMap(sql.unsafe(textOf(info, dialect, all.key, rows.length, all.render), all.params), (found) => {
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
      const one = selectByConflict(dialect, info, [rows[i]!], conflict, 1)
      return Effect.map(
        sql.unsafe(textOf(info, dialect, one.key, 1, one.render), one.params),
        (hit) => {
          ordered[i] = hit[0]
        }
      )
    }, { discard: true })
    return Effect.flatMap(lookups, () => info.decodeRows(ordered))
  })
}
