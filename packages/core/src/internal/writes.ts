/**
 * Writes by query: update, increment and delete of every matching row, returning how many rows they touched. They
 * run on `WriteConnection` like every write (so on the primary, recording the session's position, and inside a
 * transaction on its connection), and refuse a query without conditions unless it says `.all()`.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type { ParseError } from "effect/ParseResult"
import * as CompiledStatement from "../CompiledStatement.js"
import type { WriteConnection } from "../Connections.js"
import type { ConnectionError, ValidationError } from "../Errors.js"
import { InvalidColumn, InvalidValue } from "../Errors.js"
import type { QueryState } from "./engine.js"
import * as engine from "./engine.js"
import * as Sql from "./sql.js"
import * as Shape from "./sqlShape.js"
import * as validation from "./validation.js"

/** A write by query: the number of rows it touched, or why it did not run. */
type Counted = Effect.Effect<number, ValidationError | ParseError | SqlError | ConnectionError, WriteConnection>

/**
 * Why the query cannot write, if it cannot: a validation error, no condition without `.all()`, or a limit (not
 * portable). Pure, so each write checks before touching a connection without an effect step of its own.
 */
const scopeProblem = (state: QueryState, operation: string): ValidationError | undefined => {
  const problem = engine.problemOf(state)
  if (problem !== undefined) return problem
  if (state.conditions.length === 0 && !state.everything) {
    return engine.invalid(state, operation, "no condition: add a where, or call .all() to mean every row")
  }
  if (state.limit !== undefined || state.offset !== undefined) {
    return engine.invalid(state, operation, "limit() and offset() do not apply to writes")
  }
  return undefined
}

/**
 * Runs a counting write and returns the driver's count of the rows it touched (pg `rowCount`, mysql2
 * `affectedRows`, better-sqlite3 `changes`): directly, prepared where the node prepares, when the client offers a
 * counting runner (CompiledStatement.runCounted), else through an ordinary @effect/sql statement.
 */
const runCounted = CompiledStatement.runCounted

/** Sets the patch's fields on every matching row; the number of rows. */
export const update = (state: QueryState, patch: unknown): Counted => {
  // Combinators, not a generator: this is the hot path of every update by query (bench:micro "where(id).update").
  const problem = scopeProblem(state, "update")
  if (problem !== undefined) return Effect.fail(problem)
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
    return Effect.fail(
      new InvalidValue({ column: "(patch)", received: validation.describe(patch), reason: "expected an object" })
    )
  }
  const conditions = state.conditions
  return engine.encodedThen(state.info.encodePatch(patch as Record<string, unknown>), (row): Counted => {
    const set = Object.keys(row)
    if (set.length === 0) return Effect.fail(engine.invalid(state, "update", "the patch sets no column"))
    return engine.withWriter((sql) => {
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
}

/** Adds `by` to a numeric column of every matching row; the number of rows. */
export const increment = (state: QueryState, column: unknown, by: unknown): Counted => {
  const problem = scopeProblem(state, "increment")
  if (problem !== undefined) return Effect.fail(problem)
  const conditions = state.conditions
  return Effect.flatMap(validation.checkColumn(state.info.table, state.info.columns, column), (name): Counted => {
    if (!state.info.updatable.has(name) || state.info.column(name).kind !== "number") {
      return Effect.fail(
        new InvalidColumn({ table: state.info.table, column: name, reason: "not an updatable number field" })
      )
    }
    if (typeof by !== "number" || !Number.isFinite(by)) {
      return Effect.fail(
        new InvalidValue({ column: name, received: validation.describe(by), reason: "expected a finite number" })
      )
    }
    return engine.withWriter((sql) => {
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
}

/** Deletes every matching row; the number of rows. */
export const delete_ = (state: QueryState): Counted => {
  const problem = scopeProblem(state, "delete")
  if (problem !== undefined) return Effect.fail(problem)
  const conditions = state.conditions
  return engine.withWriter((sql) => {
    const dialect = engine.dialectOf(sql)
    const statement = engine.compiled(
      state.info,
      dialect,
      `delete|${Shape.conditionsShape(conditions)}`,
      () => Sql.delete_(dialect, state.info.table, conditions)
    )
    return runCounted(sql, statement, Shape.conditionParams(dialect, conditions))
  })
}
