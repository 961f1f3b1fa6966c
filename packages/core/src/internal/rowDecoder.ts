/**
 * Row decoding compiled once per model (or per selected columns): the driver already typed what it returns, so a
 * field whose schema has no transformation (strings, numbers, booleans, literals, their unions and refinements such
 * as `Int`) is only checked with a plain guard, a field with a transformation (dates, numbers from strings, options)
 * is decoded by its own schema, and the model instance is built without validating the fields a second time (what
 * the model's Schema does once its fields are decoded). Whatever the fast path does not accept (a missing column, a
 * value of the wrong type, a property signature) goes back to the model's Schema, which decides and reports.
 *
 * The per-row function is generated once per schema (`rowSource`): its field reads, checks and the object it builds
 * have a fixed shape, which V8 compiles to straight-line code, where a loop over the fields pays a keyed lookup and
 * store per field and per row (`objectLiteral.ts` quotes the keys and compiles). Where code cannot be generated, the
 * same decisions run as a loop.
 */
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { type Guard, guardSource, plainGuard } from "./fieldGuards.js"
import * as ObjectLiteral from "./objectLiteral.js"

/** A row's decoded value, or `undefined` when the model's Schema must decide. */
export type FastRow = (row: unknown) => unknown

/** How one field is read from a row: checked as it is, or decoded by its schema. */
type Field =
  | {
    readonly key: string
    readonly guard: Guard
    readonly source: string | undefined
    readonly acceptsUndefined: boolean
    readonly decode?: undefined
  }
  | {
    readonly key: string
    readonly guard?: undefined
    readonly decode: (value: unknown) => Either.Either<unknown, ParseResult.ParseError>
  }

const fieldsOf = (fields: Record<string, unknown>): Array<Field> | undefined => {
  const keys = Object.keys(fields)
  // `__proto__` is no own key a literal or an assignment builds: such a model stays with its Schema.
  if (!ObjectLiteral.canBuild(keys)) return undefined
  const out: Array<Field> = []
  for (const key of keys) {
    const field = fields[key]
    // Property signatures (optional keys, defaults, renames) stay with the Schema.
    if (!Schema.isSchema(field)) return undefined
    const guard = plainGuard(field.ast)
    out.push(
      guard !== undefined
        ? { key, guard, source: guardSource(field.ast, "v"), acceptsUndefined: guard(undefined) }
        : { key, decode: Schema.decodeUnknownEither(field as Schema.Schema<unknown, unknown, never>) }
    )
  }
  return out
}

/** What the generated function closes over: the guards and decoders it calls, and the prototype of instances. */
interface Bindings {
  readonly guards: ReadonlyArray<Guard | undefined>
  readonly decoders: ReadonlyArray<((value: unknown) => Either.Either<unknown, ParseResult.ParseError>) | undefined>
  readonly proto: object | null
}

/**
 * The body of the generated row functions: each field read into `vN` and checked (a missing column is one the row
 * does not have, even when the field's check accepts undefined), then a plain object of the fields (`plain`) and,
 * for a class, an instance of its prototype with the same own fields in the same order (`shaped`). Keys enter the
 * text only as JSON string literals (`ObjectLiteral.key`); undefined where no literal builds the keys (`__proto__`).
 */
export const rowSource = (fields: ReadonlyArray<Field>, indices?: ReadonlyArray<number>): string | undefined => {
  const keys = fields.map((field) => field.key)
  const names = fields.map((_, i) => `v${i}`)
  const plain = ObjectLiteral.literal(keys, names)
  if (plain === undefined) return undefined
  const head: Array<string> = ["\"use strict\";"]
  const reads: Array<string> = ["    if (typeof row !== \"object\" || row === null) return undefined;"]
  fields.forEach((field, i) => {
    const key = ObjectLiteral.key(field.key)
    const v = names[i]!
    // A row given as an array (`indices`: each field's column) has every field's column: nothing can be missing.
    const at = indices === undefined ? key : String(indices[i]!)
    const missing = indices === undefined ? `(${v} === undefined && !(${key} in row))` : undefined
    if (field.guard === undefined) {
      head.push(`const d${i} = bindings.decoders[${i}];`)
      reads.push(
        `    let ${v} = row[${at}];`,
        ...(missing === undefined ? [] : [`    if ${missing} return undefined;`]),
        `    const e${i} = d${i}(${v});`,
        `    if (e${i}._tag === "Left") return undefined;`,
        `    ${v} = e${i}.right;`
      )
    } else {
      if (field.source === undefined) head.push(`const g${i} = bindings.guards[${i}];`)
      const check = field.source === undefined ? `g${i}(${v})` : field.source.replaceAll(/\bv\b/g, v)
      reads.push(
        `    const ${v} = row[${at}];`,
        `    if (!(${check})${
          field.acceptsUndefined && missing !== undefined ? ` || ${missing}` : ""
        }) return undefined;`
      )
    }
  })
  return [
    ...head,
    `function Shaped(${names.join(", ")}) {`,
    ObjectLiteral.assignments("this", keys, names),
    "}",
    "Shaped.prototype = bindings.proto;",
    "return {",
    "  plain: (row) => {",
    ...reads,
    `    return ${plain};`,
    "  },",
    "  shaped: (row) => {",
    ...reads,
    `    return new Shaped(${names.join(", ")});`,
    "  }",
    "};"
  ].join("\n")
}

interface Builders {
  /** The fields as a plain object (a struct's value, a class's constructor input). */
  readonly plain: FastRow
  /** An instance of the prototype with the fields assigned, in the fields' order. */
  readonly shaped: FastRow
}

/** The generated builders, or undefined where the runtime forbids generating code. */
const generated = (
  fields: ReadonlyArray<Field>,
  proto: object | null,
  indices?: ReadonlyArray<number>
): Builders | undefined => {
  const bindings: Bindings = {
    guards: fields.map((f) => f.guard),
    decoders: fields.map((f) => f.decode),
    proto
  }
  const source = rowSource(fields, indices)
  const make = source === undefined ? undefined : ObjectLiteral.compile<(b: Bindings) => Builders>(["bindings"], source)
  return make?.(bindings)
}

/** The same builders as a loop over the fields (`indices`: the column of each field in a row given as an array). */
const interpreted = (fields: ReadonlyArray<Field>, proto: object | null, indices?: ReadonlyArray<number>): Builders => {
  const build = (target: () => Record<string, unknown>): FastRow => (row) => {
    if (typeof row !== "object" || row === null) return undefined
    const input = row as Record<string | number, unknown>
    const out = target()
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!
      const value = indices === undefined ? input[field.key] : input[indices[i]!]
      if (indices === undefined && value === undefined && !(field.key in input)) return undefined
      if (field.guard !== undefined) {
        if (!field.guard(value)) return undefined
        out[field.key] = value
      } else {
        const decoded = field.decode(value)
        if (Either.isLeft(decoded)) return undefined
        out[field.key] = decoded.right
      }
    }
    return out
  }
  return { plain: build(() => ({})), shaped: build(() => Object.create(proto)) }
}

/** What the fast decoders of one schema are made of. */
interface Plan {
  readonly fields: ReadonlyArray<Field>
  readonly Class: (new(props: Record<string, unknown>, disableValidation: boolean) => object) | undefined
  readonly proto: object | null
}

/** The plan of a model class (`Model.Class` / `Schema.Class`) or a struct; undefined when the schema is neither. */
const planOf = (schema: Schema.Schema.AnyNoContext): Plan | undefined => {
  const fieldMap = (schema as { fields?: Record<string, unknown> }).fields
  if (fieldMap === undefined || typeof fieldMap !== "object") return undefined
  const ast: AST.AST = schema.ast
  const isClass = typeof schema === "function" && AST.isTransformation(ast) && AST.isDeclaration(ast.to)
  const isStruct = AST.isTypeLiteral(ast) && ast.indexSignatures.length === 0
  if (!isClass && !isStruct) return undefined
  const fields = fieldsOf(fieldMap)
  if (fields === undefined) return undefined
  const Class = isClass
    ? schema as unknown as new(props: Record<string, unknown>, disableValidation: boolean) => object
    : undefined
  return { fields, Class, proto: Class === undefined ? null : Class.prototype }
}

/** The row function of a plan's builders: a struct's plain object, or an instance of the class. */
const rowOf = (plan: Plan, { plain, shaped }: Builders): FastRow => {
  const { Class, proto } = plan
  if (Class === undefined) return plain
  // Whether an instance is the class's prototype with the fields assigned, as its constructor builds it (the
  // constructor then costs more than the decoding): decided on the first row, by building it both ways.
  let direct = false
  let decided = false
  return (row) => {
    if (direct) return shaped(row)
    const props = plain(row) as Record<string, unknown> | undefined
    if (props === undefined) return undefined
    // The fields are decoded: the instance needs no second validation (as the Schema itself builds it).
    const instance = new Class(props, true)
    if (!decided) {
      decided = true
      direct = sameInstance(instance, Object.assign(Object.create(proto), props))
    }
    return instance
  }
}

/**
 * The fast decoder of a model class (`Model.Class` / `Schema.Class`: an instance built from the decoded fields) or of
 * a struct (a plain object); undefined when the schema is neither.
 */
export const compile = (schema: Schema.Schema.AnyNoContext): FastRow | undefined => {
  const plan = planOf(schema)
  return plan === undefined
    ? undefined
    : rowOf(plan, generated(plan.fields, plan.proto) ?? interpreted(plan.fields, plan.proto))
}

/** The fast decoder of rows given as arrays with these columns; undefined when a field has no column. */
export type ArrayRows = (columns: ReadonlyArray<string>) => FastRow | undefined

// Column lists are few per schema (one per query shape's result); past this bound the cache starts again.
const MAX_COLUMN_LISTS = 64

/**
 * The fast decoders of a schema's rows given as arrays (`CompiledStatement.asArrays`), one per list of columns,
 * generated on its first use; undefined when the schema has no fast decoder.
 */
export const compileArrays = (schema: Schema.Schema.AnyNoContext): ArrayRows | undefined => {
  const plan = planOf(schema)
  if (plan === undefined) return undefined
  const byColumns = new Map<string, FastRow | undefined>()
  // The same column list object, from a client that keeps it per statement: no key to build.
  let lastColumns: ReadonlyArray<string> | undefined
  let last: FastRow | undefined
  return (columns) => {
    if (columns === lastColumns) return last
    const key = columns.join("\u0000")
    let row = byColumns.get(key)
    if (row === undefined && !byColumns.has(key)) {
      if (byColumns.size >= MAX_COLUMN_LISTS) byColumns.clear()
      // A field's column: the last of that name, as a row object built from the same result would hold it.
      const indices = plan.fields.map((field) => columns.lastIndexOf(field.key))
      row = indices.includes(-1)
        ? undefined
        : rowOf(plan, generated(plan.fields, plan.proto, indices) ?? interpreted(plan.fields, plan.proto, indices))
      byColumns.set(key, row)
    }
    lastColumns = columns
    last = row
    return row
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
