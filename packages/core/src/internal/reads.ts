/**
 * The reads of the query builder: rows, counts, aggregates, groups, pages and streams. Each one renders its SQL once
 * per shape and dialect and runs it on the client `engine.withClient` picks, so each is routed like every read.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import * as Stream from "effect/Stream"
import * as CompiledStatement from "../CompiledStatement.js"
import { ReadConnection, WriteConnection, WriteOnly } from "../Connections.js"
import type { ConnectionError } from "../Errors.js"
import { connectionErrorOf, InvalidLimit, MissingWriteConnection } from "../Errors.js"
import type { QueryState } from "./engine.js"
import * as engine from "./engine.js"
import type { Aggregate, Having, Select } from "./sql.js"
import * as Sql from "./sql.js"
import * as validation from "./validation.js"

const operation = (state: QueryState, name: string) => `${state.info.table}.${name}`

/** All matching rows, decoded (by the selected fields after a `select`). */
export const get = (state: QueryState) =>
  Effect.zipRight(
    engine.guard(state),
    engine.withClient(state.mode, operation(state, "get"), (sql) =>
      Effect.flatMap(
        engine.runSelect(sql, state.info, engine.selectOf(state)),
        state.info.decoderFor(state.columns)
      ))
  )

/** The first matching row in the query's order (or in `orders`). */
export const first = (state: QueryState, orders?: QueryState["orders"]) =>
  Effect.zipRight(
    engine.guard(state),
    engine.withClient(state.mode, operation(state, "first"), (sql) => {
      const s = engine.selectOf(state, {
        limit: Math.min(1, state.limit ?? 1),
        ...(orders !== undefined ? { orders } : {})
      })
      return Effect.flatMap(
        engine.runSelect(sql, state.info, s),
        (rows) =>
          rows.length === 0
            ? Effect.succeedNone
            : Effect.map(state.info.decoderFor(state.columns)(rows.slice(0, 1)), (decoded) => Option.some(decoded[0]))
      )
    })
  )

/** How many rows match (honouring limit and offset). */
export const count = (state: QueryState) =>
  Effect.zipRight(
    engine.guard(state),
    engine.withClient(state.mode, operation(state, "count"), (sql) => {
      const dialect = engine.dialectOf(sql)
      const s = engine.selectOf(state, { columns: undefined, lock: false })
      const statement = engine.compiled(
        state.info,
        dialect,
        `count|${Sql.selectShape(dialect, s)}`,
        () => Sql.count(dialect, s)
      )
      return Effect.map(CompiledStatement.run(sql, statement, engine.selectParams(dialect, s)), engine.firstNumber)
    })
  )

/** Whether any row matches. */
export const exists = (state: QueryState) =>
  Effect.zipRight(
    engine.guard(state),
    engine.withClient(state.mode, operation(state, "exists"), (sql) => {
      const dialect = engine.dialectOf(sql)
      const s = engine.selectOf(state, { columns: undefined, orders: [], limit: 1, lock: false })
      const statement = engine.compiled(
        state.info,
        dialect,
        `exists|${Sql.selectShape(dialect, s)}`,
        () => Sql.exists(dialect, s)
      )
      return Effect.map(
        CompiledStatement.run(sql, statement, engine.selectParams(dialect, s)),
        (rows) => rows.length > 0
      )
    })
  )

/** One column of every matching row, decoded by its field. */
export const pluck = (state: QueryState, column: string) =>
  Effect.zipRight(
    engine.guard(state),
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
      ))
  )

/** The raw value of one aggregate over the matching rows. */
const aggregateValue = (state: QueryState, aggregate: Aggregate) =>
  Effect.zipRight(
    state.lock
      ? Effect.fail(engine.invalid(state, aggregate.fn, "an aggregate takes no row lock"))
      : engine.guard(state),
    engine.withClient(state.mode, operation(state, aggregate.fn), (sql) => {
      const dialect = engine.dialectOf(sql)
      const s = engine.selectOf(state, { columns: undefined })
      const statement = engine.compiled(
        state.info,
        dialect,
        `agg ${aggregate.fn} ${aggregate.column}|${Sql.selectShape(dialect, s)}`,
        () => Sql.aggregate(dialect, s, aggregate)
      )
      return Effect.map(
        CompiledStatement.run(sql, statement, engine.selectParams(dialect, s)),
        (rows) => {
          const row = rows[0] as Record<string, unknown> | undefined
          return row === undefined ? null : row.fastorm_value ?? null
        }
      )
    })
  )

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
  }|${Sql.selectShape(dialect, s)}`

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
export const grouped = (g: GroupState) => {
  const state = g.query
  return Effect.zipRight(
    state.lock
      ? Effect.fail(engine.invalid(state, "groupBy", "a grouped query takes no row lock"))
      : engine.guard(state),
    engine.withClient(state.mode, operation(state, "groupBy"), (sql) => {
      const dialect = engine.dialectOf(sql)
      const s = engine.selectOf(state, { columns: undefined })
      const plan: Sql.Grouped = { select: s, groups: g.groups, aggregates: g.aggregates, having: g.having }
      const statement = engine.compiled(
        state.info,
        dialect,
        groupShape(dialect, g, s),
        () => Sql.grouped(dialect, plan)
      )
      const params = Sql.limitParams(
        dialect,
        s.limit,
        s.offset,
        Sql.havingParams(dialect, g.having, Sql.conditionParams(dialect, s.conditions))
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
    })
  )
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
          `paginate|${Sql.selectShape(dialect, s)}`,
          () => Sql.paginate(dialect, s)
        )
        // The conditions twice (the count's, then the page's), then the page's limit and offset.
        const params = Sql.conditionParams(dialect, s.conditions)
        Sql.conditionParams(dialect, s.conditions, params)
        Sql.limitParams(dialect, perPage, offset, params)
        return Effect.flatMap(CompiledStatement.run(sql, statement, params), (rows) => {
          const total = engine.toNumber(rows[0]?.fastorm_total ?? 0)
          const pageRows = rows.filter((r) => r.fastorm_row !== null && r.fastorm_row !== undefined)
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

/** The client a stream runs on, chosen as `engine.withClient` chooses. */
const streamClient = (
  mode: "read" | "write",
  name: string
): Effect.Effect<SqlClient.SqlClient, MissingWriteConnection, ReadConnection | WriteConnection> => {
  if (mode === "write") return WriteConnection
  return Effect.withFiberRuntime((fiber) => {
    const context = fiber.currentContext
    if (!Context.get(context, WriteOnly)) return ReadConnection
    const client = Context.getOption(context, WriteConnection)
    return Option.isSome(client)
      ? Effect.succeed(client.value)
      : Effect.fail(new MissingWriteConnection({ operation: name }))
  })
}

/**
 * Matching rows as a stream, read through a server-side cursor (pg-cursor, mysql2's row stream, SQLite's
 * iteration), decoded chunk by chunk. Placed like any read, but never retried: rows already delivered cannot be
 * taken back (README, "Routing").
 */
export const stream = (state: QueryState) => {
  const name = operation(state, "stream")
  return Stream.unwrap(
    Effect.zipRight(
      engine.guard(state),
      Effect.map(streamClient(state.mode, name), (sql) => {
        const dialect = engine.dialectOf(sql)
        const s = engine.selectOf(state)
        const statement = engine.compiled(
          state.info,
          dialect,
          `select|${Sql.selectShape(dialect, s)}`,
          () => Sql.select(dialect, s)
        )
        const decode = state.info.decoderFor(state.columns)
        const rows = sql.unsafe(statement.sql, engine.selectParams(dialect, s)).stream.pipe(
          Stream.mapChunksEffect((chunk) => Effect.map(decode(Chunk.toReadonlyArray(chunk)), Chunk.unsafeFromArray))
        )
        const forced = state.mode === "write" ? Stream.provideService(rows, WriteOnly, true) : rows
        return Stream.catchAll(forced, (error) => {
          const lifted = connectionErrorOf(error)
          return Stream.fail(Option.isSome(lifted) ? lifted.value : error)
        })
      })
    )
  )
}
