/**
 * Row decoding compiled once per model (or per selected columns): the driver already typed what it returns, so a
 * field whose schema has no transformation (strings, numbers, booleans, literals, their unions and refinements such
 * as `Int`) is only checked with a plain guard, a field with a transformation (dates, numbers from strings, options)
 * is decoded by its own schema, and the model instance is built without validating the fields a second time (what
 * the model's Schema does once its fields are decoded). Whatever the fast path does not accept (a missing column, a
 * value of the wrong type, a property signature) goes back to the model's Schema, which decides and reports.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

/** A row's decoded value, or `undefined` when the model's Schema must decide. */
export type FastRow = (row: unknown) => unknown

type Guard = (value: unknown) => boolean

const noIssue: ParseOptions = {}
type ParseOptions = AST.ParseOptions

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
      const from = plainGuard(ast.from)
      if (from === undefined) return undefined
      return (v) => from(v) && Option.isNone(ast.filter(v, noIssue, ast))
    }
    default:
      return undefined
  }
}

/** How one field is read from a row: checked as it is, or decoded by its schema. */
type Field =
  | { readonly key: string; readonly guard: Guard; readonly decode?: undefined }
  | {
    readonly key: string
    readonly guard?: undefined
    readonly decode: (value: unknown) => Either.Either<unknown, ParseResult.ParseError>
  }

const fieldsOf = (fields: Record<string, unknown>): Array<Field> | undefined => {
  const out: Array<Field> = []
  for (const key of Object.keys(fields)) {
    const field = fields[key]
    // Property signatures (optional keys, defaults, renames) stay with the Schema.
    if (!Schema.isSchema(field)) return undefined
    const guard = plainGuard(field.ast)
    out.push(
      guard !== undefined
        ? { key, guard }
        : { key, decode: Schema.decodeUnknownEither(field as Schema.Schema<unknown, unknown, never>) }
    )
  }
  return out
}

/**
 * The fast decoder of a model class (`Model.Class` / `Schema.Class`: an instance built from the decoded fields) or of
 * a struct (a plain object); undefined when the schema is neither.
 */
export const compile = (schema: Schema.Schema.AnyNoContext): FastRow | undefined => {
  const fieldMap = (schema as { fields?: Record<string, unknown> }).fields
  if (fieldMap === undefined || typeof fieldMap !== "object") return undefined
  const ast: AST.AST = schema.ast
  const isClass = typeof schema === "function" && AST.isTransformation(ast) && AST.isDeclaration(ast.to)
  const isStruct = AST.isTypeLiteral(ast) && ast.indexSignatures.length === 0
  if (!isClass && !isStruct) return undefined
  const fields = fieldsOf(fieldMap)
  if (fields === undefined) return undefined
  const Class = schema as unknown as new(props: Record<string, unknown>, disableValidation: boolean) => object
  const proto: object | null = isClass ? Class.prototype : null
  // Whether an instance is the class's prototype with the fields assigned, as its constructor builds it (the
  // constructor then costs more than the decoding): decided on the first row, by building it both ways.
  let direct = false
  let decided = !isClass
  return (row) => {
    if (typeof row !== "object" || row === null) return undefined
    const input = row as Record<string, unknown>
    const props: Record<string, unknown> = direct ? Object.create(proto) : {}
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!
      const value = input[field.key]
      if (value === undefined && !(field.key in input)) return undefined
      if (field.guard !== undefined) {
        if (!field.guard(value)) return undefined
        props[field.key] = value
      } else {
        const decoded = field.decode(value)
        if (Either.isLeft(decoded)) return undefined
        props[field.key] = decoded.right
      }
    }
    if (!isClass || direct) return props
    // The fields are decoded: the instance needs no second validation (as the Schema itself builds it).
    const instance = new Class(props, true)
    if (!decided) {
      decided = true
      direct = sameInstance(instance, Object.assign(Object.create(proto), props))
    }
    return instance
  }
}

/** Whether two objects have the same prototype, own keys, values and frozenness. */
export const sameInstance = (a: object, b: object): boolean => {
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b) || Object.isFrozen(a) !== Object.isFrozen(b)) return false
  const keys = Reflect.ownKeys(a)
  const other = Reflect.ownKeys(b)
  if (keys.length !== other.length) return false
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    if (key !== other[i] || !Object.is((a as any)[key], (b as any)[key])) return false
  }
  return true
}
