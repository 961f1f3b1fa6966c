/**
 * The conditions of a query's `where` methods: each checks its input (column, operator, value encoded by the column's
 * field) and builds its condition, or returns the first problem found, which the query keeps.
 */
import * as Either from "effect/Either"
import type { ValidationError } from "../Errors.js"
import { InvalidColumn, InvalidValue } from "../Errors.js"
import type { TableInfo } from "./engine.js"
import type { Condition, Connector } from "./sql.js"
import * as validation from "./validation.js"

/** A condition, or the first problem with the input that would have built it. @internal */
export type Checked = Either.Either<Condition, ValidationError>

const isEquality = (operator: validation.Operator) => operator === "=" || operator === "!=" || operator === "<>"

/** The column's name, checked against the model's fields. @internal */
export const column = (info: TableInfo, column: unknown): Either.Either<string, ValidationError> =>
  validation.checkColumn(info.table, info.columns, column)

/** The value encoded by the column's field, then checked as bindable. */
const value = (info: TableInfo, column: string, value: unknown): Either.Either<validation.Value, ValidationError> =>
  info.column(column).encode(value)

/** `column operator value`; `not` wraps it in a negated group of one. @internal */
export const compare = (
  info: TableInfo,
  connector: Connector,
  not: boolean,
  columnArg: unknown,
  operatorArg: unknown,
  valueArg: unknown
): Checked => {
  const name = column(info, columnArg)
  if (Either.isLeft(name)) return Either.left(name.left)
  // The operator's error first, then the value's.
  const checkedOperator = validation.checkOperator(operatorArg)
  if (Either.isLeft(checkedOperator)) return Either.left(checkedOperator.left)
  const checkedValue = value(info, name.right, valueArg)
  if (Either.isLeft(checkedValue)) return Either.left(checkedValue.left)
  const operator = checkedOperator.right
  const checked = checkedValue.right
  if (checked === null && !isEquality(operator)) {
    return Either.left(
      new InvalidValue({ column: name.right, received: "null", reason: `null can only be compared with = or !=` })
    )
  }
  const condition: Condition = { _tag: "Compare", connector, column: name.right, operator, value: checked }
  return Either.right(not ? { _tag: "Group", connector, not: true, conditions: [condition] } : condition)
}

/** `column IN (values)`, or `NOT IN`. @internal */
export const list = (info: TableInfo, columnArg: unknown, values: unknown, not: boolean): Checked => {
  const name = column(info, columnArg)
  if (Either.isLeft(name)) return Either.left(name.left)
  if (!Array.isArray(values)) {
    return Either.left(
      new InvalidValue({ column: name.right, received: validation.describe(values), reason: "expected an array" })
    )
  }
  const checked: Array<validation.Value> = []
  for (const each of values) {
    const v = value(info, name.right, each)
    if (Either.isLeft(v)) return Either.left(v.left)
    if (not && v.right === null) {
      return Either.left(
        new InvalidValue({ column: name.right, received: "null", reason: "NOT IN with null never matches" })
      )
    }
    checked.push(v.right)
  }
  return Either.right({ _tag: "In", connector: "AND", column: name.right, not, values: checked })
}

/** `column IS NULL`, or `IS NOT NULL`. @internal */
export const isNull = (info: TableInfo, columnArg: unknown, not: boolean): Checked => {
  const name = column(info, columnArg)
  return Either.isLeft(name)
    ? Either.left(name.left)
    : Either.right({ _tag: "Null", connector: "AND", column: name.right, not })
}

/** `column BETWEEN low AND high`, from a `[low, high]` pair. @internal */
export const between = (info: TableInfo, columnArg: unknown, range: unknown): Checked => {
  const name = column(info, columnArg)
  if (Either.isLeft(name)) return Either.left(name.left)
  if (!Array.isArray(range) || range.length !== 2) {
    return Either.left(
      new InvalidValue({ column: name.right, received: validation.describe(range), reason: "expected [low, high]" })
    )
  }
  const ends = Either.all([value(info, name.right, range[0]), value(info, name.right, range[1])])
  if (Either.isLeft(ends)) return Either.left(ends.left)
  const [low, high] = ends.right
  if (low === null || high === null) {
    return Either.left(new InvalidValue({ column: name.right, received: "null", reason: "BETWEEN null never matches" }))
  }
  return Either.right({ _tag: "Between", connector: "AND", column: name.right, not: false, low, high })
}

/** `column LIKE pattern` on a string column, optionally case-insensitive. @internal */
export const like = (
  info: TableInfo,
  columnArg: unknown,
  pattern: unknown,
  options?: { readonly caseInsensitive?: unknown }
): Checked => {
  const name = column(info, columnArg)
  if (Either.isLeft(name)) return Either.left(name.left)
  if (info.column(name.right).kind !== "string") {
    return Either.left(
      new InvalidColumn({ table: info.table, column: name.right, reason: "LIKE needs a string column" })
    )
  }
  // A pattern is not a value of the column (its refinements do not apply), only a string.
  if (typeof pattern !== "string") {
    return Either.left(
      new InvalidValue({ column: name.right, received: validation.describe(pattern), reason: "expected a string" })
    )
  }
  return Either.right({
    _tag: "Like",
    connector: "AND",
    column: name.right,
    not: false,
    pattern,
    caseInsensitive: options?.caseInsensitive === true
  })
}
