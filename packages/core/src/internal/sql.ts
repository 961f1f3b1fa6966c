/**
 * The SQL text of every query-builder statement, as pure functions of the statement's shape and the dialect. Values
 * never enter the text: each becomes a placeholder, and `sqlShape.ts` lists them in the order the text uses them.
 * Identifiers are validated before they get here (letters, digits and `_`), so quoting them needs no escaping.
 */
import type { Dialect } from "../Dialect.js"
import type { Operator, Value } from "./validation.js"

/** How a condition joins the ones before it. */
export type Connector = "AND" | "OR"

/** One WHERE (or HAVING) condition; `Group` holds nested ones. */
export type Condition =
  | {
    readonly _tag: "Compare"
    readonly connector: Connector
    readonly column: string
    readonly operator: Operator
    readonly value: Value
  }
  | {
    readonly _tag: "In"
    readonly connector: Connector
    readonly column: string
    readonly not: boolean
    readonly values: ReadonlyArray<Value>
  }
  | { readonly _tag: "Null"; readonly connector: Connector; readonly column: string; readonly not: boolean }
  | {
    readonly _tag: "Between"
    readonly connector: Connector
    readonly column: string
    readonly not: boolean
    readonly low: Value
    readonly high: Value
  }
  | {
    readonly _tag: "Like"
    readonly connector: Connector
    readonly column: string
    readonly not: boolean
    readonly pattern: string
    readonly caseInsensitive: boolean
  }
  | {
    readonly _tag: "Group"
    readonly connector: Connector
    readonly not: boolean
    readonly conditions: ReadonlyArray<Condition>
  }

/** An aggregate function over a column (`count` without a column is COUNT(*)). */
export interface Aggregate {
  readonly fn: "count" | "sum" | "avg" | "min" | "max"
  readonly column: string | undefined
}

/** A HAVING condition: on a group column or on an aggregate. */
export interface Having {
  readonly target: { readonly column: string } | { readonly aggregate: Aggregate }
  readonly operator: Operator
  readonly value: Value
}

/** What a SELECT needs besides its kind. */
export interface Select {
  readonly table: string
  readonly conditions: ReadonlyArray<Condition>
  readonly columns: ReadonlyArray<string> | undefined
  readonly orders: ReadonlyArray<readonly [column: string, direction: "asc" | "desc"]>
  readonly limit: number | undefined
  readonly offset: number | undefined
  readonly lock: boolean
}

/** A GROUP BY query. */
export interface Grouped {
  readonly select: Select
  readonly groups: ReadonlyArray<string>
  readonly aggregates: ReadonlyArray<readonly [name: string, aggregate: Aggregate]>
  readonly having: ReadonlyArray<Having>
}

// ---- text -------------------------------------------------------------------------------------------------------

/** Placeholders in order: `$1, $2, ...` on PostgreSQL, `?` elsewhere; identifiers quoted. @internal */
export class Text {
  private n = 0
  constructor(readonly dialect: Dialect) {}
  param(): string {
    this.n++
    return this.dialect === "postgresql" ? `$${this.n}` : "?"
  }
  id(name: string): string {
    return this.dialect === "mysql" ? `\`${name}\`` : `"${name}"`
  }
}

const comparison = (operator: Operator): string => {
  switch (operator) {
    case "!=":
      return "<>"
    case "like":
      return "LIKE"
    case "not like":
      return "NOT LIKE"
    default:
      return operator
  }
}

const condition = (t: Text, c: Condition): string => {
  switch (c._tag) {
    case "Compare":
      if (c.value === null) {
        // Validation admits null only with equality operators.
        return `${t.id(c.column)} ${c.operator === "=" ? "IS NULL" : "IS NOT NULL"}`
      }
      return `${t.id(c.column)} ${comparison(c.operator)} ${t.param()}`
    case "In":
      // An empty list: IN matches nothing, NOT IN everything.
      if (c.values.length === 0) return c.not ? "1=1" : "1=0"
      // PostgreSQL: one array parameter, so every list length shares one statement (and one prepared plan).
      if (t.dialect === "postgresql") return `${t.id(c.column)} ${c.not ? "<> ALL" : "= ANY"}(${t.param()})`
      return `${t.id(c.column)} ${c.not ? "NOT IN" : "IN"} (${c.values.map(() => t.param()).join(", ")})`
    case "Null":
      return `${t.id(c.column)} ${c.not ? "IS NOT NULL" : "IS NULL"}`
    case "Between":
      return `${t.id(c.column)} ${c.not ? "NOT BETWEEN" : "BETWEEN"} ${t.param()} AND ${t.param()}`
    case "Like": {
      // ILIKE is PostgreSQL's; MySQL and SQLite compare by the column's collation (README, "Queries").
      const like = c.caseInsensitive && t.dialect === "postgresql" ? "ILIKE" : "LIKE"
      return `${t.id(c.column)} ${c.not ? "NOT " : ""}${like} ${t.param()}`
    }
    case "Group":
      // The caller parenthesises every condition: a plain group needs no parentheses of its own.
      return c.not ? `NOT (${conditions(t, c.conditions)})` : conditions(t, c.conditions)
  }
}

/**
 * Connectors keep SQL precedence (AND binds tighter than OR), as in Laravel's builder; each condition is
 * parenthesised so no operand can merge with its neighbour.
 */
const conditions = (t: Text, list: ReadonlyArray<Condition>): string => {
  let text = ""
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!
    text += `${i === 0 ? "" : ` ${c.connector} `}(${condition(t, c)})`
  }
  return text
}

const where = (t: Text, list: ReadonlyArray<Condition>): string =>
  list.length === 0 ? "" : ` WHERE ${conditions(t, list)}`

const orderBy = (t: Text, s: Select, prefix = ""): string =>
  s.orders.length === 0
    ? ""
    : ` ORDER BY ${s.orders.map(([c, d]) => `${prefix}${t.id(c)} ${d === "desc" ? "DESC" : "ASC"}`).join(", ")}`

/**
 * LIMIT and OFFSET are parameters on PostgreSQL and SQLite; on MySQL literals of validated integers (a prepared
 * `LIMIT ?` is refused by MySQL 8 for mysql2's number parameters), so the value is part of the statement's shape.
 */
const limits = (t: Text, limit: number | undefined, offset: number | undefined): string => {
  const literal = t.dialect === "mysql"
  let text = ""
  if (limit !== undefined) text += ` LIMIT ${literal ? limit : t.param()}`
  if (offset !== undefined) {
    // MySQL and SQLite need a LIMIT before OFFSET.
    if (limit === undefined && t.dialect === "mysql") text += " LIMIT 18446744073709551615"
    if (limit === undefined && t.dialect === "sqlite") text += " LIMIT -1"
    text += ` OFFSET ${literal ? offset : t.param()}`
  }
  return text
}

const columnList = (t: Text, columns: ReadonlyArray<string> | undefined): string =>
  columns === undefined ? "*" : columns.map((c) => t.id(c)).join(", ")

const body = (t: Text, s: Select, columns: string): string =>
  `SELECT ${columns} FROM ${t.id(s.table)}${where(t, s.conditions)}${orderBy(t, s)}${limits(t, s.limit, s.offset)}`

/** SQLite has no row locks (one writer at a time; transactions here begin IMMEDIATE). */
const lock = (t: Text, s: Select): string => s.lock && t.dialect !== "sqlite" ? " FOR UPDATE" : ""

/** `SELECT <columns or *> ...`. */
export const select = (dialect: Dialect, s: Select): string => {
  const t = new Text(dialect)
  return body(t, s, columnList(t, s.columns)) + lock(t, s)
}

/** The number of rows the query matches, honouring its limit and offset. */
export const count = (dialect: Dialect, s: Select): string => {
  const t = new Text(dialect)
  if (s.limit === undefined && s.offset === undefined) {
    return `SELECT COUNT(*) AS fastorm_value FROM ${t.id(s.table)}${where(t, s.conditions)}`
  }
  return `SELECT COUNT(*) AS fastorm_value FROM (${body(t, s, "1 AS fastorm_one")}) fastorm_sub`
}

/** One row when any matches. */
export const exists = (dialect: Dialect, s: Select): string => {
  const t = new Text(dialect)
  return `SELECT 1 AS fastorm_value FROM ${t.id(s.table)}${where(t, s.conditions)}${limits(t, 1, s.offset)}`
}

const aggregateSql = (t: Text, a: Aggregate, prefix = ""): string => {
  const column = a.column === undefined ? "*" : `${prefix}${t.id(a.column)}`
  switch (a.fn) {
    case "count":
      return `COUNT(${column})`
    case "sum":
      // SUM of no rows is NULL in SQL; the builder's sum is 0 there.
      return `COALESCE(SUM(${column}), 0)`
    default:
      return `${a.fn.toUpperCase()}(${column})`
  }
}

/** One aggregate over the matching rows (over the limited rows when the query has a limit or offset). */
export const aggregate = (dialect: Dialect, s: Select, a: Aggregate): string => {
  const t = new Text(dialect)
  if (s.limit === undefined && s.offset === undefined) {
    return `SELECT ${aggregateSql(t, a)} AS fastorm_value FROM ${t.id(s.table)}${where(t, s.conditions)}`
  }
  const inner = body(t, s, a.column === undefined ? "1 AS fastorm_one" : t.id(a.column))
  return `SELECT ${aggregateSql(t, a)} AS fastorm_value FROM (${inner}) fastorm_sub`
}

/**
 * GROUP BY with named aggregates. HAVING repeats each aggregate's expression: PostgreSQL does not accept an output
 * name there. ORDER BY may name a group column or an aggregate (output names are accepted there everywhere).
 */
export const grouped = (dialect: Dialect, g: Grouped): string => {
  const t = new Text(dialect)
  const s = g.select
  const outputs = [
    ...g.groups.map((c) => t.id(c)),
    ...g.aggregates.map(([name, a]) => `${aggregateSql(t, a)} AS ${t.id(name)}`)
  ]
  let text = `SELECT ${outputs.join(", ")} FROM ${t.id(s.table)}${where(t, s.conditions)}`
  if (g.groups.length > 0) text += ` GROUP BY ${g.groups.map((c) => t.id(c)).join(", ")}`
  if (g.having.length > 0) {
    const terms = g.having.map((h) => {
      const target = "column" in h.target ? t.id(h.target.column) : aggregateSql(t, h.target.aggregate)
      if (h.value === null) return `(${target} ${h.operator === "=" ? "IS NULL" : "IS NOT NULL"})`
      return `(${target} ${comparison(h.operator)} ${t.param()})`
    })
    text += ` HAVING ${terms.join(" AND ")}`
  }
  return text + orderBy(t, s) + limits(t, s.limit, s.offset)
}

/**
 * One page and the total in one statement, so both come from the same node and the same snapshot: the count joined
 * with the page (`fastorm_row` tells a page row from the one all-NULL row of an empty page).
 */
export const paginate = (dialect: Dialect, s: Select): string => {
  const t = new Text(dialect)
  const total = `SELECT COUNT(*) AS fastorm_total FROM ${t.id(s.table)}${where(t, s.conditions)}`
  // MySQL takes a bare * only first in the list: the table's * is qualified.
  const page = body(
    t,
    s,
    `1 AS fastorm_row, ${s.columns === undefined ? `${t.id(s.table)}.*` : columnList(t, s.columns)}`
  )
  return `SELECT fastorm_t.fastorm_total, fastorm_p.* FROM (${total}) fastorm_t LEFT JOIN (${page}) fastorm_p ON 1 = 1${
    orderBy(t, s, "fastorm_p.")
  }`
}

/** `UPDATE ... SET a = ?, b = ? WHERE ...` (set values first, then the conditions'). */
export const update = (dialect: Dialect, table: string, set: ReadonlyArray<string>, list: ReadonlyArray<Condition>) => {
  const t = new Text(dialect)
  const assignments = set.map((c) => `${t.id(c)} = ${t.param()}`).join(", ")
  return `UPDATE ${t.id(table)} SET ${assignments}${where(t, list)}`
}

/** `UPDATE ... SET c = c + ? WHERE ...`. */
export const increment = (dialect: Dialect, table: string, column: string, list: ReadonlyArray<Condition>) => {
  const t = new Text(dialect)
  return `UPDATE ${t.id(table)} SET ${t.id(column)} = ${t.id(column)} + ${t.param()}${where(t, list)}`
}

/** `DELETE FROM ... WHERE ...`. */
export const delete_ = (dialect: Dialect, table: string, list: ReadonlyArray<Condition>) => {
  const t = new Text(dialect)
  return `DELETE FROM ${t.id(table)}${where(t, list)}`
}
