/**
 * Eager loading: the parents' rows, then one statement per relation level and batch of keys, matched to the parents
 * in memory. The whole load runs under one `ReadPin`, so a router keeps every statement on the node of the first;
 * in a transaction every statement takes its connection, and a forced read forces the whole load.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { ParseError } from "effect/ParseResult"
import * as CompiledStatement from "../../CompiledStatement.js"
import type { ReadConnection, WriteConnection } from "../../Connections.js"
import { ReadPin } from "../../Connections.js"
import type { Dialect } from "../../Dialect.js"
import type { ConnectionError, MissingWriteConnection, ValidationError } from "../../Errors.js"
import { InvalidQuery } from "../../Errors.js"
import * as cursor from "../cursor.js"
import type { QueryState, TableInfo } from "../engine.js"
import * as engine from "../engine.js"
import * as reads from "../reads.js"
import * as RowArrays from "../rowArrays.js"
import * as Shape from "../sqlShape.js"
import type { Plan } from "./plan.js"
import * as RelationSql from "./sql.js"

type Row = Record<string, unknown>

/** A key as text, whichever side it came from (a bound value, or a value as the driver returned it). */
export const keyOf = (value: unknown): string => {
  // The usual keys first: integers and text.
  if (typeof value === "number" || typeof value === "string") return String(value)
  if (typeof value === "boolean") return value ? "1" : "0"
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex")
  return String(value)
}

/** What every load of one plan on one dialect shares: the relation's own parameters, the compiled statements. */
interface Prepared {
  readonly others: ReadonlyArray<unknown>
  readonly max: number
  /** By the key list's length in the statement. */
  readonly statements: Map<number, CompiledStatement.CompiledStatement>
}

/** What every load of one plan shares, worked out on its first load (a plan of `with("posts")` is made once). */
interface PlanCache {
  readonly operation: string
  readonly many: boolean
  /** The column of a child row that holds its parent's key. */
  readonly childKey: string
  readonly byDialect: Map<Dialect, Prepared>
}

const caches = new WeakMap<Plan, PlanCache>()

const cacheOf = (plan: Plan): PlanCache => {
  let cache = caches.get(plan)
  if (cache === undefined) {
    cache = {
      operation: `${plan.target.table}.with(${plan.name})`,
      many: plan.kind === "hasMany" || plan.kind === "manyToMany",
      childKey: plan.kind === "manyToMany" ? "fastorm_parent" : plan.to,
      byDialect: new Map()
    }
    caches.set(plan, cache)
  }
  return cache
}

const preparedOf = (cache: PlanCache, plan: Plan, dialect: Dialect): Prepared => {
  let prepared = cache.byDialect.get(dialect)
  if (prepared === undefined) {
    const others = Shape.conditionParams(dialect, plan.conditions)
    prepared = { others, max: RelationSql.maxKeys(dialect, others.length), statements: new Map() }
    cache.byDialect.set(dialect, prepared)
  }
  return prepared
}

/** The parents' distinct keys (encoded for binding) and each parent's key text. */
const parentKeys = (
  parent: TableInfo,
  plan: Plan,
  rows: ReadonlyArray<Row>
): Either.Either<
  { readonly keys: Map<string, unknown>; readonly byRow: Array<string | undefined> },
  ValidationError
> => {
  const codec = parent.column(plan.from)
  const keys = new Map<string, unknown>()
  const byRow: Array<string | undefined> = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const value = rows[i]![plan.from]
    if (value === null || value === undefined) {
      byRow[i] = undefined
      continue
    }
    const encoded = codec.encode(value)
    if (Either.isLeft(encoded)) return Either.left(encoded.left)
    const key = keyOf(encoded.right)
    if (!keys.has(key)) keys.set(key, encoded.right)
    byRow[i] = key
  }
  return Either.right({ keys, byRow })
}

/** One statement of a level: a batch of bound keys, padded to its length in the statement. */
const runBatch = (
  sql: SqlClient.SqlClient,
  dialect: Dialect,
  plan: Plan,
  prepared: Prepared,
  batch: ReadonlyArray<unknown>
): Effect.Effect<ReadonlyArray<any>, SqlError> => {
  const length = RelationSql.paddedLength(dialect, batch.length, prepared.max)
  let padded = batch
  if (length !== batch.length) {
    const filled = batch.slice()
    while (filled.length < length) filled.push(batch[batch.length - 1])
    padded = filled
  }
  let statement = prepared.statements.get(length)
  if (statement === undefined) {
    const level = RelationSql.level(dialect, plan, padded)
    statement = engine.compiled(plan.target, dialect, level.shape, level.render)
    prepared.statements.set(length, statement)
  }
  // The children go straight to the target's decoder: as arrays where the client gives them so.
  return CompiledStatement.run(
    sql,
    CompiledStatement.asArrays(statement),
    RelationSql.levelParams(dialect, plan, padded, prepared.others)
  )
}

/** Reads one relation level for `rows` and sets it on each row, after loading its nested levels on the children. */
const loadLevel = (parent: TableInfo, mode: "read" | "write", rows: ReadonlyArray<Row>, plan: Plan) =>
  Effect.suspend(() => {
    const found = parentKeys(parent, plan, rows)
    if (Either.isLeft(found)) return Effect.fail(found.left)
    const { byRow, keys } = found.right
    const cache = cacheOf(plan)
    const assign = (groups: Map<string, Array<Row>>) => {
      for (let i = 0; i < rows.length; i++) {
        const key = byRow[i]
        const children = key === undefined ? undefined : groups.get(key)
        rows[i]![plan.name] = cache.many ? children ?? [] : children?.[0] ?? null
      }
    }
    // No parent has a key: nothing to read.
    if (keys.size === 0) return Effect.sync(() => assign(new Map()))
    return engine.withClient(mode, cache.operation, (sql) => {
      const dialect = engine.dialectOf(sql)
      const prepared = preparedOf(cache, plan, dialect)
      const values = Array.from(keys.values(), (v) => engine.bindValue(dialect, v))
      // One batch in the usual case: its rows as they are.
      if (values.length <= prepared.max) return runBatch(sql, dialect, plan, prepared, values)
      return Effect.map(
        Effect.forEach(
          RelationSql.chunks(values, prepared.max),
          (batch) => runBatch(sql, dialect, plan, prepared, batch)
        ),
        // Several batches (many parents, rarely): one list of objects, whatever form each batch came in.
        (batches) => batches.flatMap(CompiledStatement.rowObjects)
      )
    }).pipe(
      Effect.flatMap((raw) =>
        Effect.flatMap(plan.target.decodeRows(raw), (decoded: ReadonlyArray<Row>) => {
          const groups = new Map<string, Array<Row>>()
          const childKey = RowArrays.columnReader(raw, cache.childKey)
          for (let i = 0; i < raw.length; i++) {
            const k = keyOf(childKey(raw[i]))
            const group = groups.get(k)
            if (group === undefined) groups.set(k, [decoded[i]!])
            else group.push(decoded[i]!)
          }
          return Effect.as(
            plan.nested.length === 0 ? Effect.void : loadAll(plan.target, mode, decoded, plan.nested),
            groups
          )
        })
      ),
      Effect.map(assign)
    )
  })

/** Loads every planned relation onto `rows` (one level after another, each one statement per batch of keys). */
export const loadAll = (
  parent: TableInfo,
  mode: "read" | "write",
  rows: ReadonlyArray<Row>,
  plans: ReadonlyArray<Plan>
): Effect.Effect<
  void,
  ValidationError | SqlError | ParseError | MissingWriteConnection | ConnectionError,
  ReadConnection | WriteConnection
> =>
  // No parents: no statement at all.
  rows.length === 0
    ? Effect.void
    : Effect.forEach(plans, (plan) => loadLevel(parent, mode, rows, plan), { discard: true })

/** Runs `effect` under a fresh `ReadPin`, unless a unit of work around it already has one. */
export const pinned = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    ReadPin,
    (pin) => pin === undefined ? Effect.provideService(effect, ReadPin, { node: undefined }) : effect
  )

/** Refuses a load whose parents were read without the key column a relation needs. */
const guard = (state: QueryState): Effect.Effect<void, ValidationError> => {
  const plans = state.eager?.plans ?? []
  const columns = state.columns
  if (columns !== undefined) {
    const missing = plans.find((p) => !columns.includes(p.from))
    if (missing !== undefined) {
      return Effect.fail(
        new InvalidQuery({
          table: state.info.table,
          operation: `with(${missing.name})`,
          reason: `select the key column '${missing.from}' to load ${missing.name}`
        })
      )
    }
  }
  return Effect.void
}

const withRelations = <A, E, R>(
  state: QueryState,
  read: Effect.Effect<A, E, R>,
  rowsOf: (result: A) => ReadonlyArray<Row>
) =>
  Effect.zipRight(
    guard(state),
    pinned(
      Effect.tap(read, (result) => loadAll(state.info, state.mode, rowsOf(result), state.eager?.plans ?? []))
    )
  )

/** `get()` with the relations loaded. */
export const get = (state: QueryState) => withRelations(state, reads.get(state), (rows) => rows as ReadonlyArray<Row>)

/** `first()` with the relations loaded. */
export const first = (state: QueryState) =>
  withRelations(state, reads.first(state), (row) => row._tag === "Some" ? [row.value as Row] : [])

/** `paginate()` with the relations loaded on the page. */
export const paginate = (
  state: QueryState,
  options: Parameters<typeof reads.paginate>[1]
): ReturnType<typeof reads.paginate> =>
  withRelations(state, reads.paginate(state, options), (page) => page.data as ReadonlyArray<Row>)

/** `cursor()` with the relations loaded on the page. */
export const page = (state: QueryState, options: Parameters<typeof cursor.page>[1]) =>
  withRelations(state, cursor.page(state, options), (p) => p.data as ReadonlyArray<Row>)
