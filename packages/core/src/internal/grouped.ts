/**
 * GROUP BY queries: the builder that names aggregates, filters groups with HAVING and orders and limits them, and the
 * read that runs it and decodes its rows (group columns by their fields, aggregates as numbers, MIN and MAX by
 * their column's field).
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as CompiledStatement from "../CompiledStatement.js"
import type { ValidationError } from "../Errors.js"
import { InvalidColumn, InvalidQuery, InvalidValue } from "../Errors.js"
import type { QueryState, TableInfo } from "./engine.js"
import * as engine from "./engine.js"
import type { Aggregate, Having, Select } from "./sql.js"
import * as Sql from "./sql.js"
import * as Shape from "./sqlShape.js"
import * as validation from "./validation.js"

const isEquality = (operator: validation.Operator) => operator === "=" || operator === "!=" || operator === "<>"

/** An aggregate over a column of the model (SUM and AVG over number columns only). */
export const aggregateSpec = (
  info: TableInfo,
  fn: Aggregate["fn"],
  column: unknown
): Either.Either<Aggregate, ValidationError> => {
  if (fn === "count" && column === undefined) return Either.right({ fn, column: undefined })
  return Either.flatMap(
    validation.checkColumn(info.table, info.columns, column),
    (name) =>
      (fn === "sum" || fn === "avg") && info.column(name).kind !== "number"
        ? Either.left(new InvalidColumn({ table: info.table, column: name, reason: `${fn} needs a number column` }))
        : Either.right({ fn, column: name })
  )
}

/** A GROUP BY query being built: `select` holds the WHERE part (and ORDER BY / LIMIT / OFFSET of the groups). */
export interface GroupState {
  readonly query: QueryState
  readonly groups: ReadonlyArray<string>
  readonly aggregates: ReadonlyArray<readonly [name: string, aggregate: Aggregate]>
  readonly having: ReadonlyArray<Having>
}

const groupShape = (dialect: engine.Dialect, g: GroupState, s: Select): string =>
  `group ${g.groups.join(",")}|${g.aggregates.map(([n, a]) => `${n}=${a.fn}(${a.column ?? "*"})`).join(",")}|${
    g.having.map((h) =>
      `${
        "column" in h.target ? h.target.column : `${h.target.aggregate.fn}(${h.target.aggregate.column})`
      } ${h.operator}${h.value === null ? " null" : ""}`
    ).join(",")
  }|${Shape.selectShape(dialect, s)}`

/** Decodes one group row: group columns by their fields, aggregates as numbers (MIN / MAX by their column's field). */
const decodeGroupRow = (g: GroupState, row: Record<string, unknown>) => {
  const out: Record<string, unknown> = {}
  for (const column of g.groups) {
    const value = g.query.info.column(column).decode(row[column])
    if (Either.isLeft(value)) return value
    out[column] = value.right
  }
  for (const [name, a] of g.aggregates) {
    const raw = row[name] ?? null
    if (a.fn === "count" || a.fn === "sum") out[name] = raw === null ? 0 : engine.toNumber(raw)
    else if (a.fn === "avg" || raw === null) out[name] = raw === null ? null : engine.toNumber(raw)
    else {
      const value = g.query.info.column(a.column!).decode(raw)
      if (Either.isLeft(value)) return value
      out[name] = value.right
    }
  }
  return Either.right(out)
}

/** The rows of a GROUP BY query. */
export const run = (g: GroupState) => {
  const state = g.query
  if (state.lock) return Effect.fail(engine.invalid(state, "groupBy", "a grouped query takes no row lock"))
  return engine.guarded(state, () =>
    engine.withClient(state.mode, `${state.info.table}.groupBy`, (sql) => {
      const dialect = engine.dialectOf(sql)
      const s = engine.selectOf(state, { columns: undefined })
      const plan: Sql.Grouped = { select: s, groups: g.groups, aggregates: g.aggregates, having: g.having }
      const statement = engine.compiled(
        state.info,
        dialect,
        groupShape(dialect, g, s),
        () => Sql.grouped(dialect, plan)
      )
      const params = Shape.limitParams(
        dialect,
        s.limit,
        s.offset,
        Shape.havingParams(dialect, g.having, Shape.conditionParams(dialect, s.conditions))
      )
      return Effect.flatMap(CompiledStatement.run(sql, statement, params), (rows) => {
        const out: Array<Record<string, unknown>> = []
        for (const row of rows) {
          const decoded = decodeGroupRow(g, row)
          if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
          out.push(decoded.right)
        }
        return Effect.succeed(out)
      })
    }))
}

const reserved: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"])

/** A name an aggregate can take in a row: an identifier that is not one of the group columns. */
const aggregateName = (info: TableInfo, groups: ReadonlyArray<string>, name: string) => {
  const problem = validation.identifierProblem(name)
  if (problem !== undefined) return Either.left(new InvalidColumn({ table: info.table, column: name, reason: problem }))
  // A row is a plain object: names that are its own machinery are refused with the taken ones.
  if (groups.includes(name) || name.startsWith("fastorm_") || reserved.has(name)) {
    return Either.left(new InvalidColumn({ table: info.table, column: name, reason: "a name already taken" }))
  }
  return Either.right(name)
}

/** The grouped query's builder: each method checks its input and keeps the first problem, as the query does. */
export class GroupedImpl {
  constructor(readonly g: GroupState) {}

  private next(patch: Partial<GroupState>, query: Partial<QueryState> = {}): GroupedImpl {
    return new GroupedImpl({ ...this.g, ...patch, query: { ...this.g.query, ...query } })
  }
  private fail(error: ValidationError): GroupedImpl {
    return this.g.query.error !== undefined ? this : this.next({}, { error })
  }
  private names(): ReadonlyArray<string> {
    return [...this.g.groups, ...this.g.aggregates.map(([name]) => name)]
  }

  aggregate(f: unknown): GroupedImpl {
    const builder = {
      count: (column?: unknown) => ({ fn: "count", column }),
      sum: (column: unknown) => ({ fn: "sum", column }),
      avg: (column: unknown) => ({ fn: "avg", column }),
      min: (column: unknown) => ({ fn: "min", column }),
      max: (column: unknown) => ({ fn: "max", column })
    }
    const specs = typeof f === "function" ? f(builder) : undefined
    if (typeof specs !== "object" || specs === null) {
      return this.fail(
        new InvalidQuery({
          table: this.g.query.info.table,
          operation: "aggregate",
          reason: "expected a function returning named aggregates"
        })
      )
    }
    const aggregates: Array<readonly [string, Aggregate]> = []
    for (const [name, spec] of Object.entries(specs as Record<string, { fn?: unknown; column?: unknown }>)) {
      const checkedName = aggregateName(this.g.query.info, this.g.groups, name)
      if (Either.isLeft(checkedName)) return this.fail(checkedName.left)
      const fn = spec?.fn
      if (fn !== "count" && fn !== "sum" && fn !== "avg" && fn !== "min" && fn !== "max") {
        return this.fail(new InvalidQuery({ table: this.g.query.info.table, operation: "aggregate", reason: name }))
      }
      const checked = aggregateSpec(this.g.query.info, fn, spec.column)
      if (Either.isLeft(checked)) return this.fail(checked.left)
      aggregates.push([name, checked.right])
    }
    return this.next({ aggregates })
  }

  having(...args: Array<unknown>): GroupedImpl {
    const [name, operatorArg, valueArg] = args.length >= 3 ? args : [args[0], "=", args[1]]
    const info = this.g.query.info
    const operator = validation.checkOperator(operatorArg)
    if (Either.isLeft(operator)) return this.fail(operator.left)
    const aggregate = this.g.aggregates.find(([n]) => n === name)?.[1]
    let target: Having["target"]
    let value: Either.Either<validation.Value, ValidationError>
    if (typeof name === "string" && this.g.groups.includes(name)) {
      target = { column: name }
      value = info.column(name).encode(valueArg)
    } else if (aggregate !== undefined) {
      target = { aggregate }
      value = aggregate.fn === "min" || aggregate.fn === "max"
        ? info.column(aggregate.column!).encode(valueArg)
        : typeof valueArg === "number"
        ? validation.checkValue(String(name), valueArg)
        : Either.left(
          new InvalidValue({
            column: String(name),
            received: validation.describe(valueArg),
            reason: "expected a number"
          })
        )
    } else {
      return this.fail(
        new InvalidColumn({ table: info.table, column: String(name), reason: "not a group column or aggregate" })
      )
    }
    if (Either.isLeft(value)) return this.fail(value.left)
    if (value.right === null && !isEquality(operator.right)) {
      return this.fail(new InvalidValue({ column: String(name), received: "null", reason: "null needs = or !=" }))
    }
    return this.next({ having: [...this.g.having, { target, operator: operator.right, value: value.right }] })
  }

  orderBy(name: unknown, direction: unknown = "asc"): GroupedImpl {
    if (typeof name !== "string" || !this.names().includes(name)) {
      return this.fail(
        new InvalidColumn({
          table: this.g.query.info.table,
          column: String(name),
          reason: "not a group column or aggregate"
        })
      )
    }
    if (direction !== "asc" && direction !== "desc") {
      return this.fail(
        new InvalidValue({ column: name, received: String(direction), reason: "direction must be asc or desc" })
      )
    }
    return this.next({}, { orders: [...this.g.query.orders, [name, direction]] })
  }
  limit(count: unknown): GroupedImpl {
    const checked = validation.checkLimit("limit", count)
    return Either.isLeft(checked)
      ? this.fail(checked.left)
      : this.next({}, { limit: checked.right })
  }
  offset(count: unknown): GroupedImpl {
    const checked = validation.checkLimit("offset", count)
    return Either.isLeft(checked)
      ? this.fail(checked.left)
      : this.next({}, { offset: checked.right })
  }
  get() {
    return run(this.g)
  }
}
