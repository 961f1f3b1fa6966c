/**
 * How one query is handed to pg, and what its outcome means for the connection it ran on: shared by the pooled
 * statements (`pgClient.ts`) and the reserved connections (`pgReserved.ts`).
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type Pg from "pg"
import type { Settle } from "./deadline.js"
import { timeoutError } from "./deadline.js"
import { keptQuery } from "./pgFields.js"
import { asArrays } from "./pgRows.js"

/** pg's query callback. */
export type Reply = (error: Error | null | undefined, result: any) => void

/** pg's client as `submit` calls it: a submittable (`pgBegin.ts`) gets the callback too, pg sets it when it has none. */
interface Queryable {
  query(query: Pg.QueryConfig | Pg.Query, callback: Reply): unknown
  query(text: string, values: ReadonlyArray<unknown> | undefined, callback: Reply): unknown
}

/**
 * The caller's result when it is already known though not yet replied (a write answered, what it carries after it
 * not): what a deadline delivers in place of a timeout.
 */
export type Answered = () => { readonly result: unknown } | undefined

/** Where `submit` sends a query: a pooled or reserved client, or a pipelined connection (`pgLane.ts`). */
export interface Target {
  /** Sends one query; `reply` gets its outcome (pg's callback). */
  readonly query: (query: Pg.QueryConfig | Pg.Query, reply: Reply) => void
  /** The caller's result, known before it is replied (`Answered`). */
  readonly answered?: Answered
}

/** pg's `Query` class, as the driver module exports it. */
export type QueryClass = typeof Pg.Query

/**
 * `config` as a pg `Query` built from its text and values, its result keeping its row description's work
 * (`pgFields.ts`), its name and array rows (`pgRows.ts`) set after: pg copies a configuration object property by
 * property (`cloneQueryConfig`, through property descriptors) on every query, but not a text (1.8 µs against 0.07 µs
 * a query, measured; 2 % of a write's CPU in a profile). Undefined where the configuration asks for more (its own
 * types, another row mode, a submittable) or this pg keeps array rows otherwise: then pg gets it as it is.
 */
export const fromText = (Query: QueryClass, config: Pg.QueryConfig, reply?: Reply): Pg.Query | undefined => {
  const c = config as Pg.QueryConfig & { readonly rowMode?: unknown; readonly submit?: unknown }
  if (c.types !== undefined || c.submit !== undefined || (c.rowMode !== undefined && c.rowMode !== "array")) {
    return undefined
  }
  const built = keptQuery(Query, c.text, c.values, reply) as Pg.Query & { name?: string }
  if (c.rowMode === "array" && !asArrays(built)) return undefined
  if (c.name !== undefined) built.name = c.name
  return built
}

/**
 * Hands one query to pg: a plain `{ text, values }` as the query pg would build from them, its result keeping its row
 * description's work (`pgFields.ts`); anything else as `fromText` builds it, or as it is.
 */
export const submit = (
  client: Pg.PoolClient | Target,
  query: Pg.QueryConfig | Pg.Query,
  reply: Reply,
  Query: QueryClass
) => {
  const config = query as Pg.QueryConfig & { readonly rowMode?: unknown; readonly submit?: unknown }
  if (
    config.name === undefined && config.rowMode === undefined && config.submit === undefined &&
    config.types === undefined
  ) {
    ;(client as Queryable).query(keptQuery(Query, config.text, config.values, reply), reply)
  } else {
    ;(client as Queryable).query(fromText(Query, config, reply) ?? query, reply)
  }
}

/**
 * A server answer (SQLSTATE) that leaves the connection usable; anything else retires it. Every SQLSTATE has a digit;
 * a socket's errno code of five letters (`EPIPE`, `EBADF`) is a lost connection, not a server's refusal.
 */
export const connectionSurvives = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && /[0-9]/.test(code) && !/^(08|57P)/.test(code)
}

/** The error of a checkout that failed. */
export const acquireError = (alias: string, cause: unknown): SqlError =>
  new SqlError({ cause, message: `Failed to acquire a connection to ${alias}` })

/** The bounds of one submitted statement. */
export interface Within<A> {
  readonly alias: string
  readonly deadlineMs: number
  readonly guard: Settle
  readonly Query: QueryClass
  /** The outcome when the deadline passes; default: the deadline's error (`timeoutError`). */
  readonly expired?: Effect.Effect<A, SqlError>
}

/**
 * Submits `query` under the client-side deadline and settles `guard` once: `resume` gets the outcome, `after` how the
 * connection came out of it first (an error: it must not serve anyone again; none: it may; `timedOut`: the deadline
 * passed with no answer, or with only the caller's own, `Target.answered`, which is then its outcome). Returns the
 * deadline's timer, for the canceller to clear.
 */
export const submitWithin = <A>(
  client: Pg.PoolClient | Target,
  query: Pg.QueryConfig | Pg.Query,
  map: (result: any) => A,
  within: Within<A>,
  resume: (outcome: Effect.Effect<A, SqlError>) => void,
  after: (broken: Error | undefined, timedOut: boolean) => void
): ReturnType<typeof setTimeout> => {
  const { alias, deadlineMs, guard } = within
  const timer = setTimeout(() => {
    if (!guard.claim()) return
    after(new Error("statement deadline passed"), true)
    const known = (client as Partial<Target>).answered?.()
    resume(
      known !== undefined
        ? Effect.succeed(map(known.result))
        : within.expired ?? Effect.fail(timeoutError(alias, deadlineMs))
    )
  }, deadlineMs)
  submit(client, query, (error, result) => {
    if (!guard.claim()) return
    clearTimeout(timer)
    if (error) {
      after(connectionSurvives(error) ? undefined : error, false)
      resume(Effect.fail(new SqlError({ cause: error, message: "Failed to execute statement" })))
    } else {
      after(undefined, false)
      resume(Effect.succeed(map(result)))
    }
  }, within.Query)
  return timer
}
