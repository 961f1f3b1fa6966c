/**
 * Functions generated once per list of property names that make objects from arrays of values, all with one fixed
 * shape (a driver's rows returned as arrays). The generator, shared with the row decoder, is `internal/objectLiteral.ts`.
 */
import * as internal from "./internal/objectLiteral.js"

/** Makes one object from an array of values: the i-th value under the i-th name. */
export type FromValues = internal.FromValues

/** The generated maker for `names`; undefined for a `__proto__` name or where the runtime forbids generated code. */
export const fromValues: (names: ReadonlyArray<string>) => FromValues | undefined = internal.fromValues

/** The same objects made one property at a time, by assignment: the maker where `fromValues` has none. */
export const byAssignment: (names: ReadonlyArray<string>) => FromValues = internal.byAssignment
