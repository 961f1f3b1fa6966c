/**
 * What a connection pooler in front of PostgreSQL says about itself (README, "Behind a connection pooler").
 * PgBouncer answers every one of its own refusals with SQLSTATE 08P01 and a fixed text, so the text tells them apart:
 * a full pool is not a dead node, a server the pooler cannot reach is, a refused login is a login.
 */

/** One of PgBouncer's own answers, read from its text. */
export type PoolerAnswer =
  /** A startup parameter the pooler does not know (`statement_timeout`, `options`, ...): the connection is refused. */
  | { readonly _tag: "UnsupportedStartupParameter"; readonly parameter: string; readonly text: string }
  /** No connection free: the pooler's client limit, or a wait for a server connection that timed out. */
  | { readonly _tag: "Busy"; readonly text: string }
  /** The pooler cannot open a connection to the server behind it. */
  | { readonly _tag: "ServerUnreachable"; readonly text: string }
  /** The pooler refused our login itself (it checks passwords before any server is involved). */
  | { readonly _tag: "LoginRefused"; readonly text: string }

/** PgBouncer's own SQLSTATE: protocol_violation. */
const POOLER_STATE = "08P01"

type Rule = readonly [RegExp, (match: RegExpMatchArray, text: string) => PoolerAnswer]

// PgBouncer 1.18 to 1.24 texts; anything else under 08P01 is left to the SQLSTATE (a lost connection).
const rules: ReadonlyArray<Rule> = [
  [
    /^unsupported startup parameter(?: in options)?: ([^=\s]+)/i,
    (m, text) => ({ _tag: "UnsupportedStartupParameter", parameter: m[1]!, text })
  ],
  [/^no more connections allowed/i, (_, text) => ({ _tag: "Busy", text })],
  [/^query_wait_timeout/i, (_, text) => ({ _tag: "Busy", text })],
  [/^server login has been failing/i, (_, text) => ({ _tag: "ServerUnreachable", text })],
  [/^pgbouncer cannot connect to server/i, (_, text) => ({ _tag: "ServerUnreachable", text })],
  [/^client_login_timeout \(server down\)/i, (_, text) => ({ _tag: "ServerUnreachable", text })],
  [/^(SASL|password) authentication failed/i, (_, text) => ({ _tag: "LoginRefused", text })]
]

/** The pooler's answer one error object carries (a pg error with SQLSTATE 08P01 and a known text), if any. */
export const answerOf = (error: unknown): PoolerAnswer | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  const { code, message } = error as { readonly code?: unknown; readonly message?: unknown }
  if (code !== POOLER_STATE || typeof message !== "string") return undefined
  for (const [pattern, make] of rules) {
    const match = message.match(pattern)
    if (match !== null) return make(match, message)
  }
  return undefined
}

/** The first pooler answer in a cause chain (`cause`, `AggregateError.errors`), outermost first. */
export const findAnswer = (cause: unknown): PoolerAnswer | undefined => {
  const seen = new Set<unknown>()
  const visit = (u: unknown, depth: number): PoolerAnswer | undefined => {
    if (typeof u !== "object" || u === null || seen.has(u) || depth > 8) return undefined
    seen.add(u)
    const found = answerOf(u)
    if (found !== undefined) return found
    const record = u as { readonly cause?: unknown; readonly errors?: unknown }
    const inner = [record.cause, ...(Array.isArray(record.errors) ? record.errors : [])]
    for (const next of inner) {
      const deeper = visit(next, depth + 1)
      if (deeper !== undefined) return deeper
    }
    return undefined
  }
  return visit(cause, 0)
}

/** True when a connection was refused for a startup parameter: nothing was sent, connecting without it is safe. */
export const refusedStartupParameter = (error: unknown): boolean =>
  answerOf(error)?._tag === "UnsupportedStartupParameter"
