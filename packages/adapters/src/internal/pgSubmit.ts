/**
 * How one query is handed to pg, and what its outcome means for the connection it ran on: shared by the pooled
 * statements (`pgClient.ts`) and the reserved connections (`pgReserved.ts`).
 */
import { SqlError } from "@effect/sql/SqlError"
import type Pg from "pg"

/** pg's query callback. */
export type Reply = (error: Error | null, result: any) => void

/** pg's client as `submit` calls it: a submittable (`pgBegin.ts`) gets the callback too, pg sets it when it has none. */
interface Queryable {
  query(query: Pg.QueryConfig | Pg.Query, callback: Reply): unknown
  query(text: string, values: ReadonlyArray<unknown> | undefined, callback: Reply): unknown
}

/**
 * Hands one query to pg. A plain `{ text, values }` goes as text and values: pg copies a configuration object
 * property by property (`cloneQueryConfig`, through property descriptors) on every query, but not a string.
 */
export const submit = (client: Pg.PoolClient, query: Pg.QueryConfig | Pg.Query, reply: Reply): void => {
  const config = query as Pg.QueryConfig & { readonly rowMode?: unknown; readonly submit?: unknown }
  if (config.submit === undefined && config.name === undefined && config.rowMode === undefined) {
    ;(client as Queryable).query(config.text, config.values, reply)
  } else {
    ;(client as Queryable).query(query, reply)
  }
}

/** A server answer (SQLSTATE) that leaves the connection usable; anything else retires it. */
export const connectionSurvives = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && !/^(08|57P)/.test(code)
}

/** The error of a checkout that failed. */
export const acquireError = (alias: string, cause: unknown): SqlError =>
  new SqlError({ cause, message: `Failed to acquire a connection to ${alias}` })
