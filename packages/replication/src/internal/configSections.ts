/**
 * The variables of `FastOrm.config`: the kind of value each option takes, its name (`FASTORM_<SECTION>_<OPTION>`),
 * and the layer's own check of each section, by which a variable is checked alone and the section as a whole.
 */
import { OptimalConfig } from "@fastorm/adapters"
import type { Dialect as Dialects } from "@fastorm/adapters"
import { HealthMonitor } from "@fastorm/health"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { HealthConfig } from "../FastOrm.js"
import type { ReadWriteConfig } from "../ReadWriteConfig.js"
import { consistencies, readPreferences, resolve, strategies } from "../ReadWriteConfig.js"

// ---- kinds of values ----

/** How a variable's text becomes a value. */
export type Kind =
  | { readonly _tag: "duration" }
  | { readonly _tag: "integer" }
  | { readonly _tag: "number" }
  | { readonly _tag: "boolean" }
  | { readonly _tag: "text" }
  | { readonly _tag: "oneOf"; readonly values: ReadonlyArray<string | number | boolean> }
  /** `name=value` pairs separated by semicolons (`work_mem=64MB; random_page_cost=1.1`). */
  | { readonly _tag: "pairs" }

const duration: Kind = { _tag: "duration" }
const integer: Kind = { _tag: "integer" }
/** A number (weights, fractions). */
export const number: Kind = { _tag: "number" }
const boolean: Kind = { _tag: "boolean" }
const text: Kind = { _tag: "text" }
const oneOf = (values: ReadonlyArray<string | number | boolean>): Kind => ({ _tag: "oneOf", values })

const truthy = new Set(["true", "yes", "on", "1"])
const falsy = new Set(["false", "no", "off", "0"])

/** The value of a variable's (trimmed, non-empty) text, or what was expected instead. */
export const parse = (kind: Kind, text: string): Either.Either<unknown, string> => {
  switch (kind._tag) {
    case "duration": {
      // A bare number is milliseconds, as in `FastOrm.layer`.
      if (/^\d+(\.\d+)?$/.test(text)) return Either.right(Duration.millis(Number(text)))
      return Option.match(Duration.decodeUnknown(text), {
        onNone: () =>
          Either.left("expected a duration such as \"5 seconds\", \"500 millis\" or a number of milliseconds"),
        onSome: Either.right
      })
    }
    case "integer":
      return /^[+-]?\d+$/.test(text) && Number.isSafeInteger(Number(text))
        ? Either.right(Number(text))
        : Either.left("expected an integer such as 10")
    case "number":
      return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)
        ? Either.right(Number(text))
        : Either.left("expected a number such as 0.5")
    case "boolean": {
      const lower = text.toLowerCase()
      return truthy.has(lower)
        ? Either.right(true)
        : falsy.has(lower)
        ? Either.right(false)
        : Either.left("expected true or false")
    }
    case "text":
      return Either.right(text)
    case "oneOf": {
      const value = kind.values.find((v) => String(v) === text)
      return value === undefined ? Either.left(`expected one of: ${kind.values.join(", ")}`) : Either.right(value)
    }
    case "pairs": {
      // Semicolons, not commas: a value may hold commas (sql_mode=STRICT_TRANS_TABLES,NO_ZERO_DATE).
      const pairs = text.split(";").map((part) => part.trim()).filter((part) => part.length > 0)
      const record: Record<string, string> = {}
      for (const pair of pairs) {
        const eq = pair.indexOf("=")
        if (eq <= 0) return Either.left("expected name=value pairs separated by semicolons, e.g. work_mem=64MB")
        record[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim()
      }
      return Either.right(record)
    }
  }
}

// ---- the sections: readWrite, health, pool ----

/** The sections of `FastOrm.layer` whose options are read one variable each. */
export type Section = "readWrite" | "health" | "pool"

// `-?`: an option added to ReadWriteConfig or to the monitor does not compile until it has a variable here.
const readWriteKinds: { readonly [K in keyof ReadWriteConfig]-?: Kind } = {
  enableReadWriteSplit: boolean,
  readPreference: oneOf(readPreferences),
  consistency: oneOf(consistencies),
  strategy: oneOf(strategies),
  maxReplicationLag: duration,
  sessionWaitTimeout: duration,
  primaryWaitTimeout: duration,
  statementTimeout: duration,
  connectTimeout: duration,
  maxFallbackConcurrency: integer,
  degradedWeight: number,
  startDegraded: boolean
}

// `probe` is a function: it has no text form.
const healthKinds: { readonly [K in Exclude<keyof HealthConfig, "probe">]-?: Kind } = {
  interval: duration,
  timeout: duration,
  degradedAfter: duration,
  unhealthyAfter: duration,
  failureThreshold: integer,
  recoveryThreshold: integer,
  backoffBase: duration,
  backoffCap: duration,
  authBackoffBase: duration,
  authBackoffCap: duration,
  smoothing: number,
  maxLag: duration,
  applicationName: text
}

/** A SQL dialect. */
export type Dialect = Dialects.Dialect

const dialects = Object.keys(OptimalConfig.settings) as ReadonlyArray<Dialect>

// Every connection setting of any dialect, from the adapters' own table, so a new setting gets its variable.
const poolKinds: Readonly<Record<string, Kind>> = Object.fromEntries(
  dialects.flatMap((d) =>
    Object.entries(OptimalConfig.settings[d]).map(([key, kind]): [string, Kind] => [
      key,
      kind._tag === "size"
        ? integer
        : kind._tag === "oneOf"
        ? oneOf(kind.values)
        : kind._tag === "serverSettings"
        ? { _tag: "pairs" }
        : { _tag: kind._tag }
    ])
  )
)

/** Every option of each section and the kind of value it takes. */
export const kinds: { readonly [S in Section]: Readonly<Record<string, Kind>> } = {
  readWrite: readWriteKinds,
  health: healthKinds,
  pool: poolKinds
}

const prefixes: { readonly [S in Section]: string } = { readWrite: "READ_WRITE", health: "HEALTH", pool: "POOL" }

/**
 * `FASTORM_<SECTION>_<OPTION>`, the option in constant case, without a repeated section word: health.interval is
 * FASTORM_HEALTH_INTERVAL, pool.poolSize FASTORM_POOL_SIZE, pool.cacheSizeKiB FASTORM_POOL_CACHE_SIZE_KIB.
 */
export const variableName = (section: Section, key: string): string => {
  const option = section === "pool" && /^pool[A-Z]/.test(key) ? key.slice(4) : key
  const words = option.replace(/KiB$/, "Kib").replace(/([a-z0-9])([A-Z])/g, "$1_$2")
  return `FASTORM_${prefixes[section]}_${words.toUpperCase()}`
}

/** The layer's own check of a section: its problems, each naming the options it is about. */
export const sectionProblems = (
  section: Section,
  values: Record<string, unknown>,
  dialect: Dialect
): ReadonlyArray<string> => {
  switch (section) {
    case "readWrite":
      return Either.match(resolve(values), { onLeft: (e) => e.problems, onRight: () => [] })
    case "health":
      return Either.match(HealthMonitor.checkConfig(values), { onLeft: (e) => e.problems, onRight: () => [] })
    case "pool":
      return OptimalConfig.check(dialect, values)
  }
}

/** Whether a problem names an option. */
export const mentions = (problem: string, key: string): boolean =>
  new RegExp(`(^|[^A-Za-z0-9])${key}([^A-Za-z0-9]|$)`).test(problem)

/** The problems of one option alone: those that name it and no other option (the others are between options). */
export const ownProblems = (section: Section, key: string, value: unknown): ReadonlyArray<string> => {
  // A pool setting is checked for a dialect that has it; whether the URL's dialect has it is checked later.
  const dialect = dialects.find((d) => Object.prototype.hasOwnProperty.call(OptimalConfig.settings[d], key))
  // A pool setting's check of one value is about that value alone (the one check between pool settings needs two),
  // though its problem may name another setting: "serverSettings cannot set statement_timeout: use statementTimeout".
  return sectionProblems(section, { [key]: value }, dialect ?? "postgresql").filter((problem) =>
    mentions(problem, key) &&
    (section === "pool" || Object.keys(kinds[section]).every((other) => other === key || !mentions(problem, other)))
  )
}
