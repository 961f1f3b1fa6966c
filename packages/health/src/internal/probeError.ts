/**
 * The probe failure type and the conversion of driver errors into it, scrubbed of secrets.
 */
import * as Data from "effect/Data"
import * as Redacted from "effect/Redacted"
import { classify } from "../ErrorClassification.js"

/** Why a probe failed; `detail` never holds a password. */
export class ProbeError extends Data.TaggedError("ProbeError")<{
  readonly node: string
  readonly reason: "Connection" | "Authentication" | "Statement" | "Timeout"
  /** The driver code the reason was decided on, if any. */
  readonly code?: string | undefined
  readonly detail: string
}> {
  override get message(): string {
    return `Health probe of "${this.node}" failed (${this.reason}${
      this.code === undefined ? "" : ` ${this.code}`
    }): ${this.detail}`
  }
}

/** Blanks every secret out of a text; drivers sometimes echo connection strings in their messages. */
export const scrub = (text: string, secrets: ReadonlyArray<Redacted.Redacted<string> | undefined>): string => {
  let out = text
  for (const secret of secrets) {
    if (secret === undefined) continue
    const value = Redacted.value(secret)
    if (value.length > 0) out = out.split(value).join("***")
  }
  // A URL with credentials anywhere in the text loses its password too.
  return out.replace(/(\w+:\/\/[^:/?#\s]*:)[^@/\s]*@/g, "$1***@")
}

/** Turns a driver error into a `ProbeError`: classified (`ErrorClassification`), with a short password-free detail. */
export const fromCause = (
  node: string,
  cause: unknown,
  secrets: ReadonlyArray<Redacted.Redacted<string> | undefined>
): ProbeError => {
  const verdict = classify(cause)
  const raw = typeof cause === "object" && cause !== null && typeof (cause as Error).message === "string"
    ? (cause as Error).message
    : String(cause)
  const codeOf = (cause as { code?: unknown } | undefined)?.code
  const code = verdict.code ?? (typeof codeOf === "string" ? codeOf : undefined)
  return new ProbeError({
    node,
    // A pooler that had no connection free for the probe answered it with an error, as a server would.
    reason: verdict._tag === "Busy" ? "Statement" : verdict._tag,
    ...(code === undefined ? {} : { code }),
    detail: scrub(raw.length > 300 ? `${raw.slice(0, 300)}...` : raw, secrets) || "no message"
  })
}
