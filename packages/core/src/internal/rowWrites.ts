/**
 * A repository's writes of whole rows and by id, as compiled statements: rendered once per column list and dialect
 * (`rowSql.ts`), run through `CompiledStatement.run` (prepared on PostgreSQL, routed to the primary like every write,
 * so the session's position is recorded as before), rows decoded by the model's compiled decoder. Without RETURNING
 * (MySQL) a write and its read back share one connection, as before.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type { ParseError } from "effect/ParseResult"
import * as CompiledStatement from "../CompiledStatement.js"
import { onOneConnection } from "../Database.js"
import { ModelNotFound } from "../Errors.js"
import type { TableInfo } from "./engine.js"
import * as engine from "./engine.js"
import * as RowSql from "./rowSql.js"

type Row = Record<string, unknown>

/** The compiled writes of one repository's table. */
export const make = (info: TableInfo) => {
  const { idColumn, table } = info
  const notFound = (id: unknown) => new ModelNotFound({ model: info.modelName, table, id })
  const firstOr = (rows: ReadonlyArray<unknown>, id: unknown): Effect.Effect<any, ParseError | ModelNotFound> =>
    rows.length === 0 ? Effect.fail(notFound(id)) : Effect.map(info.decodeRows(rows.slice(0, 1)), (r) => r[0])

  const params = (dialect: engine.Dialect, columns: ReadonlyArray<string>, rows: ReadonlyArray<Row>) => {
    const out: Array<unknown> = []
    for (const row of rows) for (const column of columns) out.push(engine.bindValue(dialect, row[column]))
    return out
  }

  /** Reads the row back on the same connection (inside the write's transaction). */
  const readBack = (sql: SqlClient.SqlClient, value: unknown) => {
    const dialect = engine.dialectOf(sql)
    const statement = engine.compiled(info, dialect, "byId", () => RowSql.selectById(dialect, table, idColumn))
    return Effect.flatMap(
      CompiledStatement.run(sql, statement, [engine.bindValue(dialect, value)]),
      (rows) => firstOr(rows, value)
    )
  }

  const insertStatement = (
    dialect: engine.Dialect,
    columns: ReadonlyArray<string>,
    count: number,
    returning: boolean
  ) =>
    engine.compiled(
      info,
      dialect,
      `insert ${columns.join(",")} x${count}${returning ? " returning" : ""}`,
      () => RowSql.insert(dialect, table, columns, count, returning)
    )

  /** Inserts one row and returns it decoded (RETURNING, else read back by its id on the same connection). */
  const insertRow = (row: Row) =>
    engine.withWriter((sql, returning) => {
      const dialect = engine.dialectOf(sql)
      const columns = Object.keys(row)
      const statement = insertStatement(dialect, columns, 1, returning)
      if (returning) {
        return Effect.flatMap(
          CompiledStatement.run(sql, statement, params(dialect, columns, [row])),
          (rows) => firstOr(rows, row[idColumn])
        )
      }
      // No RETURNING (MySQL, MariaDB < 10.5): the driver's result names the generated id.
      return onOneConnection(
        Effect.flatMap(sql.unsafe(statement.sql, params(dialect, columns, [row])).raw, (result: any) => {
          const given = row[idColumn]
          const id = given !== undefined && given !== null ? given : result?.insertId ?? result?.lastInsertRowid
          return readBack(sql, id)
        })
      )
    })

  /** Inserts rows of the same columns in one statement where RETURNING gives them back, else one by one. */
  const insertRows = (rows: ReadonlyArray<Row>) =>
    engine.withWriter((sql, returning) => {
      const columns = Object.keys(rows[0]!)
      const key = columns.join(",")
      const uniform = columns.length > 0 && rows.every((row) => Object.keys(row).join(",") === key)
      if (returning && uniform) {
        const dialect = engine.dialectOf(sql)
        return Effect.flatMap(
          CompiledStatement.run(
            sql,
            insertStatement(dialect, columns, rows.length, true),
            params(dialect, columns, rows)
          ),
          info.decodeRows
        )
      }
      // One by one in one transaction: MySQL's insertId names only the first row of a multi-row insert.
      return onOneConnection(Effect.forEach(rows, insertRow))
    })

  /** Sets `row`'s columns on the row `id` and returns it decoded; nothing to set: reads it. */
  const updateRow = (id: unknown, row: Row) =>
    engine.withWriter((sql, _returning, updateReturning) => {
      const dialect = engine.dialectOf(sql)
      const set = Object.keys(row)
      if (set.length === 0) return readBack(sql, id)
      const statement = engine.compiled(
        info,
        dialect,
        `updateById ${set.join(",")}${updateReturning ? " returning" : ""}`,
        () => RowSql.updateById(dialect, table, set, idColumn, updateReturning)
      )
      const values = params(dialect, set, [row])
      values.push(engine.bindValue(dialect, id))
      if (updateReturning) {
        return Effect.flatMap(CompiledStatement.run(sql, statement, values), (rows) => firstOr(rows, id))
      }
      return onOneConnection(Effect.zipRight(CompiledStatement.run(sql, statement, values), readBack(sql, id)))
    })

  /** Deletes the row `id`; whether there was one. */
  const deleteRow = (id: unknown) =>
    engine.withWriter((sql) => {
      const dialect = engine.dialectOf(sql)
      // The driver's count says whether a row went, on every dialect: no RETURNING row to describe, send and decode
      // (PostgreSQL counts prepared too), and on MariaDB the OK packet also carries the write's GTID (a result set
      // does not), which spares the session a position read (ARCHITECTURE.md, "Read-your-writes").
      const statement = engine.compiled(info, dialect, "deleteById", () => RowSql.deleteById(dialect, table, idColumn))
      return Effect.map(
        CompiledStatement.runCounted(sql, statement, [engine.bindValue(dialect, id)]),
        (changed) => changed > 0
      )
    })

  return { firstOr, notFound, readBack, insertRow, insertRows, updateRow, deleteRow }
}
