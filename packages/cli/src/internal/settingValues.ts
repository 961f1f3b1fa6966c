/**
 * Whether a setting's value as the server reads it back is the value FastORM applied, when the server prints it in
 * another form: PostgreSQL keeps sizes and times in the setting's own unit (`work_mem = 64MB` reads `65536` in `kB`),
 * booleans as `on` / `off` (MySQL as `1` / `0`), and MySQL expands a combined `sql_mode` into the modes it stands for.
 */

// A value's units in bytes or milliseconds, as PostgreSQL spells them.
const memory: Readonly<Record<string, number>> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }
const time: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }

const unitOf = (unit: string): { readonly size: number; readonly kind: "memory" | "time" } | undefined => {
  const match = /^(\d+)?\s*([a-zA-Z]+)$/.exec(unit)
  if (match === null) return undefined
  const times = match[1] === undefined ? 1 : Number(match[1])
  const name = match[2]!
  if (Object.prototype.hasOwnProperty.call(memory, name)) return { size: times * memory[name]!, kind: "memory" }
  if (Object.prototype.hasOwnProperty.call(time, name)) return { size: times * time[name]!, kind: "time" }
  return undefined
}

/** `applied` (`64MB`, `2min`, `300`) in the setting's `unit` (`kB`, `8kB`, `ms`), or undefined if it is not a size or time. */
export const inUnit = (applied: string, unit: string): number | undefined => {
  const base = unitOf(unit)
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z]+)?\s*$/.exec(applied)
  if (base === undefined || match === null) return undefined
  const value = Number(match[1])
  if (match[2] === undefined) return value
  const given = unitOf(match[2])
  return given === undefined || given.kind !== base.kind ? undefined : value * given.size / base.size
}

const truthy = new Set(["on", "true", "yes", "1"])
const falsy = new Set(["off", "false", "no", "0"])

/** A boolean as `on` / `off`, or undefined for anything else. */
const asSwitch = (text: string): string | undefined => truthy.has(text) ? "on" : falsy.has(text) ? "off" : undefined

/** Numbers as numbers ("30.000000" is 30), words in lower case, lists without spaces after their commas. */
export const normalise = (value: unknown): string | null => {
  if (value === null || value === undefined) return null
  const text = String(value)
  return /^-?\d+(\.\d+)?$/.test(text) ? String(Number(text)) : text.toLowerCase().replace(/\s*,\s*/g, ",")
}

/** How the server keeps a setting: PostgreSQL's unit (`pg_settings.unit`); MySQL's lists are sets of modes. */
export interface Form {
  readonly unit?: string | null | undefined
  readonly listsAreSets?: boolean | undefined
}

/** Whether the server's `read` is the `applied` value, read in the setting's `form`. */
export const matches = (applied: string, read: unknown, form: Form = {}): boolean => {
  const unit = form.unit
  const got = normalise(read)
  const want = normalise(applied)
  if (got === null || want === null) return false
  if (got === want) return true
  if (unit !== undefined && unit !== null && unit !== "") {
    const converted = inUnit(applied, unit)
    // PostgreSQL rounds a value given in a finer unit to its own.
    if (converted !== undefined) return Math.abs(converted - Number(got)) < 0.5
  }
  const [a, b] = [asSwitch(want), asSwitch(got)]
  if (a !== undefined && b !== undefined) return a === b
  // A set the server expands and orders its own way (MySQL's `sql_mode = TRADITIONAL`): every mode given is among
  // those it reads. PostgreSQL's lists keep their order (`search_path`).
  if (form.listsAreSets === true && (got.includes(",") || want.includes(","))) {
    const modes = new Set(got.split(","))
    return want.split(",").every((mode) => modes.has(mode))
  }
  return false
}
