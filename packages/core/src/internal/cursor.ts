/**
 * Keyset pagination: a page of rows after a cursor, and the cursor of the next page. A cursor is opaque to its
 * holder but not secret: the order columns' values of the page's last row, the query's fingerprint (table, order
 * columns and directions) and a checksum, in base64url. A cursor that was altered, cut, or made by another query
 * is an `InvalidCursor`; its values must decode by their columns' fields before they are bound. A cursor forged
 * with valid values can only start a page where paging could have reached anyway.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { ParseError } from "effect/ParseResult"
import * as CompiledStatement from "../CompiledStatement.js"
import type { ReadConnection, WriteConnection } from "../Connections.js"
import type { ConnectionError, InvalidQuery, MissingWriteConnection, ValidationError } from "../Errors.js"
import { InvalidCursor } from "../Errors.js"
import type { QueryState } from "./engine.js"
import * as engine from "./engine.js"
import * as reads from "./reads.js"
import * as RowArrays from "./rowArrays.js"
import type { Condition } from "./sql.js"
import * as Sql from "./sql.js"
import * as Shape from "./sqlShape.js"
import * as validation from "./validation.js"

const VERSION = 1

/** FNV-1a, 32 bits, as 8 hex digits: enough to tell an altered or foreign cursor, not a secret. */
const fnv = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash.toString(16).padStart(8, "0")
}

/** The fingerprint of a keyset query: a cursor of another table or order is refused. */
export const fingerprint = (table: string, orders: ReadonlyArray<readonly [string, "asc" | "desc"]>): string =>
  fnv(`${table}|${orders.map(([c, d]) => `${c} ${d}`).join(",")}`)

/** Values as JSON can carry them: Dates, bigints and bytes tagged. */
const toJson = (value: unknown): unknown => {
  if (value instanceof Date) return { d: value.toISOString() }
  if (typeof value === "bigint") return { b: value.toString() }
  if (value instanceof Uint8Array) return { u: Buffer.from(value).toString("base64") }
  return value
}

const fromJson = (value: unknown): unknown => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value
  const tagged = value as Record<string, unknown>
  const keys = Object.keys(tagged)
  if (keys.length !== 1) return undefined
  if (typeof tagged.d === "string") return new Date(tagged.d)
  if (typeof tagged.b === "string" && /^-?\d+$/.test(tagged.b)) return BigInt(tagged.b)
  if (typeof tagged.u === "string") return new Uint8Array(Buffer.from(tagged.u, "base64"))
  return undefined
}

/** The cursor of the row whose order values are `values`. */
export const encode = (print: string, values: ReadonlyArray<unknown>): string => {
  const payload = JSON.stringify([VERSION, print, values.map(toJson)])
  return Buffer.from(`${payload}${fnv(payload)}`, "utf8").toString("base64url")
}

/** The order values a cursor holds, or why it is refused. */
export const decode = (
  print: string,
  arity: number,
  cursor: unknown
): Either.Either<ReadonlyArray<unknown>, string> => {
  if (typeof cursor !== "string") return Either.left(`expected a string, got ${validation.describe(cursor)}`)
  // A cursor of a few columns is short; a long one did not come from here.
  if (cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return Either.left("not a cursor of this query")
  const bytes = Buffer.from(cursor, "base64url")
  const text = bytes.toString("utf8")
  const payload = text.slice(0, -8)
  // Only the one spelling this module writes: base64 tolerates other bits in a last character.
  if (bytes.toString("base64url") !== cursor || text.length <= 8 || fnv(payload) !== text.slice(-8)) {
    return Either.left("altered or truncated")
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch {
    return Either.left("altered or truncated")
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== VERSION) return Either.left("unknown format")
  if (parsed[1] !== print) return Either.left("made by another query (table or order)")
  const values = parsed[2]
  if (!Array.isArray(values) || values.length !== arity) return Either.left("made by another query (table or order)")
  const out = values.map(fromJson)
  return out.some((v) => v === undefined || v === null) ? Either.left("unknown value") : Either.right(out)
}

/**
 * Rows after the given values in this order: `(a > ?) OR (a = ? AND b > ?) OR ...`, `<` for descending columns.
 * Written out rather than as a row comparison, which cannot mix directions.
 */
export const after = (
  orders: ReadonlyArray<readonly [string, "asc" | "desc"]>,
  values: ReadonlyArray<validation.Value>
): Condition => {
  const branches: Array<Condition> = orders.map(([column, direction], i) => ({
    _tag: "Group",
    connector: "OR",
    not: false,
    conditions: [
      ...orders.slice(0, i).map(([c], j): Condition => ({
        _tag: "Compare",
        connector: "AND",
        column: c,
        operator: "=",
        value: values[j]!
      })),
      { _tag: "Compare", connector: "AND", column, operator: direction === "asc" ? ">" : "<", value: values[i]! }
    ]
  }))
  return { _tag: "Group", connector: "AND", not: false, conditions: branches }
}

/** A page after `options.after` (the first page without it) and the cursor of the next page, if there is one. */
export const page = (
  state: QueryState,
  options: { readonly after?: unknown; readonly limit: unknown }
): Effect.Effect<
  { readonly data: ReadonlyArray<any>; readonly next: Option.Option<string> },
  ValidationError | InvalidCursor | SqlError | ParseError | MissingWriteConnection | ConnectionError,
  ReadConnection | WriteConnection
> => {
  const table = state.info.table
  const orders = reads.stableOrders(state)
  const print = fingerprint(table, orders)
  const limit = validation.checkLimit("limit", options?.limit, 1)
  const problem = reads.pagingProblem(state)
  const start = (): Either.Either<ReadonlyArray<validation.Value> | undefined, InvalidCursor> => {
    if (options?.after === undefined) return Either.right(undefined)
    const values = decode(print, orders.length, options.after)
    if (Either.isLeft(values)) return Either.left(new InvalidCursor({ table, reason: values.left }))
    const bound: Array<validation.Value> = []
    for (let i = 0; i < orders.length; i++) {
      const column = orders[i]![0]
      const value = values.right[i]
      // Decoded as a row's value would be: a cursor carries values of the driver's kind for this column.
      const checked = Either.flatMap(
        Either.mapLeft(state.info.column(column).decode(value), () => `not a value of ${column}`),
        () => Either.mapLeft(validation.checkValue(column, value), () => `not a value of ${column}`)
      )
      if (Either.isLeft(checked)) return Either.left(new InvalidCursor({ table, reason: checked.left }))
      bound.push(checked.right)
    }
    return Either.right(bound)
  }
  // A NULL is neither before nor after a value: rows with a NULL order value would be skipped without a word.
  const nullable = orders.find(([c]) => state.info.column(c).nullable)
  // Every check is pure: a query that fails one fails before anything runs, in this order.
  const failure = problem !== undefined
    ? engine.invalid(state, "cursor", problem)
    : nullable !== undefined
    ? engine.invalid(state, "cursor", `keyset pagination needs non-null order columns; ${nullable[0]} can be null`)
    : undefined
  if (failure !== undefined) return Effect.fail(failure)
  if (Either.isLeft(limit)) return Effect.fail(limit.left)
  const size = limit.right
  const invalid = engine.problemOf(state)
  if (invalid !== undefined) return Effect.fail(invalid)
  const started = start()
  if (Either.isLeft(started)) return Effect.fail(started.left)
  const from = started.right
  // The query's own conditions stay together whatever their connectors: (theirs) AND (after the cursor).
  const conditions: ReadonlyArray<Condition> = from === undefined
    ? state.conditions
    : [
      ...(state.conditions.length > 0
        ? [{ _tag: "Group", connector: "AND", not: false, conditions: state.conditions } as const]
        : []),
      after(orders, from)
    ]
  // The order columns are read even when `select` leaves them out: the next cursor is made of them.
  const columns = reads.withColumns(state.columns, orders)
  return engine.withClient(state.mode, `${table}.cursor`, (sql) => {
    const dialect = engine.dialectOf(sql)
    const s = engine.selectOf(state, { conditions, columns, orders, limit: size + 1 })
    const statement = engine.compiled(
      state.info,
      dialect,
      `select|${Shape.selectShape(dialect, s)}`,
      () => Sql.select(dialect, s)
    )
    return Effect.flatMap(
      CompiledStatement.run(sql, CompiledStatement.asArrays(statement), engine.selectParams(dialect, s)),
      (rows): Effect.Effect<
        { readonly data: ReadonlyArray<any>; readonly next: Option.Option<string> },
        InvalidQuery | ParseError
      > => {
        const pageRows = RowArrays.sliceRows(rows, 0, size)
        let next: Option.Option<string> = Option.none()
        if (rows.length > size) {
          const last = pageRows[pageRows.length - 1]
          const values = orders.map(([c]) => RowArrays.columnReader(rows, c)(last))
          const nullAt = values.findIndex((v) => v === null || v === undefined)
          if (nullAt >= 0) {
            return Effect.fail(
              engine.invalid(
                state,
                "cursor",
                `keyset pagination needs non-null order columns (${orders[nullAt]![0]})`
              )
            )
          }
          next = Option.some(encode(print, values))
        }
        return Effect.map(state.info.decoderFor(state.columns)(pageRows), (data) => ({ data, next }))
      }
    )
  })
}
