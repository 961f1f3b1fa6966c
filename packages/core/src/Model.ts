/**
 * @effect/sql's `Model`: `Model.Class` and its field helpers (`Generated`, `DateTimeInsertFromDate`, ...), which
 * repositories are built from. `makeRepository` / `makeDataLoaders` are deliberately not re-exported: they capture
 * one client and die on errors (ARCHITECTURE.md, "Errors"); use `Repository.make`.
 */
export {
  BooleanFromNumber,
  Class,
  Date,
  DateTimeFromDate,
  DateTimeFromDateWithNow,
  DateTimeFromNumberWithNow,
  DateTimeInsert,
  DateTimeInsertFromDate,
  DateTimeInsertFromNumber,
  DateTimeUpdate,
  DateTimeUpdateFromDate,
  DateTimeUpdateFromNumber,
  DateTimeWithNow,
  DateWithNow,
  extract,
  Field,
  fieldEvolve,
  FieldExcept,
  fieldFromKey,
  FieldOnly,
  FieldOption,
  fields,
  Generated,
  GeneratedByApp,
  JsonFromString,
  Override,
  Sensitive,
  Struct,
  Union,
  UuidV4Insert,
  UuidV4WithGenerate
} from "@effect/sql/Model"
export type { Any, AnyNoContext, VariantsDatabase, VariantsJson } from "@effect/sql/Model"
