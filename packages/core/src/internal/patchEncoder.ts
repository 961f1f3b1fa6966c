/**
 * How a repository encodes an update's patch: one encoder per set of patched columns (a struct schema built per call
 * costs more than the statement), and for patches of plain fields no Schema parser at all.
 */
import * as Either from "effect/Either"
import type { ParseError } from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { plainGuard } from "./fieldGuards.js"

type Row = Record<string, unknown>

/** Encodes one patch of a known set of columns. */
export type Encoder = (patch: Row) => Either.Either<any, ParseError>

/**
 * A patch whose fields all encode to themselves (numbers, strings, booleans, literals, `Int`...: no transformation)
 * is its own encoding once each value passes its field's guard: checked by the guards, without the Schema's parser
 * (2.4 % of an update's CPU in a profile). Any other patch, or a value a guard refuses, goes to `encode`, which
 * produces the usual error.
 */
export const plain = (
  keys: ReadonlyArray<string>,
  fields: Record<string, any>,
  encode: Encoder
): Encoder => {
  const guards: Array<(value: unknown) => boolean> = []
  for (const key of keys) {
    const guard = Schema.isSchema(fields[key]) ? plainGuard(fields[key].ast) : undefined
    if (guard === undefined) return encode
    guards.push(guard)
  }
  return (patch) => {
    for (let i = 0; i < keys.length; i++) {
      if (!guards[i]!(patch[keys[i]!])) return encode(patch)
    }
    return Either.right(patch)
  }
}

/** The encoders of one model's patches, by patched columns (at most 1 000 column sets kept). */
export const cache = () => {
  const encoders = new Map<string, Encoder>()
  return (keys: ReadonlyArray<string>, fields: Record<string, any>): Encoder => {
    const key = keys.join(",")
    let encoder = encoders.get(key)
    if (encoder === undefined) {
      if (encoders.size >= 1000) encoders.clear()
      encoder = plain(
        keys,
        fields,
        Schema.encodeUnknownEither(Schema.Struct(fields) as unknown as Schema.Schema<any, any, never>)
      )
      encoders.set(key, encoder)
    }
    return encoder
  }
}
