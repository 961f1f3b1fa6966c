/**
 * Writes by query: update, increment and delete of every matching row, returning how many rows they touched. They
 * run on `WriteConnection` like every write (so on the primary, recording the session's position, and inside a
 * transaction on its connection), and refuse a query without conditions unless it says `.all()`.
 */
import * as Effect from "effect/Effect"
import * as CompiledStatement from "../CompiledStatement.js"
import type { ValidationError } from "../Errors.js"
import { InvalidColumn, InvalidValue } from "../Errors.js"
import type { QueryState } from "./engine.js"
import * as engine from "./engine.js"
import type { Condition } from "./sql.js"
import * as Sql from "./sql.js"
import * as Shape from "./sqlShape.js"
import * as validation from "./validation.js"

/** The query's conditions, unless it has none and did not say `.all()`; limits are refused (not portable). */
const scope = (state: QueryState, operation: string): Effect.Effect<ReadonlyArray<Condition>, ValidationError> => {
  if (state.info.setupError !== undefined || state.error !== undefined) return Effect.as(engine.guard(state), [])
  if (state.conditions.length === 0 && !state.everything) {
    return Effect.fail(
      engine.invalid(state, operation, "no condition: add a where, or call .all() to mean every row")
    )
  }
  if (state.limit !== undefined || state.offset !== undefined) {
    return Effect.fail(engine.invalid(state, operation, "limit() and offset() do not apply to writes"))
  }
  return Effect.succeed(state.conditions)
}

/**
 * Runs a counting write and returns the driver's count of the rows it touched (pg `rowCount`, mysql2
 * `affectedRows`, better-sqlite3 `changes`): directly, prepared where the node prepares, when the client offers a
 * counting runner (CompiledStatement.runCounted), else through an ordinary @effect/sql statement.
 */
const runCounted = CompiledStatement.runCounted

/** Sets the patch's fields on every matching row; the number of rows. */
export const update = (state: QueryState, patch: unknown) =>
  Effect.gen(function*() {
    const conditions = yield* scope(state, "update")
    if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
      return yield* Effect.fail(
        new InvalidValue({ column: "(patch)", received: validation.describe(patch), reason: "expected an object" })
      )
    }
    const row = yield* state.info.encodePatch(patch as Record<string, unknown>)
    const set = Object.keys(row)
    if (set.length === 0) return yield* Effect.fail(engine.invalid(state, "update", "the patch sets no column"))
    return yield* engine.withWriter((sql) => {
      const dialect = engine.dialectOf(sql)
      const statement = engine.compiled(
        state.info,
        dialect,
        `update ${set.join(",")}|${Shape.conditionsShape(conditions)}`,
        () => Sql.update(dialect, state.info.table, set, conditions)
      )
      const params = set.map((c) => Shape.bindValue(dialect, row[c]))
      return runCounted(sql, statement, Shape.conditionParams(dialect, conditions, params))
    })
  })

/** Adds `by` to a numeric column of every matching row; the number of rows. */
export const increment = (state: QueryState, column: unknown, by: unknown) =>
  Effect.gen(function*() {
    const conditions = yield* scope(state, "increment")
    const name = yield* validation.checkColumn(state.info.table, state.info.columns, column)
    if (!state.info.updatable.has(name) || state.info.column(name).kind !== "number") {
      return yield* Effect.fail(
        new InvalidColumn({ table: state.info.table, column: name, reason: "not an updatable number field" })
      )
    }
    if (typeof by !== "number" || !Number.isFinite(by)) {
      return yield* Effect.fail(
        new InvalidValue({ column: name, received: validation.describe(by), reason: "expected a finite number" })
      )
    }
    return yield* engine.withWriter((sql) => {
      const dialect = engine.dialectOf(sql)
      const statement = engine.compiled(
        state.info,
        dialect,
        `increment ${name}|${Shape.conditionsShape(conditions)}`,
        () => Sql.increment(dialect, state.info.table, name, conditions)
      )
      return runCounted(sql, statement, Shape.conditionParams(dialect, conditions, [by]))
    })
  })

/** Deletes every matching row; the number of rows. */
export const delete_ = (state: QueryState) =>
  Effect.gen(function*() {
    const conditions = yield* scope(state, "delete")
    return yield* engine.withWriter((sql) => {
      const dialect = engine.dialectOf(sql)
      const statement = engine.compiled(
        state.info,
        dialect,
        `delete|${Shape.conditionsShape(conditions)}`,
        () => Sql.delete_(dialect, state.info.table, conditions)
      )
      return runCounted(sql, statement, Shape.conditionParams(dialect, conditions))
    })
  })
