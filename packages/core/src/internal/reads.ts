/**
 * The reads of the query builder: rows, counts, aggregates and pages (groups: grouped.ts; streams: stream.ts; keyset
 * pages: cursor.ts). Each one renders its SQL once
 * per shape and dialect and runs it on the client `engine.withClient` picks, so each is routed like every read.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import * as CompiledStatement from "../CompiledStatement.js"
import type { ReadConnection, WriteConnection } from "../Connections.js"
import type { ConnectionError, MissingWriteConnection } from "../Errors.js"
import { InvalidLimit } from "../Errors.js"
import type { QueryState } from "./engine.js"
import * as engine from "./engine.js"
import * as RowArrays from "./rowArrays.js"
import type { Aggregate } from "./sql.js"
import * as Sql from "./sql.js"
import * as Shape from "./sqlShape.js"
import * as validation from "./validation.js"

const operation = (state: QueryState, name: string) => `${state.info.table}.${name}`

/** All matching rows, decoded (by the selected fields after a `select`). */
export const get = (state: QueryState) =>
  engine.guarded(state, () =>
    engine.withClient(state.mode, operation(state, "get"), (sql) =>
      Effect.flatMap(
        engine.runSelect(sql, state.info, engine.selectOf(state), true),
        state.info.decoderFor(state.columns)
      )))

/** The first matching row in the query's order (or in `orders`). */
export const first = (state: QueryState, orders?: QueryState["orders"]) =>
  engine.guarded(state, () =>
    engine.withClient(state.mode, operation(state, "first"), (sql) => {
      const s = engine.selectOf(state, {
        limit: Math.min(1, state.limit ?? 1),
        ...(orders !== undefined ? { orders } : {})
      })
      return Effect.flatMap(
        engine.runSelect(sql, state.info, s, true),
        (rows) =>
          rows.length === 0
            ? Effect.succeedNone
            : Effect.map(
              state.info.decoderFor(state.columns)(RowArrays.sliceRows(rows, 0, 1)),
              (decoded) => Option.some(decoded[0])
            )
      )
    }))

/** How many rows match (honouring limit and offset). */
export const count = (state: QueryState) =>
  engine.guarded(state, () =>
    engine.withClient(state.mode, operation(state, "count"), (sql) => {
      const dialect = engine.dialectOf(sql)
      const s = engine.selectOf(state, { columns: undefined, lock: false })
      const statement = engine.compiled(
        state.info,
        dialect,
        `count|${Shape.selectShape(dialect, s)}`,
        () => Sql.count(dialect, s)
      )
      return Effect.map(CompiledStatement.run(sql, statement, engine.selectParams(dialect, s)), engine.firstNumber)
    }))

/** Whether any row matches. */
export const exists = (state: QueryState) =>
  engine.guarded(state, () =>
    engine.withClient(state.mode, operation(state, "exists"), (sql) => {
      const dialect = engine.dialectOf(sql)
      const s = engine.selectOf(state, { columns: undefined, orders: [], limit: 1, lock: false })
      const statement = engine.compiled(
        state.info,
        dialect,
        `exists|${Shape.selectShape(dialect, s)}`,
        () => Sql.exists(dialect, s)
      )
      return Effect.map(
        CompiledStatement.run(sql, statement, engine.selectParams(dialect, s)),
        (rows) => rows.length > 0
      )
    }))

/** One column of every matching row, decoded by its field. */
export const pluck = (state: QueryState, column: string) =>
  engine.guarded(state, () =>
    engine.withClient(state.mode, operation(state, "pluck"), (sql) =>
      Effect.flatMap(
        engine.runSelect(sql, state.info, engine.selectOf(state, { columns: [column] })),
        (rows) => {
          const codec = state.info.column(column)
          const out: Array<unknown> = []
          for (const row of rows) {
            const value = codec.decode((row as Record<string, unknown>)[column])
            if (Either.isLeft(value)) return Effect.fail(value.left)
            out.push(value.right)
          }
          return Effect.succeed(out)
        }
      )))

/** The raw value of one aggregate over the matching rows. */
const aggregateValue = (state: QueryState, aggregate: Aggregate) =>
  state.lock
    ? Effect.fail(engine.invalid(state, aggregate.fn, "an aggregate takes no row lock"))
    : engine.guarded(state, () =>
      engine.withClient(state.mode, operation(state, aggregate.fn), (sql) => {
        const dialect = engine.dialectOf(sql)
        const s = engine.selectOf(state, { columns: undefined })
        const statement = engine.compiled(
          state.info,
          dialect,
          `agg ${aggregate.fn} ${aggregate.column}|${Shape.selectShape(dialect, s)}`,
          () => Sql.aggregate(dialect, s, aggregate)
        )
        return Effect.map(
          CompiledStatement.run(sql, statement, engine.selectParams(dialect, s)),
          (rows) => {
            const row = rows[0] as Record<string, unknown> | undefined
            return row === undefined ? null : row.fastorm_value ?? null
          }
        )
      }))

/** SUM (0 over no rows), AVG (none over no rows), MIN and MAX (none over no rows, else decoded by the field). */
export const aggregate = (state: QueryState, fn: Aggregate["fn"], column: string | undefined) => {
  const value = aggregateValue(state, { fn, column })
  switch (fn) {
    case "count":
    case "sum":
      return Effect.map(value, (v) => v === null ? 0 : engine.toNumber(v))
    case "avg":
      return Effect.map(value, (v) => v === null ? Option.none() : Option.some(engine.toNumber(v)))
    default:
      return Effect.flatMap(value, (v) => {
        if (v === null) return Effect.succeedNone
        const decoded = state.info.column(column!).decode(v)
        return Either.isLeft(decoded) ? Effect.fail(decoded.left) : Effect.succeed(Option.some(decoded.right))
      })
  }
}

/** The order of pages: the query's, ended by the id column so that no two rows tie. */
export const stableOrders = (state: QueryState): QueryState["orders"] =>
  state.orders.some(([column]) => column === state.info.idColumn)
    ? state.orders
    : [...state.orders, [state.info.idColumn, "asc"]]

/** `columns` and the order columns (undefined: every column already). */
export const withColumns = (
  columns: ReadonlyArray<string> | undefined,
  orders: QueryState["orders"]
): ReadonlyArray<string> | undefined =>
  columns === undefined ? undefined : [...columns, ...orders.map(([c]) => c).filter((c) => !columns.includes(c))]

/** Whether the query already has a limit, offset or lock that a paging method sets itself or cannot honour. */
export const pagingProblem = (state: QueryState): string | undefined =>
  state.limit !== undefined || state.offset !== undefined
    ? "it sets its own limit and offset: remove limit() / offset()"
    : state.lock
    ? "it takes no row lock"
    : undefined

interface Page {
  readonly data: ReadonlyArray<any>
  readonly total: number
  readonly page: number
  readonly perPage: number
  readonly lastPage: number
}

/** A page of rows and the total, in one statement (one node, one snapshot). */
export const paginate = (state: QueryState, options: { readonly page: unknown; readonly perPage: unknown }) => {
  const checks = Either.all([
    validation.checkLimit("page", options?.page, 1),
    validation.checkLimit("perPage", options?.perPage, 1)
  ])
  const problem = pagingProblem(state)
  return Effect.zipRight(
    problem !== undefined
      ? Effect.fail(engine.invalid(state, "paginate", problem))
      : Either.isLeft(checks)
      ? Effect.fail(checks.left)
      : engine.guard(state),
    Effect.suspend((): Effect.Effect<
      Page,
      InvalidLimit | SqlError | MissingWriteConnection | ConnectionError | ParseError,
      ReadConnection | WriteConnection
    > => {
      const [page, perPage] = Either.getOrThrow(checks)
      const offset = (page - 1) * perPage
      if (!Number.isSafeInteger(offset)) return Effect.fail(new InvalidLimit({ kind: "page", value: page, minimum: 1 }))
      return engine.withClient(state.mode, operation(state, "paginate"), (sql) => {
        const dialect = engine.dialectOf(sql)
        const orders = stableOrders(state)
        // The outer query orders the page by its columns: the order columns are read even when `select` leaves them out.
        const s = engine.selectOf(state, {
          columns: withColumns(state.columns, orders),
          orders,
          limit: perPage,
          offset
        })
        const statement = engine.compiled(
          state.info,
          dialect,
          `paginate|${Shape.selectShape(dialect, s)}`,
          () => Sql.paginate(dialect, s)
        )
        // The conditions twice (the count's, then the page's), then the page's limit and offset.
        const params = Shape.conditionParams(dialect, s.conditions)
        Shape.conditionParams(dialect, s.conditions, params)
        Shape.limitParams(dialect, perPage, offset, params)
        return Effect.flatMap(CompiledStatement.run(sql, CompiledStatement.asArrays(statement), params), (rows) => {
          const total = rows.length === 0 ? 0 : engine.toNumber(RowArrays.columnReader(rows, "fastorm_total")(rows[0]))
          const paged = RowArrays.columnReader(rows, "fastorm_row")
          // The LEFT JOIN gives one row of the total alone (fastorm_row NULL) when the page is empty.
          const pageRows = RowArrays.filterRows(rows, (r) => {
            const marker = paged(r)
            return marker !== null && marker !== undefined
          })
          return Effect.map(state.info.decoderFor(state.columns)(pageRows), (data) => ({
            data,
            total,
            page,
            perPage,
            lastPage: Math.max(1, Math.ceil(total / perPage))
          }))
        })
      })
    })
  )
}
