/**
 * The SQL text of a relation level, a pure function of its shape: the target's rows whose key is in a batch of
 * parent keys (through the join table for many-to-many), with the relation's condition and order, and a per-parent
 * limit as a window (`ROW_NUMBER() OVER (PARTITION BY key ...)`, PostgreSQL, MariaDB 10.2+ and SQLite 3.25+).
 * Identifiers are validated before they get here; quoting keeps reserved words (`order`, `user`) usable.
 */
import type { Dialect } from "../../Dialect.js"
import * as Sql from "../sql.js"
import * as Shape from "../sqlShape.js"
import type { Value } from "../validation.js"
import type { Plan } from "./plan.js"

const id = (dialect: Dialect, name: string) => dialect === "mysql" ? `\`${name}\`` : `"${name}"`

// Bound parameters per statement: PostgreSQL and MySQL take 65535, SQLite 32766 (SQLITE_MAX_VARIABLE_NUMBER since
// 3.32, the version better-sqlite3 bundles). On PostgreSQL the keys are one array parameter; the bound still keeps a
// statement's size in check.
const MAX_PARAMS: Record<Dialect, number> = { postgresql: 65535, mysql: 65535, sqlite: 32766 }

/** How many keys one statement may carry when the relation's condition binds `others` values. */
export const maxKeys = (dialect: Dialect, others: number): number =>
  dialect === "postgresql" ? MAX_PARAMS.postgresql : Math.max(1, MAX_PARAMS[dialect] - others)

/**
 * The key list's length in the statement: outside PostgreSQL each key is a placeholder, so lengths are rounded up to
 * a power of two (the last key repeated) to keep the number of statement shapes, and prepared plans, small.
 */
export const paddedLength = (dialect: Dialect, keys: number, max: number): number => {
  if (dialect === "postgresql") return keys
  let n = 1
  while (n < keys) n *= 2
  return Math.min(n, max)
}

/** `keys` split into statements of at most `size` keys each. */
export const chunks = <A>(keys: ReadonlyArray<A>, size: number): ReadonlyArray<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < keys.length; i += size) out.push(keys.slice(i, i + size))
  return out
}

/** A statement of one relation level and the parameters of one batch of keys. */
export interface Level {
  /** The key of the compiled-statement cache. */
  readonly shape: string
  readonly render: () => string
  readonly params: ReadonlyArray<unknown>
}

const orderList = (dialect: Dialect, plan: Plan, prefix: string) =>
  plan.orders.map(([c, d]) => `${prefix}.${id(dialect, c)} ${d === "desc" ? "DESC" : "ASC"}`).join(", ")

/** At most `limit` rows per value of `partition`, in the relation's order. */
const perParent = (dialect: Dialect, plan: Plan, inner: string, partition: string, limit: number) =>
  `SELECT * FROM (SELECT fastorm_x.*, ROW_NUMBER() OVER (PARTITION BY fastorm_x.${partition} ORDER BY ${
    orderList(dialect, plan, "fastorm_x")
  }) AS fastorm_rn FROM (${inner}) fastorm_x) fastorm_r WHERE fastorm_rn <= ${limit} ORDER BY ${
    orderList(dialect, plan, "fastorm_r")
  }`

/**
 * A level's parameters in the order of its placeholders: the keys (one array on PostgreSQL) then the relation's own
 * condition values `others`, or the other way round for manyToMany, whose condition is in the joined subquery.
 */
export const levelParams = (
  dialect: Dialect,
  plan: Plan,
  keys: ReadonlyArray<unknown>,
  others: ReadonlyArray<unknown>
): Array<unknown> => {
  const out: Array<unknown> = []
  if (plan.kind === "manyToMany") { for (const v of others) out.push(v) }
  if (dialect === "postgresql") out.push(keys)
  else for (const k of keys) out.push(k)
  if (plan.kind !== "manyToMany") { for (const v of others) out.push(v) }
  return out
}

/**
 * The statement for `keys` (already bound for the dialect and padded): hasMany, hasOne and belongsTo read the target
 * by its key column; manyToMany joins the join table and returns each row's parent key as `fastorm_parent`.
 */
export const level = (dialect: Dialect, plan: Plan, keys: ReadonlyArray<Value | unknown>): Level => {
  const shapeOf = (extra: string) =>
    `rel ${plan.kind} ${plan.to} ${plan.limit ?? ""} ${extra}|${Shape.conditionsShape(plan.conditions)}|${
      plan.orders.map(([c, d]) => `${c} ${d}`).join(",")
    }|${dialect === "postgresql" ? "array" : keys.length}`
  if (plan.kind !== "manyToMany") {
    const select: Sql.Select = {
      table: plan.target.table,
      conditions: [
        { _tag: "In", connector: "AND", column: plan.to, not: false, values: keys as any },
        ...plan.conditions
      ],
      columns: undefined,
      orders: plan.limit === undefined ? plan.orders : [],
      limit: undefined,
      offset: undefined,
      lock: false
    }
    return {
      shape: shapeOf(""),
      render: () =>
        plan.limit === undefined
          ? Sql.select(dialect, select)
          : perParent(dialect, plan, Sql.select(dialect, select), id(dialect, plan.to), plan.limit),
      params: levelParams(dialect, plan, keys, Shape.conditionParams(dialect, plan.conditions))
    }
  }
  const through = plan.through!
  const inner: Sql.Select = {
    table: plan.target.table,
    conditions: plan.conditions,
    columns: undefined,
    orders: [],
    limit: undefined,
    offset: undefined,
    lock: false
  }
  const params = levelParams(dialect, plan, keys, Shape.conditionParams(dialect, plan.conditions))
  const innerCount = params.length - (dialect === "postgresql" ? 1 : keys.length)
  const render = () => {
    const keyList = dialect === "postgresql"
      ? `= ANY($${innerCount + 1})`
      : `IN (${keys.map(() => "?").join(", ")})`
    const j = (c: string) => `fastorm_j.${id(dialect, c)}`
    const joined = `SELECT ${j(through.from)} AS fastorm_parent, fastorm_c.* FROM ${
      id(dialect, through.table)
    } fastorm_j JOIN (${Sql.select(dialect, inner)}) fastorm_c ON fastorm_c.${id(dialect, plan.to)} = ${
      j(through.to)
    } WHERE ${j(through.from)} ${keyList}`
    return plan.limit === undefined
      ? `${joined} ORDER BY ${orderList(dialect, plan, "fastorm_c")}`
      : perParent(dialect, plan, joined, "fastorm_parent", plan.limit)
  }
  return { shape: shapeOf(`${through.table}.${through.from}.${through.to}`), render, params }
}
