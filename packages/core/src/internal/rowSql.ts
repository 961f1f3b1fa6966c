/**
 * The SQL text of a repository's writes of whole rows and by id (create, createMany, upsert, update, delete, read
 * back), as pure functions of the columns and the dialect, compiled once per shape like the query builder's
 * statements.
 */
import type { Dialect } from "../Dialect.js"
import { Text } from "./sql.js"

/** `INSERT INTO t (a, b) VALUES (?, ?), ...` for `count` rows (DEFAULT VALUES without columns), maybe RETURNING. */
export const insert = (
  dialect: Dialect,
  table: string,
  columns: ReadonlyArray<string>,
  count: number,
  returning: boolean
): string => {
  const t = new Text(dialect)
  const tail = returning ? " RETURNING *" : ""
  if (columns.length === 0) {
    return `INSERT INTO ${t.id(table)} ${dialect === "mysql" ? "() VALUES ()" : "DEFAULT VALUES"}${tail}`
  }
  const values: Array<string> = []
  for (let i = 0; i < count; i++) values.push(`(${columns.map(() => t.param()).join(", ")})`)
  return `INSERT INTO ${t.id(table)} (${columns.map((c) => t.id(c)).join(", ")}) VALUES ${values.join(", ")}${tail}`
}

/** `UPDATE t SET a = ?, b = ? WHERE id = ?`, maybe RETURNING. */
export const updateById = (
  dialect: Dialect,
  table: string,
  set: ReadonlyArray<string>,
  idColumn: string,
  returning: boolean
): string => {
  const t = new Text(dialect)
  const assignments = set.map((c) => `${t.id(c)} = ${t.param()}`).join(", ")
  return `UPDATE ${t.id(table)} SET ${assignments} WHERE ${t.id(idColumn)} = ${t.param()}${
    returning ? " RETURNING *" : ""
  }`
}

/** `SELECT * FROM t WHERE id = ?`: a written row read back. */
export const selectById = (dialect: Dialect, table: string, idColumn: string): string => {
  const t = new Text(dialect)
  return `SELECT * FROM ${t.id(table)} WHERE ${t.id(idColumn)} = ${t.param()}`
}

/** `DELETE FROM t WHERE id = ?`: whether it deleted a row is the driver's count. */
export const deleteById = (dialect: Dialect, table: string, idColumn: string): string => {
  const t = new Text(dialect)
  return `DELETE FROM ${t.id(table)} WHERE ${t.id(idColumn)} = ${t.param()}`
}

/**
 * A multi-row insert that updates the other columns of rows whose `conflict` columns already exist: ON CONFLICT
 * ... DO UPDATE with RETURNING (PostgreSQL, SQLite), ON DUPLICATE KEY UPDATE elsewhere (read back by the caller).
 */
export const upsert = (
  dialect: Dialect,
  table: string,
  columns: ReadonlyArray<string>,
  rows: number,
  conflict: ReadonlyArray<string>,
  updates: ReadonlyArray<string>
): string => {
  const t = new Text(dialect)
  const values = Array.from({ length: rows }, () => `(${columns.map(() => t.param()).join(", ")})`).join(", ")
  const insert = `INSERT INTO ${t.id(table)} (${columns.map((c) => t.id(c)).join(", ")}) VALUES ${values}`
  if (dialect === "mysql") {
    return `${insert} ON DUPLICATE KEY UPDATE ${updates.map((c) => `${t.id(c)} = VALUES(${t.id(c)})`).join(", ")}`
  }
  const target = conflict.map((c) => t.id(c)).join(", ")
  return `${insert} ON CONFLICT (${target}) DO UPDATE SET ${
    updates.map((c) => `${t.id(c)} = EXCLUDED.${t.id(c)}`).join(", ")
  } RETURNING *`
}
