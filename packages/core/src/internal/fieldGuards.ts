/**
 * Plain guards of field schemas: for a schema whose decoded value is its input (strings, numbers, booleans, literals,
 * their unions, `Int`), the check a value the driver already typed needs, as a function and, where it is a `typeof`
 * or a comparison, as JavaScript source for the generated row decoders (`rowDecoder.ts`). The repository's column
 * checks and patch encoder use the same guards.
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

/** A check of one value. */
export type Guard = (value: unknown) => boolean

const noIssue: AST.ParseOptions = {}

const isInt = (ast: AST.Refinement): boolean =>
  AST.isNumberKeyword(ast.from) && Option.getOrUndefined(AST.getSchemaIdAnnotation(ast)) === Schema.IntSchemaId

/** A guard for a schema whose decoded value is its input, or undefined when decoding may change the value. */
export const plainGuard = (ast: AST.AST): Guard | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return (v) => typeof v === "string"
    case "NumberKeyword":
      return (v) => typeof v === "number"
    case "BooleanKeyword":
      return (v) => typeof v === "boolean"
    case "BigIntKeyword":
      return (v) => typeof v === "bigint"
    case "UndefinedKeyword":
      return (v) => v === undefined
    case "Literal": {
      const literal = ast.literal
      return (v) => v === literal
    }
    case "Union": {
      const members: Array<Guard> = []
      for (const member of ast.types) {
        const guard = plainGuard(member)
        if (guard === undefined) return undefined
        members.push(guard)
      }
      return (v) => members.some((guard) => guard(v))
    }
    case "Refinement": {
      // `Int` is the common refinement of an id column: its filter is known, without its issue machinery.
      if (isInt(ast)) return (v) => Number.isSafeInteger(v)
      const from = plainGuard(ast.from)
      if (from === undefined) return undefined
      return (v) => from(v) && Option.isNone(ast.filter(v, noIssue, ast))
    }
    default:
      return undefined
  }
}

/**
 * The guard of `ast` as a JavaScript expression over `v` (which must be a plain identifier), for the schemas whose
 * check is a `typeof` or a comparison; undefined for the others, which call their guard.
 */
export const guardSource = (ast: AST.AST, v: string): string | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return `typeof ${v} === "string"`
    case "NumberKeyword":
      return `typeof ${v} === "number"`
    case "BooleanKeyword":
      return `typeof ${v} === "boolean"`
    case "BigIntKeyword":
      return `typeof ${v} === "bigint"`
    case "Literal":
      return typeof ast.literal === "bigint" ? undefined : `${v} === ${JSON.stringify(ast.literal)}`
    case "Union": {
      const members: Array<string> = []
      for (const member of ast.types) {
        const source = guardSource(member, v)
        if (source === undefined) return undefined
        members.push(`(${source})`)
      }
      return members.join(" || ")
    }
    case "Refinement":
      return isInt(ast) ? `Number.isSafeInteger(${v})` : undefined
    default:
      return undefined
  }
}
