/**
 * What a repository knows about each column of its model: how a value a caller holds (the model's Type) becomes a
 * bound parameter, how a value the driver returns becomes the model's Type, and what kind of value the column holds.
 * Built once per column, on first use.
 */
import * as Either from "effect/Either"
import type { ParseError } from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { InvalidValue } from "../Errors.js"
import { plainGuard } from "./fieldGuards.js"
import * as validation from "./validation.js"

/** What a column holds, as far as the query builder cares: LIKE needs text, SUM and AVG need numbers. */
export type Kind = "string" | "number" | "other"

/** One column's codec. */
export interface Column {
  readonly name: string
  /**
   * The Type-side value encoded for binding. Refinements are not checked: a bound need not be a valid row value
   * (`where("age", ">=", 0)` on a positive integer column), but the value must have the column's type.
   */
  readonly encode: (value: unknown) => Either.Either<validation.Value, InvalidValue>
  /** A value as the driver returned it, decoded to the model's Type (refinements checked, as for a row). */
  readonly decode: (value: unknown) => Either.Either<unknown, ParseError>
  readonly kind: Kind
  /** Whether the model's Type admits null for this column. */
  readonly nullable: boolean
}

/** The AST with every refinement replaced by what it refines (unions and transformations looked through). */
export const withoutRefinements = (ast: AST.AST): AST.AST => {
  switch (ast._tag) {
    case "Refinement":
      return withoutRefinements(ast.from)
    case "Union":
      return AST.Union.make(ast.types.map(withoutRefinements), ast.annotations)
    case "Transformation":
      return new AST.Transformation(
        withoutRefinements(ast.from),
        withoutRefinements(ast.to),
        ast.transformation,
        ast.annotations
      )
    default:
      return ast
  }
}

/** What the column's Type holds, and whether it admits null. */
const kindOfType = (ast: AST.AST): { readonly kind: Kind; readonly nullable: boolean } => {
  const kinds = new Set<Kind | "null">()
  const visit = (node: AST.AST): void => {
    switch (node._tag) {
      case "Refinement":
        return visit(node.from)
      case "Union":
        return node.types.forEach(visit)
      case "StringKeyword":
      case "TemplateLiteral":
        kinds.add("string")
        return
      case "NumberKeyword":
        kinds.add("number")
        return
      case "Literal":
        kinds.add(node.literal === null ? "null" : typeof node.literal === "string" ? "string" : "other")
        return
      default:
        kinds.add("other")
    }
  }
  visit(AST.typeAST(ast))
  const nullable = kinds.delete("null")
  return { kind: kinds.size === 1 ? [...kinds][0] as Kind : "other", nullable }
}

/** The column's codec; `field` is its schema in the model's select variant (undefined: bound as given). */
export const make = (name: string, field: Schema.Schema.AnyNoContext | undefined): Column => {
  if (field === undefined) {
    return {
      name,
      encode: (value) => validation.checkValue(name, value),
      decode: Either.right,
      kind: "other",
      nullable: true
    }
  }
  const loose = withoutRefinements(field.ast)
  const encodeLoose = Schema.encodeUnknownEither(Schema.make(loose) as Schema.Schema<unknown, unknown, never>)
  // A schema without transformations encodes a value to itself: a plain guard says so without the parser (every
  // `where` encodes its value here). The parser runs for what the guard does not accept, and reports.
  const looseGuard = plainGuard(loose)
  const exactGuard = plainGuard(field.ast)
  const decode = Schema.decodeUnknownEither(field as Schema.Schema<unknown, unknown, never>)
  // The schema's own description ("Int | null"), never the value: values may be secrets or personal data.
  const expected = String(AST.typeAST(withoutRefinements(field.ast)))
  return {
    name,
    encode: (value) => {
      if (looseGuard !== undefined && looseGuard(value)) return validation.checkValue(name, value)
      const encoded = encodeLoose(value)
      if (Either.isLeft(encoded)) {
        return Either.left(
          new InvalidValue({ column: name, received: validation.describe(value), reason: `expected ${expected}` })
        )
      }
      return validation.checkValue(name, encoded.right)
    },
    decode: exactGuard === undefined ? decode : (value) => exactGuard(value) ? Either.right(value) : decode(value),
    ...kindOfType(field.ast)
  }
}

/** Codecs of a model's columns, each made on first use. */
export const forModel = (fields: Readonly<Record<string, Schema.Schema.AnyNoContext>>) => {
  const made = new Map<string, Column>()
  return (name: string): Column => {
    let column = made.get(name)
    if (column === undefined) {
      column = make(name, Object.hasOwn(fields, name) ? fields[name] : undefined)
      made.set(name, column)
    }
    return column
  }
}
