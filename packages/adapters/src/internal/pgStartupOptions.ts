/**
 * libpq's `options` URL parameter (`options=-c statement_timeout=5s -c work_mem=64MB`): the server settings it carries
 * that FastORM has settings for become those settings, any other becomes one of `serverSettings`; one FastORM sets
 * itself without a setting for it (`client_encoding`) is refused with the reason.
 */
import * as Duration from "effect/Duration"
import { isApplicationName, isSearchPath } from "./overrides.js"
import * as ServerSettings from "./serverSettings.js"

/** What an `options` text gives: settings by FastORM's names, or the one problem with it. */
export type Parsed =
  | { readonly _tag: "settings"; readonly settings: Readonly<Record<string, unknown>> }
  | { readonly _tag: "invalid"; readonly expected: string }
  | { readonly _tag: "unsupported"; readonly instead: string }

/** Splits on spaces as the server does: a backslash keeps the next character (an escaped space or backslash). */
export const words = (text: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  let word = ""
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "\\" && i + 1 < text.length) {
      word += text[++i]
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) out.push(word)
      word = ""
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (inWord) out.push(word)
  return out
}

/** The `name=value` pairs of `-c name=value`, `-cname=value` and `--name=value`; undefined if a word is neither. */
export const assignments = (text: string): ReadonlyArray<readonly [string, string]> | undefined => {
  const list = words(text)
  const out: Array<readonly [string, string]> = []
  for (let i = 0; i < list.length; i++) {
    const word = list[i]!
    // "-c" then its pair; "--name=value" and "-cname=value" in one word.
    const pair = word === "-c" ? list[++i] : /^(--|-c)/.test(word) ? word.slice(2) : undefined
    const eq = pair?.indexOf("=") ?? -1
    if (pair === undefined || eq <= 0) return undefined
    // The server reads "-" in a name as "_" and names without regard to case.
    out.push([pair.slice(0, eq).replace(/-/g, "_").toLowerCase(), pair.slice(eq + 1)])
  }
  return out
}

const units: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }

/** A time setting as the server reads it: a whole number with an optional unit, milliseconds without one. */
const serverDuration = (text: string): Duration.Duration | undefined => {
  const m = /^(\d{1,12})\s*(us|ms|s|min|h|d)?$/.exec(text.trim())
  return m === null ? undefined : Duration.millis(Number(m[1]) * units[m[2] ?? "ms"]!)
}

const onOff = (text: string): boolean | undefined =>
  /^(on|true|yes|1)$/i.test(text) ? true : /^(off|false|no|0)$/i.test(text) ? false : undefined

type Reader = readonly [setting: string, read: (text: string) => unknown, expected: string]

const TIME = "a time such as 5s or 5000 (milliseconds)"

// The server settings FastORM has a setting for, and how the server's text becomes that setting's value.
const readers: Readonly<Record<string, Reader>> = {
  statement_timeout: ["statementTimeout", serverDuration, TIME],
  lock_timeout: ["lockTimeout", serverDuration, TIME],
  idle_in_transaction_session_timeout: ["idleInTransactionTimeout", serverDuration, TIME],
  search_path: ["searchPath", (text) => isSearchPath(text) ? text : undefined, "schema names separated by commas"],
  application_name: [
    "applicationName",
    (text) => isApplicationName(text) ? text : undefined,
    "printable text of at most 63 characters"
  ],
  jit: ["jit", onOff, "on or off"]
}

/** What an `options` text gives (see the module's comment). */
export const parse = (text: string): Parsed => {
  const pairs = assignments(text)
  if (pairs === undefined || pairs.length === 0) {
    return { _tag: "invalid", expected: "server settings as -c name=value, separated by spaces" }
  }
  const settings: Record<string, unknown> = {}
  const others: Record<string, string> = {}
  for (const [name, value] of pairs) {
    const reader = Object.prototype.hasOwnProperty.call(readers, name) ? readers[name] : undefined
    if (reader !== undefined) {
      const read = reader[1](value)
      if (read === undefined) return { _tag: "invalid", expected: `${name} as ${reader[2]}` }
      settings[reader[0]] = read
      continue
    }
    if (!ServerSettings.isName("postgresql", name)) return { _tag: "invalid", expected: "server settings' names" }
    const instead = ServerSettings.ownedBy("postgresql", name)
    if (instead !== undefined) return { _tag: "unsupported", instead: `FastORM sets ${name} itself: ${instead}` }
    if (!ServerSettings.isValue(value)) return { _tag: "invalid", expected: `${name} as printable text` }
    others[name] = value
  }
  if (Object.keys(others).length > 0) settings.serverSettings = others
  return { _tag: "settings", settings }
}
