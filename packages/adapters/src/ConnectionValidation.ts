/**
 * Validation of connection URLs without connecting: every problem at once, each with a message that is safe to log.
 */
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import { InvalidConnectionUrl } from "./AdapterError.js"
import type { ConnectionUrl } from "./ConnectionUrl.js"
import { analyze } from "./internal/analyze.js"
import type { ConnectionProblem } from "./internal/problems.js"

/** One problem of a connection URL (a tagged union with `message` and `severity`), with `$is` / `$match`. */
export { ConnectionProblem } from "./internal/problems.js"

/** How bad a problem is: errors stop `ConnectionUrl.parse`, warnings (insecure TLS) only `validateOrFail`. */
export type { PortProblem, Severity } from "./internal/problems.js"

/**
 * Whether a name given by the user may be echoed in an error: a short identifier that cannot hide a password (a
 * value pasted where a key belongs). Configuration checks everywhere use it for unknown keys.
 */
export { isPrintableName } from "./internal/problems.js"

/** Hosts where traffic never leaves the machine (loopback names and addresses, Unix sockets). */
export { isLocalHost } from "./internal/analyze.js"

/** Every problem of a connection URL; pure, never connects, never throws. */
export const validateDatabaseConnection = (
  url: string | Redacted.Redacted<string>
): ReadonlyArray<ConnectionProblem> => analyze(url).problems

/** Parses a URL that has no problem at all, warnings included; otherwise fails with every problem. */
export const validateOrFail = (
  url: string | Redacted.Redacted<string>
): Effect.Effect<ConnectionUrl, InvalidConnectionUrl> =>
  Effect.suspend(() => {
    const { problems, url: parsed } = analyze(url)
    return problems.length === 0 && parsed !== undefined
      ? Effect.succeed(parsed)
      : Effect.fail(new InvalidConnectionUrl({ problems }))
  })
