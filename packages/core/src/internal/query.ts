/**
 * The query builder's implementation: each method checks its input (column, operator, value encoded by the column's
 * field), keeps the first problem in the state, and returns a new query; the run methods hand the state to the
 * reads, writes and cursor modules, which report that problem before any SQL is sent.
 */
import * as Either from "effect/Either"
import type { ValidationError } from "../Errors.js"
import { InvalidColumn, InvalidQuery, InvalidValue } from "../Errors.js"
import * as cursor from "./cursor.js"
import type { QueryState, TableInfo } from "./engine.js"
import * as reads from "./reads.js"
import type { Aggregate, Condition, Connector, Having } from "./sql.js"
import * as validation from "./validation.js"
import * as writes from "./writes.js"

/** @internal */
export type { QueryState }

const isEquality = (operator: validation.Operator) => operator === "=" || operator === "!=" || operator === "<>"

/** The state of a query with no condition. @internal */
export const emptyState = (info: TableInfo, mode: "read" | "write"): QueryState => ({
  info,
  conditions: [],
  orders: [],
  limit: undefined,
  offset: undefined,
  mode,
  lock: false,
  columns: undefined,
  everything: false,
  error: undefined
})

class QueryImpl {
  constructor(readonly state: QueryState) {}

  private next(patch: Partial<QueryState>): QueryImpl {
    return new QueryImpl({ ...this.state, ...patch })
  }

  /** Keeps the first error; the query stays buildable and fails when run. */
  fail(error: ValidationError): QueryImpl {
    return this.state.error !== undefined ? this : this.next({ error })
  }

  private column(column: unknown): Either.Either<string, ValidationError> {
    return validation.checkColumn(this.state.info.table, this.state.info.columns, column)
  }

  /** The value encoded by the column's field, then checked as bindable. */
  private value(column: string, value: unknown): Either.Either<validation.Value, ValidationError> {
    return this.state.info.column(column).encode(value)
  }

  private add(condition: Condition): QueryImpl {
    return this.next({ conditions: [...this.state.conditions, condition] })
  }

  /** A nested group built by `build` on an empty query of the same table. */
  private group(connector: Connector, not: boolean, build: (query: any) => unknown): QueryImpl {
    const built = build(new QueryImpl(emptyState(this.state.info, this.state.mode)))
    if (!(built instanceof QueryImpl)) {
      return this.fail(
        new InvalidQuery({
          table: this.state.info.table,
          operation: "where",
          reason: "a group's function must return the query it was given"
        })
      )
    }
    if (built.state.error !== undefined) return this.fail(built.state.error)
    // An empty group adds nothing (rather than a condition that is always true or false).
    if (built.state.conditions.length === 0) return this
    return this.add({ _tag: "Group", connector, not, conditions: built.state.conditions })
  }

  private compare(connector: Connector, not: boolean, args: ReadonlyArray<unknown>): QueryImpl {
    if (args.length === 1 && typeof args[0] === "function") return this.group(connector, not, args[0] as any)
    const [column, operatorArg, valueArg] = args.length >= 3 ? args : [args[0], "=", args[1]]
    const name = this.column(column)
    if (Either.isLeft(name)) return this.fail(name.left)
    const checked = Either.all([validation.checkOperator(operatorArg), this.value(name.right, valueArg)])
    if (Either.isLeft(checked)) return this.fail(checked.left)
    const [operator, value] = checked.right
    if (value === null && !isEquality(operator)) {
      return this.fail(
        new InvalidValue({ column: name.right, received: "null", reason: `null can only be compared with = or !=` })
      )
    }
    const condition: Condition = { _tag: "Compare", connector, column: name.right, operator, value }
    return this.add(not ? { _tag: "Group", connector, not: true, conditions: [condition] } : condition)
  }

  private list(column: unknown, values: unknown, not: boolean): QueryImpl {
    const name = this.column(column)
    if (Either.isLeft(name)) return this.fail(name.left)
    if (!Array.isArray(values)) {
      return this.fail(
        new InvalidValue({ column: name.right, received: validation.describe(values), reason: "expected an array" })
      )
    }
    const checked: Array<validation.Value> = []
    for (const value of values) {
      const v = this.value(name.right, value)
      if (Either.isLeft(v)) return this.fail(v.left)
      if (not && v.right === null) {
        return this.fail(
          new InvalidValue({ column: name.right, received: "null", reason: "NOT IN with null never matches" })
        )
      }
      checked.push(v.right)
    }
    return this.add({ _tag: "In", connector: "AND", column: name.right, not, values: checked })
  }

  where(...args: Array<unknown>): QueryImpl {
    return this.compare("AND", false, args)
  }
  orWhere(...args: Array<unknown>): QueryImpl {
    return this.compare("OR", false, args)
  }
  whereNot(...args: Array<unknown>): QueryImpl {
    return this.compare("AND", true, args)
  }
  whereIn(column: unknown, values: unknown): QueryImpl {
    return this.list(column, values, false)
  }
  whereNotIn(column: unknown, values: unknown): QueryImpl {
    return this.list(column, values, true)
  }
  whereNull(column: unknown): QueryImpl {
    const name = this.column(column)
    return Either.isLeft(name)
      ? this.fail(name.left)
      : this.add({ _tag: "Null", connector: "AND", column: name.right, not: false })
  }
  whereNotNull(column: unknown): QueryImpl {
    const name = this.column(column)
    return Either.isLeft(name)
      ? this.fail(name.left)
      : this.add({ _tag: "Null", connector: "AND", column: name.right, not: true })
  }
  whereBetween(column: unknown, range: unknown): QueryImpl {
    const name = this.column(column)
    if (Either.isLeft(name)) return this.fail(name.left)
    if (!Array.isArray(range) || range.length !== 2) {
      return this.fail(
        new InvalidValue({ column: name.right, received: validation.describe(range), reason: "expected [low, high]" })
      )
    }
    const ends = Either.all([this.value(name.right, range[0]), this.value(name.right, range[1])])
    if (Either.isLeft(ends)) return this.fail(ends.left)
    const [low, high] = ends.right
    if (low === null || high === null) {
      return this.fail(new InvalidValue({ column: name.right, received: "null", reason: "BETWEEN null never matches" }))
    }
    return this.add({ _tag: "Between", connector: "AND", column: name.right, not: false, low, high })
  }
  whereLike(column: unknown, pattern: unknown, options?: { readonly caseInsensitive?: unknown }): QueryImpl {
    const name = this.column(column)
    if (Either.isLeft(name)) return this.fail(name.left)
    if (this.state.info.column(name.right).kind !== "string") {
      return this.fail(
        new InvalidColumn({ table: this.state.info.table, column: name.right, reason: "LIKE needs a string column" })
      )
    }
    // A pattern is not a value of the column (its refinements do not apply), only a string.
    if (typeof pattern !== "string") {
      return this.fail(
        new InvalidValue({ column: name.right, received: validation.describe(pattern), reason: "expected a string" })
      )
    }
    return this.add({
      _tag: "Like",
      connector: "AND",
      column: name.right,
      not: false,
      pattern,
      caseInsensitive: options?.caseInsensitive === true
    })
  }
  select(...columns: Array<unknown>): QueryImpl {
    const names: Array<string> = []
    for (const column of columns) {
      const name = this.column(column)
      if (Either.isLeft(name)) return this.fail(name.left)
      if (!names.includes(name.right)) names.push(name.right)
    }
    if (names.length === 0) {
      return this.fail(
        new InvalidQuery({ table: this.state.info.table, operation: "select", reason: "select needs a column" })
      )
    }
    return this.next({ columns: names })
  }
  orderBy(column: unknown, direction: unknown = "asc"): QueryImpl {
    const name = this.column(column)
    if (Either.isLeft(name)) return this.fail(name.left)
    if (direction !== "asc" && direction !== "desc") {
      return this.fail(
        new InvalidValue({ column: name.right, received: String(direction), reason: "direction must be asc or desc" })
      )
    }
    return this.next({ orders: [...this.state.orders, [name.right, direction]] })
  }
  limit(count: unknown): QueryImpl {
    const checked = validation.checkLimit("limit", count)
    return Either.isLeft(checked) ? this.fail(checked.left) : this.next({ limit: checked.right })
  }
  offset(count: unknown): QueryImpl {
    const checked = validation.checkLimit("offset", count)
    return Either.isLeft(checked) ? this.fail(checked.left) : this.next({ offset: checked.right })
  }
  forceWrite(): QueryImpl {
    return this.next({ mode: "write" })
  }
  lockForUpdate(): QueryImpl {
    return this.next({ mode: "write", lock: true })
  }
  all(): QueryImpl {
    return this.next({ everything: true })
  }

  get() {
    return reads.get(this.state)
  }
  first() {
    return reads.first(this.state)
  }
  count() {
    return reads.count(this.state)
  }
  exists() {
    return reads.exists(this.state)
  }
  pluck(column: unknown) {
    const name = this.column(column)
    return Either.isLeft(name) ? reads.get(this.fail(name.left).state) : reads.pluck(this.state, name.right)
  }
  private aggregateOf(fn: Aggregate["fn"], column: unknown) {
    const checked = this.aggregateSpec(fn, column)
    return Either.isLeft(checked)
      ? reads.aggregate(this.fail(checked.left).state, fn, undefined)
      : reads.aggregate(this.state, fn, checked.right.column)
  }
  /** An aggregate over a column of the model (SUM and AVG over number columns only). */
  aggregateSpec(fn: Aggregate["fn"], column: unknown): Either.Either<Aggregate, ValidationError> {
    if (fn === "count" && column === undefined) return Either.right({ fn, column: undefined })
    return Either.flatMap(
      this.column(column),
      (name) =>
        (fn === "sum" || fn === "avg") && this.state.info.column(name).kind !== "number"
          ? Either.left(
            new InvalidColumn({ table: this.state.info.table, column: name, reason: `${fn} needs a number column` })
          )
          : Either.right({ fn, column: name })
    )
  }
  sum(column: unknown) {
    return this.aggregateOf("sum", column)
  }
  avg(column: unknown) {
    return this.aggregateOf("avg", column)
  }
  min(column: unknown) {
    return this.aggregateOf("min", column)
  }
  max(column: unknown) {
    return this.aggregateOf("max", column)
  }
  groupBy(...columns: Array<unknown>): GroupedImpl {
    const names: Array<string> = []
    let query = this.next({})
    for (const column of columns) {
      const name = this.column(column)
      if (Either.isLeft(name)) query = query.fail(name.left)
      else if (!names.includes(name.right)) names.push(name.right)
    }
    // The groups' own order and limits are set on the grouped query.
    if (query.state.orders.length > 0 || query.state.limit !== undefined || query.state.offset !== undefined) {
      query = query.fail(
        new InvalidQuery({
          table: this.state.info.table,
          operation: "groupBy",
          reason: "order and limit the groups after groupBy(...)"
        })
      )
    }
    return new GroupedImpl(query, { query: query.state, groups: names, aggregates: [], having: [] })
  }
  paginate(options: { readonly page: unknown; readonly perPage: unknown }) {
    return reads.paginate(this.state, options)
  }
  cursor(options: { readonly after?: unknown; readonly limit: unknown }) {
    return cursor.page(this.state, options)
  }
  stream() {
    return reads.stream(this.state)
  }
  update(patch: unknown) {
    return writes.update(this.state, patch)
  }
  delete() {
    return writes.delete_(this.state)
  }
  increment(column: unknown, by: unknown = 1) {
    return writes.increment(this.state, column, by)
  }
  decrement(column: unknown, by: unknown = 1) {
    return writes.increment(this.state, column, typeof by === "number" ? -by : by)
  }
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

class GroupedImpl {
  constructor(private readonly query: QueryImpl, readonly g: reads.GroupState) {}

  private next(patch: Partial<reads.GroupState>, query: QueryImpl = this.query): GroupedImpl {
    return new GroupedImpl(query, { ...this.g, ...patch, query: query.state })
  }
  private fail(error: ValidationError): GroupedImpl {
    return this.next({}, this.query.fail(error))
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
      const checked = this.query.aggregateSpec(fn, spec.column)
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
    const query = new QueryImpl({ ...this.g.query, orders: [...this.g.query.orders, [name, direction]] })
    return this.next({}, query)
  }
  limit(count: unknown): GroupedImpl {
    const checked = validation.checkLimit("limit", count)
    return Either.isLeft(checked)
      ? this.fail(checked.left)
      : this.next({}, new QueryImpl({ ...this.g.query, limit: checked.right }))
  }
  offset(count: unknown): GroupedImpl {
    const checked = validation.checkLimit("offset", count)
    return Either.isLeft(checked)
      ? this.fail(checked.left)
      : this.next({}, new QueryImpl({ ...this.g.query, offset: checked.right }))
  }
  get() {
    return reads.grouped(this.g)
  }
}

/** @internal */
export const fromState = (state: QueryState): any => new QueryImpl(state)
