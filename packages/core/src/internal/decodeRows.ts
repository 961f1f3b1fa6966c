/**
 * Rows as the driver returned them decoded into a model's instances: by the model's compiled fast path
 * (`rowDecoder.ts`) where every field allows it, else by its Schema (BENCHMARKS.md, lever 2).
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { ParseError } from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as CompiledStatement from "../CompiledStatement.js"
import * as RowDecoder from "./rowDecoder.js"

/** Decodes rows as the driver returned them. */
export type RowsDecoder = (rows: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<any>, ParseError>

/** Whether a parse failed only because a schema needs to run asynchronously. */
const isAsyncOnly = (error: ParseError): boolean => {
  const visit = (issue: any): boolean =>
    issue?._tag === "Forbidden" ||
    (Array.isArray(issue?.issues) ? issue.issues.some(visit) : issue?.issues !== undefined && visit(issue.issues)) ||
    (issue?.issue !== undefined && visit(issue.issue))
  return visit(error.issue)
}

/**
 * Rows decoded by the model's compiled fast path (`rowDecoder.ts`), else synchronously by its Schema, falling back to
 * the Effect decoder only for schemas that need it.
 */
export const makeDecodeRows = (schema: Schema.Schema.AnyNoContext): RowsDecoder => {
  const array = Schema.Array(schema) as unknown as Schema.Schema<ReadonlyArray<any>, ReadonlyArray<unknown>, never>
  const sync = Schema.decodeUnknownEither(array)
  const async = Schema.decodeUnknown(array)
  const fast = RowDecoder.compile(schema)
  const fastArrays = RowDecoder.compileArrays(schema)
  const fastly = (decode: RowDecoder.FastRow | undefined, rows: ReadonlyArray<unknown>) => {
    if (decode === undefined) return undefined
    const out = new Array(rows.length)
    for (let i = 0; i < rows.length; i++) {
      const row = decode(rows[i])
      if (row === undefined) return undefined
      out[i] = row
    }
    return out
  }
  return (given) => {
    if (given.length === 0) return Effect.succeed([])
    // Rows given as arrays (`CompiledStatement.asArrays`): read by column, else made objects for what follows.
    const columns = CompiledStatement.columnsOf(given)
    if (columns !== undefined) {
      const out = fastly(fastArrays?.(columns), given)
      if (out !== undefined) return Effect.succeed(out)
    }
    const rows = columns === undefined ? given : CompiledStatement.rowObjects(given)
    const out = fastly(fast, rows)
    if (out !== undefined) return Effect.succeed(out)
    const decoded = sync(rows)
    if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
    return isAsyncOnly(decoded.left) ? async(rows) : Effect.fail(decoded.left)
  }
}
