/**
 * The query builder's implementation: each method checks its input (the conditions module checks those of `where`),
 * keeps the first problem in the state, and returns a new query; the run methods hand the state to the reads, writes
 * and cursor modules, which report that problem before any SQL is sent.
 */
import * as Either from "effect/Either"
import type { ValidationError } from "../Errors.js"
import { InvalidQuery, InvalidValue } from "../Errors.js"
import * as conditions from "./conditions.js"
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
    return conditions.column(this.state.info, column)
  }

  private add(condition: Condition): QueryImpl {
    return this.next({ conditions: [...this.state.conditions, condition] })
  }

  /** Adds the condition, or keeps its problem. */
  private check(checked: conditions.Checked): QueryImpl {
    return Either.isLeft(checked) ? this.fail(checked.left) : this.add(checked.right)
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
    const [column, operator, value] = args.length >= 3 ? args : [args[0], "=", args[1]]
    return this.check(conditions.compare(this.state.info, connector, not, column, operator, value))
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
    return this.check(conditions.list(this.state.info, column, values, false))
  }
  whereNotIn(column: unknown, values: unknown): QueryImpl {
    return this.check(conditions.list(this.state.info, column, values, true))
  }
  whereNull(column: unknown): QueryImpl {
    return this.check(conditions.isNull(this.state.info, column, false))
  }
  whereNotNull(column: unknown): QueryImpl {
    return this.check(conditions.isNull(this.state.info, column, true))
  }
  whereBetween(column: unknown, range: unknown): QueryImpl {
    return this.check(conditions.between(this.state.info, column, range))
  }
  whereLike(column: unknown, pattern: unknown, options?: { readonly caseInsensitive?: unknown }): QueryImpl {
    return this.check(conditions.like(this.state.info, column, pattern, options))
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
