/**
 * Typed errors of the adapters. None of them ever holds a password or a whole URL: messages are built from vetted
 * pieces, and a foreign cause is replaced by a scrubbed copy (ARCHITECTURE.md, "Secrets").
 */
import * as Data from "effect/Data"
import type * as Redacted from "effect/Redacted"
import type { DriverPackage } from "./Dialect.js"
import * as Deadline from "./internal/deadline.js"
import * as InternalDiagnosis from "./internal/diagnosis.js"
import type { ConnectionProblem } from "./internal/problems.js"
import { scrubCause, scrubText } from "./internal/redact.js"

/** The URL scheme names no dialect FastORM supports. */
export class UnsupportedScheme extends Data.TaggedError("UnsupportedScheme")<{ readonly scheme: string }> {
  override get message(): string {
    return `Unsupported database URL scheme "${this.scheme}": use postgresql://, mysql://, mariadb:// or sqlite://`
  }
}

/** The connection URL has problems; `problems` lists every one. */
export class InvalidConnectionUrl extends Data.TaggedError("InvalidConnectionUrl")<{
  readonly problems: ReadonlyArray<ConnectionProblem>
}> {
  override get message(): string {
    return `Invalid connection URL: ${this.problems.map((p) => p.message).join("; ")}`
  }
}

/** The connection settings (`pool` / adapter `config`) have problems; `problems` lists every one. */
export class InvalidPoolConfig extends Data.TaggedError("InvalidPoolConfig")<{
  readonly problems: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Invalid connection settings: ${this.problems.join("; ")}`
  }
}

/** One TLS setting that cannot be used: the URL option it came from, the system or OpenSSL code, what is wrong. */
export interface TlsConfigProblem {
  readonly option: string
  readonly code?: string | undefined
  readonly reason: string
}

/**
 * The TLS files a URL names cannot be used (missing, unreadable, no certificate in a CA file, a key that its
 * passphrase does not open); `problems` lists every one by option, never by path or contents.
 */
export class InvalidTlsConfig extends Data.TaggedError("InvalidTlsConfig")<{
  readonly problems: ReadonlyArray<TlsConfigProblem>
}> {
  override get message(): string {
    return `Invalid TLS settings: ${
      this.problems.map((p) => `${p.option}: ${p.reason}${p.code === undefined ? "" : ` (${p.code})`}`).join("; ")
    }`
  }
}

/** The driver package (or its @effect/sql wrapper) is not installed; `install` is the command that fixes it. */
export class DriverNotInstalled extends Data.TaggedError("DriverNotInstalled")<{
  readonly driver: DriverPackage
  readonly install: string
}> {
  override get message(): string {
    return `The database driver "${this.driver}" is not installed: run ${this.install}`
  }
}

/** What a connection failure's cause chain says happened: its kind, the driver's code, a sentence naming both. */
export type Diagnosis = InternalDiagnosis.Diagnosis

/**
 * Reads a cause chain (`SqlError.cause`, `Error.cause`, `AggregateError.errors`) and says what went wrong when
 * connecting: "connection refused (ECONNREFUSED)", "authentication failed (28P01): ...". Pure; the text is the
 * driver's own words, so scrub it (as `ConnectionFailed` does) before showing a cause that may hold a secret.
 */
export const diagnose: (cause: unknown) => Diagnosis = InternalDiagnosis.diagnose

/**
 * The driver-level cause of a bound that passed with no answer from the server (a statement's deadline, a connect, a
 * checkout): connection-class (`ETIMEDOUT`), so routers take the node to be at fault and run a read elsewhere. The one
 * cause every layer's deadline gives (adapters' own, and a router's around them).
 */
export const noAnswer: (text: string) => Error = Deadline.noAnswer

/** The kind of a connection failure: refused, host not found, login refused, no answer, TLS, closed, or other. */
export type NodeProblem = "refused" | "hostNotFound" | "authentication" | "timeout" | "tls" | "closed" | "other"

/**
 * Connecting to a node failed; `node` is its alias (never its URL), `problem` and `code` say what happened (read
 * from the driver's cause chain), `cause` is a scrubbed copy of the cause. The message names the problem and the
 * driver's code, e.g. `Could not connect to database node "primary": connection refused (ECONNREFUSED)`.
 */
export class ConnectionFailed extends Data.TaggedError("ConnectionFailed")<{
  readonly node: string
  readonly problem: NodeProblem
  /** The driver's code the problem was read from (ECONNREFUSED, ENOTFOUND, 28P01, ER_ACCESS_DENIED_ERROR, ...). */
  readonly code?: string | undefined
  /** What happened, in words, with the code: "connection refused (ECONNREFUSED)". */
  readonly detail: string
  /** Our own account of what went wrong when there is no cause, e.g. "no answer within 5 seconds". */
  readonly reason?: string | undefined
  readonly cause?: unknown
}> {
  constructor(args: {
    readonly node: string
    readonly reason?: string | undefined
    /** The kind of failure when `reason` is our own account (no cause to read it from). Default "other". */
    readonly problem?: NodeProblem | undefined
    readonly cause?: unknown
    /** Secrets to blank out of the alias, reason and cause as well, such as the node's password. */
    readonly secrets?: ReadonlyArray<Redacted.Redacted<string>> | undefined
  }) {
    // Everything is scrubbed, the alias too: callers have been known to use the URL itself as the node name.
    const cause = args.cause === undefined ? undefined : scrubCause(args.cause, args.secrets)
    const reason = args.reason === undefined ? undefined : scrubText(args.reason, args.secrets)
    const found = cause === undefined ? undefined : InternalDiagnosis.diagnose(cause)
    super({
      node: scrubText(args.node, args.secrets),
      problem: args.problem ?? found?.problem ?? "other",
      ...(found?.code === undefined ? {} : { code: found.code }),
      detail: reason ?? scrubText(found?.text ?? "connection failed", args.secrets),
      ...(reason === undefined ? {} : { reason }),
      ...(cause === undefined ? {} : { cause })
    })
  }

  override get message(): string {
    return `Could not connect to database node "${this.node}": ${this.detail}`
  }
}

/** A server answered with a version string FastORM cannot read. */
export class UnrecognizedServerVersion extends Data.TaggedError("UnrecognizedServerVersion")<{
  readonly product: string
  /** What the server said, shortened; version strings hold no secrets. */
  readonly raw: string
}> {
  override get message(): string {
    return `Cannot read the ${this.product} server version from "${this.raw}"`
  }
}
