/**
 * Scrubbing of text and foreign error objects that might carry credentials, so that nothing a driver or Node put
 * in an error can leak a password through our own errors (ARCHITECTURE.md, "Secrets").
 */
import * as Redacted from "effect/Redacted"

/** What replaces a secret in scrubbed text. */
export const REDACTED = "<redacted>"

/** Option or property names whose values are secrets. */
export const isSecretKey = (key: string): boolean => /pass|pwd|secret|token|credential/i.test(key)

// Whole userinfo up to the LAST "@" of the token: an unencoded "@" inside a password must not end the match early.
const URL_USERINFO = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^\s"'<>]*@/g
const KEY_VALUE = /\b([A-Za-z0-9_]*(?:pass|pwd|secret|token)[A-Za-z0-9_]*)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]*)/gi

/** Removes URL credentials, `password=...`-like pairs and the given secrets (also percent-encoded) from text. */
export const scrubText = (text: string, secrets: ReadonlyArray<Redacted.Redacted<string>> = []): string => {
  let out = text.replace(URL_USERINFO, `$1${REDACTED}@`).replace(
    KEY_VALUE,
    // MySQL's "(using password: YES)" says whether one was sent, not what it was.
    (match, key: string, separator: string, value: string) =>
      /^(YES|NO)\)$/.test(value) && /^password$/i.test(key) ? match : `${key}${separator}${REDACTED}`
  )
  for (const secret of secrets) {
    const value = Redacted.value(secret)
    // A one- or two-character "secret" would shred every message; such passwords are not worth protecting here.
    if (value.length < 3) continue
    for (const form of new Set([value, encodeURIComponent(value), encodeURI(value)])) {
      out = out.split(form).join(REDACTED)
    }
  }
  return out
}

/** A copy of a foreign error keeping only scrubbed, primitive diagnostic fields (code, errno, sqlState, ...). */
export class ScrubbedCause extends Error {
  /** The original error's own primitive properties, scrubbed; `input` and secret-named keys are dropped. */
  readonly [key: string]: unknown
}

// Node's URL TypeError keeps the whole URL in `input`; DatabaseError-like objects may echo the connection config.
const DROPPED_KEYS = new Set(["input", "config", "connectionParameters", "connectionString", "uri", "url", "stack"])

const copyFields = (
  from: object,
  to: Record<string, unknown>,
  secrets: ReadonlyArray<Redacted.Redacted<string>>
): void => {
  for (const key of Object.keys(from)) {
    // name is set (read-only) by scrubCause itself; pg's DatabaseError has an own `name` field too.
    if (DROPPED_KEYS.has(key) || isSecretKey(key) || key === "message" || key === "cause" || key === "name") continue
    const value = (from as Record<string, unknown>)[key]
    if (typeof value === "string") to[key] = scrubText(value, secrets)
    else if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") to[key] = value
  }
}

/** Replaces any cause by a scrubbed copy, recursively (bounded depth), so the cause chain carries no secret. */
export const scrubCause = (
  cause: unknown,
  secrets: ReadonlyArray<Redacted.Redacted<string>> = [],
  depth = 0
): unknown => {
  if (cause === undefined || cause === null) return cause
  if (typeof cause === "number" || typeof cause === "boolean" || typeof cause === "bigint") return cause
  if (typeof cause === "string") return scrubText(cause, secrets)
  if (Redacted.isRedacted(cause)) return cause
  if (typeof cause !== "object") return REDACTED
  const raw = cause as { readonly message?: unknown; readonly name?: unknown; readonly cause?: unknown }
  const message = typeof raw.message === "string" ? scrubText(raw.message, secrets) : ""
  const copy = new ScrubbedCause(message)
  const fields: Record<string, unknown> = copy as unknown as Record<string, unknown>
  if (typeof raw.name === "string") {
    Object.defineProperty(copy, "name", { value: scrubText(raw.name, secrets), enumerable: false, writable: true })
  }
  copyFields(cause, fields, secrets)
  if (raw.cause !== undefined && depth < 4) {
    Object.defineProperty(copy, "cause", { value: scrubCause(raw.cause, secrets, depth + 1), enumerable: false })
  }
  // The stack of the copy points at this function, which is more honest than a scrubbed copy of a foreign one.
  return copy
}
