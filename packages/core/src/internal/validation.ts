import * as Either from "effect/Either"
import { InvalidColumn, InvalidIdentifier, InvalidLimit, InvalidOperator, InvalidValue } from "../Errors.js"

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
// PostgreSQL silently truncates longer names, so two distinct names could meet: refuse them instead.
const MAX_IDENTIFIER_BYTES = 63

/** @internal */
export const identifierProblem = (name: unknown): string | undefined => {
  if (typeof name !== "string") return "not a string"
  // An identifier is ASCII (one byte per character): only a name that is not one needs its bytes counted, to tell
  // which problem comes first. Every query checks its column names here.
  const valid = IDENTIFIER.test(name)
  const bytes = valid ? name.length : Buffer.byteLength(name, "utf8")
  if (bytes > MAX_IDENTIFIER_BYTES) return `longer than ${MAX_IDENTIFIER_BYTES} bytes`
  if (!valid) return "only letters, digits and _ are allowed, not starting with a digit"
  return undefined
}

/** @internal */
export const checkIdentifier = (
  kind: "table" | "column",
  name: string
): Either.Either<string, InvalidIdentifier> => {
  const problem = identifierProblem(name)
  return problem === undefined
    ? Either.right(name)
    : Either.left(new InvalidIdentifier({ kind, identifier: String(name), reason: problem }))
}

/** @internal */
export const checkColumn = (
  table: string,
  columns: ReadonlySet<string>,
  column: unknown
): Either.Either<string, InvalidColumn> => {
  if (typeof column !== "string") {
    return Either.left(new InvalidColumn({ table, column: String(column), reason: "not a string" }))
  }
  // Own-property lookup in a Set: "__proto__", "constructor" etc. are not fields.
  if (!columns.has(column)) {
    return Either.left(new InvalidColumn({ table, column, reason: "not a field of the model" }))
  }
  const problem = identifierProblem(column)
  if (problem !== undefined) {
    return Either.left(new InvalidColumn({ table, column, reason: problem }))
  }
  return Either.right(column)
}

/** The comparison operators the query builder accepts. */
export const operators = ["=", "!=", "<>", "<", "<=", ">", ">=", "like", "not like"] as const

/** @internal */
export type Operator = typeof operators[number]

const operatorSet: ReadonlySet<string> = new Set(operators)

/** @internal */
export const checkOperator = (operator: unknown): Either.Either<Operator, InvalidOperator> => {
  if (typeof operator === "string") {
    // The common case, an operator as written in the list, needs no normalising.
    if (operatorSet.has(operator)) return Either.right(operator as Operator)
    // Case and inner spacing are normalised; anything else (comments, quotes, extra words) is refused.
    const normalised = operator.trim().toLowerCase().replace(/\s+/g, " ")
    if (operatorSet.has(normalised)) return Either.right(normalised as Operator)
  }
  return Either.left(new InvalidOperator({ operator: String(operator) }))
}

/** The values that can be bound as parameters. */
export type Value = string | number | boolean | bigint | Date | Uint8Array | null

/** @internal */
export const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "array"
  if (typeof value === "number" && !Number.isFinite(value)) return String(value)
  if (typeof value === "object") {
    const name = (value as object).constructor?.name
    return name !== undefined && name !== "Object" ? `object ${name}` : "object"
  }
  return typeof value
}

/** @internal */
export const valueProblem = (value: unknown): string | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "bigint":
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : "numbers must be finite"
    case "object": {
      if (value === null) return undefined
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? "invalid Date" : undefined
      // Buffer is a Uint8Array.
      if (value instanceof Uint8Array) return undefined
      return "objects and arrays cannot be bound as a value"
    }
    default:
      return `${typeof value} cannot be bound as a value`
  }
}

/** @internal */
export const checkValue = (column: string, value: unknown): Either.Either<Value, InvalidValue> => {
  const problem = valueProblem(value)
  return problem === undefined
    ? Either.right(value as Value)
    : Either.left(new InvalidValue({ column, received: describe(value), reason: problem }))
}

/** @internal */
export const checkLimit = (
  kind: InvalidLimit["kind"],
  value: unknown,
  minimum = 0
): Either.Either<number, InvalidLimit> =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= minimum
    ? Either.right(value)
    : Either.left(
      new InvalidLimit({
        kind,
        value: typeof value === "number" ? value : describe(value),
        ...(minimum === 0 ? {} : { minimum })
      })
    )
