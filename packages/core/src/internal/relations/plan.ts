/**
 * What `with(...)` asked for, checked and resolved before any SQL: each named relation's keys against the models'
 * columns, its condition, order and limit built by the target's own query builder, its nested relations. A pure
 * function of the spec and the declarations (`test/relations.test.ts` checks its refusals).
 */
import * as Either from "effect/Either"
import type { ValidationError } from "../../Errors.js"
import { InvalidRelation } from "../../Errors.js"
import type { AnyRelation, Kind, Through } from "../../Relations.js"
import type { QueryState, TableInfo } from "../engine.js"
import type { Condition } from "../sql.js"
import * as validation from "../validation.js"

/** One relation to load, resolved. @internal */
export interface Plan {
  readonly name: string
  readonly kind: Kind
  /** The parent's key column. */
  readonly from: string
  /** The target's key column. */
  readonly to: string
  readonly through: Through | undefined
  readonly target: TableInfo
  /** The relation's own condition on the target's rows (a group from `where`). */
  readonly conditions: ReadonlyArray<Condition>
  readonly orders: ReadonlyArray<readonly [column: string, direction: "asc" | "desc"]>
  /** Rows per parent. */
  readonly limit: number | undefined
  readonly nested: ReadonlyArray<Plan>
}

/** The relations a query may load and the loads asked so far. @internal */
export interface EagerState {
  readonly declared: Readonly<Record<string, AnyRelation>>
  readonly plans: ReadonlyArray<Plan>
}

/** A target as its declaration gives it: the query of a repository, maybe with relations. */
interface TargetLike {
  readonly relations?: Readonly<Record<string, AnyRelation>>
  query(): { readonly state: QueryState; where(f: unknown): any; orderBy(c: unknown, d?: unknown): any }
}

const resolve = (relation: AnyRelation): TargetLike | undefined => {
  const target: unknown = typeof relation.target === "function" ? (relation.target as () => unknown)() : relation.target
  return typeof (target as TargetLike | undefined)?.query === "function" ? target as TargetLike : undefined
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The names and options of a `with(...)` spec; `undefined` when its form is not one of the three. */
const entries = (spec: unknown): ReadonlyArray<readonly [string, unknown]> | undefined => {
  if (typeof spec === "string") return [[spec, true]]
  if (Array.isArray(spec)) return spec.every((s) => typeof s === "string") ? spec.map((s) => [s, true]) : undefined
  if (isRecord(spec)) return Object.keys(spec).map((k) => [k, spec[k]])
  return undefined
}

/** Checks a relation's keys against its models: the parent's `from`, the target's `to`, the join table's names. */
export const keyProblem = (parent: TableInfo, relation: AnyRelation, target: TableInfo): string | undefined => {
  if (!parent.columns.has(relation.from) || validation.identifierProblem(relation.from) !== undefined) {
    return `'${String(relation.from)}' is not a column of ${parent.table}`
  }
  if (!target.columns.has(relation.to) || validation.identifierProblem(relation.to) !== undefined) {
    return `'${String(relation.to)}' is not a column of ${target.table}`
  }
  if (relation.kind === "manyToMany") {
    const through = relation.through
    if (through === undefined) return "a many-to-many relation needs its join table (through)"
    for (const name of [through.table, through.from, through.to]) {
      const problem = validation.identifierProblem(name)
      if (problem !== undefined) return `join table name '${String(name)}': ${problem}`
    }
  }
  return undefined
}

// Plans of the specs made of names only (`with("posts")`, `with(["posts", "tags"])`), per parent and declarations:
// a load written the same way on every request is planned once. Plans are immutable; refusals are not kept (a
// target declared further down may not be defined yet).
const byParent = new WeakMap<TableInfo, WeakMap<object, Map<string, ReadonlyArray<Plan>>>>()

const namesKey = (spec: unknown): string | undefined => {
  if (typeof spec === "string") return spec
  if (Array.isArray(spec) && spec.every((s) => typeof s === "string")) return `[${spec.join("\u0000")}]`
  return undefined
}

/** The plans of `spec` for a parent described by `parent` with relations `declared`. @internal */
export const plans = (
  parent: TableInfo,
  declared: Readonly<Record<string, AnyRelation>>,
  spec: unknown
): Either.Either<ReadonlyArray<Plan>, ValidationError> => {
  const key = namesKey(spec)
  if (key === undefined) return planAll(parent, declared, spec)
  let byDeclared = byParent.get(parent)
  if (byDeclared === undefined) byParent.set(parent, byDeclared = new WeakMap())
  let bySpec = byDeclared.get(declared)
  if (bySpec === undefined) byDeclared.set(declared, bySpec = new Map())
  const known = bySpec.get(key)
  if (known !== undefined) return Either.right(known)
  const planned = planAll(parent, declared, spec)
  if (Either.isRight(planned)) bySpec.set(key, planned.right)
  return planned
}

const planAll = (
  parent: TableInfo,
  declared: Readonly<Record<string, AnyRelation>>,
  spec: unknown
): Either.Either<ReadonlyArray<Plan>, ValidationError> => {
  const fail = (relation: string, reason: string) =>
    Either.left(new InvalidRelation({ model: parent.modelName, relation, reason }))
  const list = entries(spec)
  if (list === undefined) return fail(String(spec), "expected a relation's name, a list of names, or an object")
  const out: Array<Plan> = []
  for (const [name, options] of list) {
    const relation = Object.hasOwn(declared, name) ? declared[name] : undefined
    if (relation?._tag !== "Relation") return fail(name, "no relation of that name is declared")
    // The loaded rows are set on each parent under the relation's name: it must not hide a column.
    if (parent.columns.has(name)) return fail(name, `${parent.table} has a column of that name`)
    const target = resolve(relation)
    if (target === undefined) return fail(name, "its target is not a repository")
    let query = target.query()
    const info = query.state.info
    const problem = keyProblem(parent, relation, info)
    if (problem !== undefined) return fail(name, problem)
    if (options !== true && options !== undefined && !isRecord(options)) {
      return fail(name, "expected true or { where, orderBy, limit, with }")
    }
    const o = isRecord(options) ? options : {}
    if (o.where !== undefined) query = query.where(o.where)
    if (o.orderBy !== undefined) {
      query = Array.isArray(o.orderBy) ? query.orderBy(o.orderBy[0], o.orderBy[1]) : query.orderBy(o.orderBy)
    }
    const state: QueryState = query.state
    if (state.error !== undefined) return Either.left(state.error)
    let limit: number | undefined
    if (o.limit !== undefined) {
      const checked = validation.checkLimit("limit", o.limit, 1)
      if (Either.isLeft(checked)) return Either.left(checked.left)
      limit = checked.right
    }
    let nested: ReadonlyArray<Plan> = []
    if (o.with !== undefined) {
      const inner = plans(info, target.relations ?? {}, o.with)
      if (Either.isLeft(inner)) return inner
      nested = inner.right
    }
    out.push({
      name,
      kind: relation.kind,
      from: relation.from,
      to: relation.to,
      through: relation.through,
      target: info,
      conditions: state.conditions,
      // Each parent's rows in a stable order: the target's id column ends every order.
      orders: state.orders.some(([c]) => c === info.idColumn)
        ? state.orders
        : [...state.orders, [info.idColumn, "asc"]],
      limit,
      nested
    })
  }
  return Either.right(out)
}
