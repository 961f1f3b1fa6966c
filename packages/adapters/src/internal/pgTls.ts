/**
 * The node-postgres options for one node's TLS settings, shared by the pool and the health probe so both connect
 * the same way (README, "TLS").
 */
import * as Redacted from "effect/Redacted"
import type { Duplex } from "node:stream"
import type * as tls from "node:tls"
import { NegotiatingStream } from "./pgNegotiation.js"
import type { TlsSettings } from "./tlsFiles.js"

/** What a pg `Client` / `Pool` configuration takes for TLS. */
export interface PgTlsOptions {
  /** Always set (false included): an unset `ssl` would let pg read PGSSLMODE from the environment. */
  readonly ssl: false | tls.ConnectionOptions
  /** allow / prefer: a stream that negotiates TLS itself (pg has neither mode). */
  readonly stream?: (() => Duplex) | undefined
  readonly sslnegotiation?: "direct" | undefined
}

const acceptAnyName = (): undefined => undefined

/** The options Node's TLS gets: what is verified, the trust anchors, the client certificate. */
export const connectionOptions = (settings: TlsSettings): tls.ConnectionOptions => {
  const options: tls.ConnectionOptions = {
    rejectUnauthorized: settings.verification !== "none",
    // verify-ca: the chain is checked, the host name is not (libpq).
    ...(settings.verification === "chain" ? { checkServerIdentity: acceptAnyName } : {}),
    ...(settings.ca === undefined ? {} : { ca: settings.ca }),
    ...(settings.cert === undefined ? {} : { cert: settings.cert }),
    ...(settings.crl === undefined ? {} : { crl: settings.crl })
  }
  // Non-enumerable, as pg does for `key`: a configuration printed or spread never shows key material.
  if (settings.key !== undefined) {
    Object.defineProperty(options, "key", { value: Redacted.value(settings.key), enumerable: false })
  }
  return options
}

/** The pg configuration fields for these settings. */
export const pgTlsOptions = (settings: TlsSettings): PgTlsOptions => {
  if (settings.mode === "disable") return { ssl: false }
  const options = connectionOptions(settings)
  if (settings.mode === "allow" || settings.mode === "prefer") {
    const mode = settings.mode
    return { ssl: false, stream: () => new NegotiatingStream(mode, options) }
  }
  return { ssl: options, ...(settings.direct ? { sslnegotiation: "direct" as const } : {}) }
}
