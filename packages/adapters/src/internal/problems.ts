/**
 * The problems a connection URL can have. Messages never quote the URL, a host, a port or an option value that
 * came from the input (only vetted names and enumerated values): a mistyped URL may have a password anywhere.
 */
import * as Data from "effect/Data"

/** How bad a problem is: errors stop `ConnectionUrl.parse`, warnings only `validateOrFail`. */
export type Severity = "error" | "warning"

/** Why a port was rejected. */
export type PortProblem = "not-a-number" | "out-of-range"

/** One problem found in a connection URL; every variant has a human `message`. */
export type ConnectionProblem = Data.TaggedEnum<{
  UnknownScheme: { readonly scheme: string; readonly severity: Severity; readonly message: string }
  MalformedUrl: { readonly reason: string; readonly severity: Severity; readonly message: string }
  MissingHost: { readonly severity: Severity; readonly message: string }
  InvalidPort: { readonly reason: PortProblem; readonly severity: Severity; readonly message: string }
  MissingDatabase: { readonly severity: Severity; readonly message: string }
  UnknownOption: { readonly option: string; readonly severity: Severity; readonly message: string }
  /** A known option of the database's own clients that FastORM does not apply; `message` says what to do. */
  UnsupportedOption: { readonly option: string; readonly severity: Severity; readonly message: string }
  /** A known option whose value is not of its kind; `message` says what it takes (never the value given). */
  InvalidOptionValue: { readonly option: string; readonly severity: Severity; readonly message: string }
  InsecureTls: {
    readonly option: string
    readonly value: string
    readonly severity: Severity
    readonly message: string
  }
  MissingSqliteFile: { readonly severity: Severity; readonly message: string }
  InvalidTlsOption: { readonly option: string; readonly severity: Severity; readonly message: string }
}>

/** Constructors, `$is` and `$match` for `ConnectionProblem`. */
export const ConnectionProblem = Data.taggedEnum<ConnectionProblem>()

/** Text that may safely be echoed: a short identifier that cannot hide a password with spaces or punctuation. */
export const isPrintableName = (s: string): boolean => /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(s)

const NOT_SHOWN = "(name not shown)"

/** Makers that compose each problem's message. */
export const problem = {
  unknownScheme: (scheme: string): ConnectionProblem =>
    ConnectionProblem.UnknownScheme({
      scheme,
      severity: "error",
      message: `Unsupported URL scheme "${scheme}": use postgresql://, mysql://, mariadb:// or sqlite://`
    }),
  malformed: (reason: string): ConnectionProblem =>
    ConnectionProblem.MalformedUrl({ reason, severity: "error", message: `Malformed connection URL: ${reason}` }),
  missingHost: (): ConnectionProblem =>
    ConnectionProblem.MissingHost({ severity: "error", message: "The connection URL names no host" }),
  invalidPort: (reason: PortProblem): ConnectionProblem =>
    ConnectionProblem.InvalidPort({
      reason,
      severity: "error",
      message: reason === "not-a-number"
        ? "The port in the connection URL is not a number"
        : "The port in the connection URL is not between 1 and 65535"
    }),
  missingDatabase: (): ConnectionProblem =>
    ConnectionProblem.MissingDatabase({
      severity: "error",
      message: "The connection URL names no database (add /<database> after the host)"
    }),
  unsupportedOption: (option: string, instead: string): ConnectionProblem =>
    ConnectionProblem.UnsupportedOption({
      option,
      severity: "error",
      message: `Connection option "${option}" is not applied by FastORM: ${instead}`
    }),
  invalidOptionValue: (option: string, expected: string): ConnectionProblem =>
    ConnectionProblem.InvalidOptionValue({
      option,
      severity: "error",
      message: `Connection option "${option}" takes ${expected}`
    }),
  unknownOption: (name: string): ConnectionProblem => {
    const option = isPrintableName(name) ? name : NOT_SHOWN
    return ConnectionProblem.UnknownOption({
      option,
      severity: "error",
      message: option === NOT_SHOWN
        ? "The connection URL has an option with an unexpected name (not shown, it may hold a secret)"
        : `Unknown connection option "${option}" for this database`
    })
  },
  insecureTls: (option: string, value: string, why: string): ConnectionProblem =>
    ConnectionProblem.InsecureTls({
      option,
      value,
      severity: "warning",
      message: `Insecure TLS setting ${option}=${value}: ${why}`
    }),
  invalidTlsOption: (option: string, message: string): ConnectionProblem =>
    ConnectionProblem.InvalidTlsOption({ option, severity: "error", message }),
  missingSqliteFile: (): ConnectionProblem =>
    ConnectionProblem.MissingSqliteFile({
      severity: "error",
      message: "The SQLite URL names no file: use sqlite:///relative.db, sqlite:////absolute.db or sqlite://:memory:"
    })
}
