/**
 * How one PostgreSQL node runs compiled statements (`CompiledStatement`): as named prepared statements, parsed once
 * per connection, unless `preparedStatements` says otherwise or, under `"auto"`, the node turned out to be behind a
 * pooler that shares server connections between clients (README, "Behind a connection pooler").
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { CompiledStatement } from "@fastorm/core"
import * as Effect from "effect/Effect"
import type Pg from "pg"

/** Runs one query on a connection and maps its result. */
export interface Run {
  <A>(query: Pg.QueryConfig, map: (result: any) => A): Effect.Effect<A, SqlError>
  /**
   * Asked after the failure of the statement `sql`, on an error path only: whether another try can run (`"retry"`,
   * the default: outside a transaction, or its BEGIN held back again), or not, the transaction aborted, with the
   * statement sent under its name (`"named"`) or without one (`"unnamed"`). A transaction's connection tells
   * (`pgReserved.ts`), from the statement itself: two statements of one transaction in flight at once each get their
   * own answer.
   */
  readonly afterFailure?: (sql: string) => "retry" | "named" | "unnamed"
}

/** A node's way of running compiled statements. */
export interface Prepared {
  /** Runs a compiled statement: named when the node prepares, unnamed otherwise. */
  readonly run: <A>(
    run: Run,
    statement: CompiledStatement.CompiledStatement,
    params: ReadonlyArray<unknown>,
    map: (result: any) => A
  ) => Effect.Effect<A, SqlError>
  /** Runs it unnamed, whatever the setting (inside transactions). */
  readonly unnamed: <A>(
    run: Run,
    statement: CompiledStatement.CompiledStatement,
    params: ReadonlyArray<unknown>,
    map: (result: any) => A
  ) => Effect.Effect<A, SqlError>
  /** True once a statement met a server connection shared with other clients (42P05 / 26000). */
  readonly sharedServers: () => boolean
}

const codeOf = (error: SqlError): unknown => (error.cause as { code?: unknown } | undefined)?.code

// A prepared plan is tied to the row type it was prepared for: after an ALTER TABLE the server refuses it
// ("cached plan must not change result type", 0A000). A new name prepares it afresh on every connection.
const isStalePlan = (error: SqlError) => codeOf(error) === "0A000"

/**
 * A prepared statement keeps the parameter types inferred when it was parsed. After `ALTER COLUMN ... TYPE` a value of
 * the new type can be refused against the old one (22003: 3 000 000 000 for a column now bigint, prepared as integer;
 * 22P02: "1.5" for one now numeric) or the old type against the column (42804, 42883, 42725); parsed afresh, the same
 * statement runs. The same codes also come from bad input, so only a run without the name tells them apart.
 */
const STALE_PARAMETER_CODES: ReadonlySet<unknown> = new Set(["22003", "22P02", "42804", "42883", "42725"])
const mayBeStaleParameters = (error: SqlError) => STALE_PARAMETER_CODES.has(codeOf(error))

/**
 * The signs of server connections shared between clients (a pooler in transaction mode): Parse refused because the
 * name exists there (42P05), or Bind refused because it does not (26000). Either way the statement never ran.
 */
const isSharedServerSign = (error: SqlError) => codeOf(error) === "42P05" || codeOf(error) === "26000"

/**
 * Whether `run` answers this failure with another try (a new name, or unnamed): the statement did not run. A
 * transaction whose BEGIN travelled with it is rolled back first, so that the try opens it again (`pgReserved.ts`).
 */
export const triesAgain = (error: SqlError): boolean =>
  isStalePlan(error) || isSharedServerSign(error) || mayBeStaleParameters(error)

// A statement that returns no rows: the plan has no result type to go stale (0A000 needs one).
const WRITE = /^\s*(?:INSERT|UPDATE|DELETE)\b/i
const RETURNING = /\bRETURNING\b/i

/**
 * Whether a transaction's later statement (one that does not carry its BEGIN) keeps its name. Refused there, it
 * would abort the caller's transaction before any retry could run, so only a statement that cannot be refused for
 * its name keeps it: one that returns no rows (no result type to go stale), on a connection that reaches PostgreSQL
 * itself (`direct`) or through a pooler said to keep prepared statements (`true`): no shared server to refuse its name
 * (42P05 / 26000). Left: its parameter types, which an `ALTER COLUMN ... TYPE` can make stale; that failure aborts the
 * caller's transaction once, and the statement's next run tells whether the name was the cause (`make`).
 */
export const keepsNameLater = (sql: string, direct: boolean, setting: boolean | "auto"): boolean =>
  (direct || setting === true) && WRITE.test(sql) && !RETURNING.test(sql)

/** The policy of one node; `startupRefused` tells whether a pooler already refused the startup parameters. */
export const make = (setting: boolean | "auto", startupRefused: () => boolean): Prepared => {
  const generations = new Map<string, number>()
  // Statements whose name failed as stale parameter types would, where no retry could run (a transaction's later
  // statement): their next run goes unnamed and tells whether the name is stale.
  const suspects = new Set<string>()
  let shared = false
  const namedQuery = (statement: CompiledStatement.CompiledStatement, params: ReadonlyArray<unknown>) => {
    const generation = generations.get(statement.name)
    const name = generation === undefined ? statement.name : `${statement.name}_${generation}`
    return statement.arrays === true
      ? { name, text: statement.sql, values: params as Array<any>, rowMode: "array" } as Pg.QueryConfig
      : { name, text: statement.sql, values: params as Array<any> }
  }
  const unnamed: Prepared["unnamed"] = (run, statement, params, map) =>
    run(
      statement.arrays === true
        ? { text: statement.sql, values: params as Array<any>, rowMode: "array" } as Pg.QueryConfig
        : { text: statement.sql, values: params as Array<any> },
      map
    )
  // "auto" prepares until the node turns out to be behind a pooler; then it stops for good.
  const prepares = () => setting === true || (setting === "auto" && !shared && !startupRefused())
  /** Refused at Parse (42P05) or Bind (26000), the statement never ran: running it again unnamed is safe. */
  const unshared: Prepared["run"] = (run, statement, params, map) => {
    shared = true
    return unnamed(run, statement, params, map)
  }
  const rename = (statement: CompiledStatement.CompiledStatement) =>
    generations.set(statement.name, (generations.get(statement.name) ?? 0) + 1)
  const renamed: Prepared["run"] = (run, statement, params, map) => {
    rename(statement)
    const again = run(namedQuery(statement, params), map)
    return setting === true
      ? again
      : Effect.catchIf(again, isSharedServerSign, () => unshared(run, statement, params, map))
  }
  /**
   * Runs it unnamed: if that succeeds where the name failed, the name's parameter types are stale and the next run
   * prepares it afresh under a new one; if it fails too, the input was bad and the name stays (no statement is
   * prepared for a failure, so bad input cannot pile them up in the session).
   */
  const probed: Prepared["run"] = (run, statement, params, map) => {
    suspects.delete(statement.name)
    return Effect.tap(unnamed(run, statement, params, map), () => rename(statement))
  }
  const staleParameters = <A>(
    error: SqlError,
    run: Run,
    statement: CompiledStatement.CompiledStatement,
    params: ReadonlyArray<unknown>,
    map: (result: any) => A
  ): Effect.Effect<A, SqlError> => {
    // A statement without parameters has no parameter types to go stale: the failure is its own.
    if (params.length === 0) return Effect.fail(error)
    const next = run.afterFailure?.(statement.sql) ?? "retry"
    if (next === "retry") return probed(run, statement, params, map)
    // Sent without its name, the name was not the cause: bad input.
    if (next === "named") suspects.add(statement.name)
    return Effect.fail(error)
  }
  // One handler for every outcome that calls for another try: one runtime step per statement, not several.
  const retried = (error: SqlError) =>
    isStalePlan(error) || mayBeStaleParameters(error) || (setting !== true && isSharedServerSign(error))
  return {
    run: (run, statement, params, map) => {
      if (!prepares()) return unnamed(run, statement, params, map)
      if (suspects.size > 0 && suspects.has(statement.name)) return probed(run, statement, params, map)
      return Effect.catchIf(
        run(namedQuery(statement, params), map),
        retried,
        (error) =>
          isStalePlan(error)
            ? renamed(run, statement, params, map)
            : mayBeStaleParameters(error)
            ? staleParameters(error, run, statement, params, map)
            : unshared(run, statement, params, map)
      )
    },
    unnamed,
    sharedServers: () => shared
  }
}
