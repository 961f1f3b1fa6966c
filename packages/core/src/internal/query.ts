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
import * as grouped from "./grouped.js"
import * as reads from "./reads.js"
import * as eager from "./relations/load.js"
import * as relations from "./relations/plan.js"
import type { Aggregate, Condition, Connector } from "./sql.js"
import { stream } from "./stream.js"
import * as validation from "./validation.js"
import * as writes from "./writes.js"

/** @internal */
export type { QueryState }

const isEquality = (operator: validation.Operator) => operator === "=" || operator === "!=" || operator === "<>"

const invalidStream = (table: string) =>
  new InvalidQuery({ table, operation: "stream", reason: "stream() loads no relations: read pages with cursor()" })

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
  error: undefined,
  // Present from the start, so a copy that sets it keeps the object's shape (V8 keeps it fast).
  eager: undefined
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
    // The operator's error first, then the value's.
    const checkedOperator = validation.checkOperator(operatorArg)
    if (Either.isLeft(checkedOperator)) return this.fail(checkedOperator.left)
    const checkedValue = this.value(name.right, valueArg)
    if (Either.isLeft(checkedValue)) return this.fail(checkedValue.left)
    const operator = checkedOperator.right
    const value = checkedValue.right
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
  with(spec: unknown): QueryImpl {
    const declared = this.state.eager?.declared ?? {}
    const planned = relations.plans(this.state.info, declared, spec)
    if (Either.isLeft(planned)) return this.fail(planned.left)
    // A relation named again replaces its earlier load.
    const names = new Set(planned.right.map((p) => p.name))
    const kept = (this.state.eager?.plans ?? []).filter((p) => !names.has(p.name))
    return this.next({ eager: { declared, plans: [...kept, ...planned.right] } })
  }
  /** Whether the rows come with relations. */
  private get eager(): boolean {
    return this.state.eager !== undefined && this.state.eager.plans.length > 0
  }

  get() {
    return this.eager ? eager.get(this.state) : reads.get(this.state)
  }
  first() {
    return this.eager ? eager.first(this.state) : reads.first(this.state)
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
    const checked = grouped.aggregateSpec(this.state.info, fn, column)
    return Either.isLeft(checked)
      ? reads.aggregate(this.fail(checked.left).state, fn, undefined)
      : reads.aggregate(this.state, fn, checked.right.column)
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
  groupBy(...columns: Array<unknown>): grouped.GroupedImpl {
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
    return new grouped.GroupedImpl({ query: query.state, groups: names, aggregates: [], having: [] })
  }
  paginate(options: { readonly page: unknown; readonly perPage: unknown }) {
    return this.eager ? eager.paginate(this.state, options) : reads.paginate(this.state, options)
  }
  cursor(options: { readonly after?: unknown; readonly limit: unknown }) {
    return this.eager ? eager.page(this.state, options) : cursor.page(this.state, options)
  }
  stream() {
    // Rows of a stream arrive one by one on a held connection: relations are loaded by pages (cursor), not here.
    return this.eager
      ? stream(this.fail(invalidStream(this.state.info.table)).state)
      : stream(this.state)
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

/** @internal */
export const fromState = (state: QueryState): any => new QueryImpl(state)
