/**
 * Functions generated once per list of property names that build objects as one object literal (the SQLite reader's
 * rows, the row decoder's model fields): V8 gives every object such a literal makes one fixed shape and compiles the
 * function to straight-line code, where a loop pays a keyed store per property and per object.
 *
 * Names enter the generated text only as JSON string literals (`key`), which no name can escape: quotes, backslashes,
 * line terminators and lone surrogates come out escaped. A literal's `__proto__: value` sets the prototype instead of
 * an own property, so a list with that name gets no literal (`literal` and `fromValues` answer undefined) and the
 * caller builds its objects another way.
 */

/** A property name as JavaScript source: a JSON string literal. */
export const key = (name: string): string => JSON.stringify(name)

/** Whether a literal (or `this[key] = ...`) with these names makes them own properties: not `__proto__`. */
export const canBuild = (names: ReadonlyArray<string>): boolean => !names.includes("__proto__")

/**
 * The source of an object literal giving `names[i]` the value of the expression `values[i]`, or undefined when a
 * literal would not make the names own properties. A name given twice keeps its first position and its last value,
 * as assigning the properties in order does.
 */
export const literal = (names: ReadonlyArray<string>, values: ReadonlyArray<string>): string | undefined =>
  canBuild(names) ? `{ ${names.map((name, i) => `${key(name)}: ${values[i]}`).join(", ")} }` : undefined

/** The source of statements assigning `values[i]` to `target[names[i]]`, in order (a constructor's body). */
export const assignments = (target: string, names: ReadonlyArray<string>, values: ReadonlyArray<string>): string =>
  names.map((name, i) => `${target}[${key(name)}] = ${values[i]};`).join("\n")

/**
 * `body` compiled as a function of `params`, or undefined where the runtime forbids generating code from strings
 * (`--disallow-code-generation-from-strings`, a content security policy): callers then run the same steps as a loop.
 */
export const compile = <F>(params: ReadonlyArray<string>, body: string): F | undefined => {
  try {
    return new Function(...params, body) as F
  } catch {
    return undefined
  }
}

/** Makes one object from an array of values: the i-th value under the i-th name. */
export type FromValues = (values: ReadonlyArray<unknown>) => object

/** The generated `FromValues` of `names`, or undefined where no literal or no generated code can build them. */
export const fromValues = (names: ReadonlyArray<string>): FromValues | undefined => {
  const source = literal(names, names.map((_, i) => `v[${i}]`))
  return source === undefined ? undefined : compile<FromValues>(["v"], `return ${source}`)
}

/** The same objects made one property at a time, by assignment (what generated code is measured against). */
export const byAssignment = (names: ReadonlyArray<string>): FromValues => (values) => {
  const out: Record<string, unknown> = {}
  for (let i = 0; i < names.length; i++) out[names[i]!] = values[i]
  return out
}
