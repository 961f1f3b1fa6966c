/**
 * TLS for PostgreSQL and MySQL / MariaDB nodes. The URL's options keep libpq's meaning for PostgreSQL and the MySQL
 * clients' for MySQL / MariaDB, mapped onto one set of modes; the files they name are read once, when the adapter is
 * made (README, "TLS").
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { InvalidTlsConfig } from "./AdapterError.js"
import type { ConnectionUrl } from "./ConnectionUrl.js"
import * as Request from "./internal/tls.js"
import * as Files from "./internal/tlsFiles.js"

/** libpq's `sslmode` values; MySQL's DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY map onto them. */
export type TlsMode = Request.TlsMode

/** What is checked of the server's certificate when TLS is used: nothing, its chain, or its chain and host name. */
export type Verification = Request.Verification

/** One node's TLS settings, files read; the key and its passphrase are `Redacted`. */
export type TlsSettings = Files.TlsSettings

/** No TLS: what a URL without TLS options gets (the Node drivers' default). */
export const plain: TlsSettings = { mode: "disable", verification: "none", direct: false }

/** The TLS settings of a parsed URL, files read and checked; every problem at once. */
export const fromUrl = (url: ConnectionUrl): Either.Either<TlsSettings, InvalidTlsConfig> => {
  // A URL from ConnectionUrl.parse has passed this resolution already; a hand-made one may not have.
  const resolved = Request.resolve(url.dialect, url.options, new Set(Object.keys(url.secretOptions)))
  if (resolved._tag === "Invalid") {
    return Either.left(
      new InvalidTlsConfig({ problems: resolved.problems.map((p) => ({ option: p.option, reason: p.message })) })
    )
  }
  if (resolved.request.mode === "disable") return Either.right(plain)
  return Either.mapLeft(
    Files.load(resolved.request, url.secretOptions),
    (problems) => new InvalidTlsConfig({ problems })
  )
}

/** `fromUrl` as an Effect. */
export const load = (url: ConnectionUrl): Effect.Effect<TlsSettings, InvalidTlsConfig> =>
  Effect.suspend(() => Either.match(fromUrl(url), { onLeft: Effect.fail, onRight: Effect.succeed }))
