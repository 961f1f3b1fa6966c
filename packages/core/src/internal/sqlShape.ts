/**
 * What changes between two runs of one query-builder statement and what does not: its parameters, in the order the
 * text of `sql.ts` places their placeholders (both walk the conditions the same way; `test/sql.test.ts` checks that
 * they agree for every shape), and its shape, the key under which the compiled statement is cached.
 */
import type { Dialect } from "../Dialect.js"
import type { Condition, Having, Select } from "./sql.js"

/**
 * better-sqlite3 binds only numbers, strings, bigints, buffers and null: booleans become 0/1 and Dates ISO text
 * (what @effect/sql's sqlite Model helpers read back).
 */
export const bindValue = (dialect: Dialect, value: unknown): unknown => {
  if (dialect !== "sqlite") return value
  if (typeof value === "boolean") return value ? 1 : 0
  if (value instanceof Date) return value.toISOString()
  return value
}

const pushCondition = (dialect: Dialect, c: Condition, out: Array<unknown>): void => {
  switch (c._tag) {
    case "Compare":
      if (c.value !== null) out.push(bindValue(dialect, c.value))
      return
    case "In":
      if (c.values.length === 0) return
      if (dialect === "postgresql") out.push(c.values)
      else for (const v of c.values) out.push(bindValue(dialect, v))
      return
    case "Null":
      return
    case "Between":
      out.push(bindValue(dialect, c.low), bindValue(dialect, c.high))
      return
    case "Like":
      out.push(c.pattern)
      return
    case "Group":
      for (const inner of c.conditions) pushCondition(dialect, inner, out)
  }
}

/** The conditions' values in the order their placeholders appear. */
export const conditionParams = (dialect: Dialect, list: ReadonlyArray<Condition>, out: Array<unknown> = []) => {
  for (const c of list) pushCondition(dialect, c, out)
  return out
}

/** The limit and offset parameters (none on MySQL, where they are literals). */
export const limitParams = (
  dialect: Dialect,
  limit: number | undefined,
  offset: number | undefined,
  out: Array<unknown>
): Array<unknown> => {
  if (dialect === "mysql") return out
  if (limit !== undefined) out.push(limit)
  if (offset !== undefined) out.push(offset)
  return out
}

/** The HAVING values in order. */
export const havingParams = (dialect: Dialect, having: ReadonlyArray<Having>, out: Array<unknown>) => {
  for (const h of having) if (h.value !== null) out.push(bindValue(dialect, h.value))
  return out
}

// ---- shapes -----------------------------------------------------------------------------------------------------

const conditionShape = (c: Condition): string => {
  switch (c._tag) {
    case "Compare":
      return `${c.connector}C${c.column} ${c.operator}${c.value === null ? " null" : ""}`
    case "In":
      return `${c.connector}I${c.column} ${c.not ? "!" : ""}${c.values.length}`
    case "Null":
      return `${c.connector}N${c.column}${c.not ? "!" : ""}`
    case "Between":
      return `${c.connector}B${c.column}${c.not ? "!" : ""}`
    case "Like":
      return `${c.connector}L${c.column}${c.not ? "!" : ""}${c.caseInsensitive ? "i" : ""}`
    case "Group":
      return `${c.connector}G${c.not ? "!" : ""}(${conditionsShape(c.conditions)})`
  }
}

/**
 * A string that differs whenever the conditions' SQL text would (values aside): the key of the compiled-statement
 * cache. The list length of IN is part of it (it changes the text outside PostgreSQL).
 */
export const conditionsShape = (list: ReadonlyArray<Condition>): string => {
  let key = ""
  for (const c of list) key += conditionShape(c) + ";"
  return key
}

/** The shape of a SELECT (see `conditionsShape`): on MySQL the limit and offset values are in the text. */
export const selectShape = (dialect: Dialect, s: Select): string => {
  const limit = dialect === "mysql" ? `${s.limit}/${s.offset}` : `${s.limit !== undefined}/${s.offset !== undefined}`
  // Built by concatenation: this runs for every statement of the query builder.
  let orders = ""
  for (const [c, d] of s.orders) orders += `${c} ${d},`
  return `${conditionsShape(s.conditions)}|${s.columns?.join(",") ?? "*"}|${orders}|${limit}|${s.lock}`
}
