/**
 * What a URL's TLS options ask for, in one vocabulary for both network dialects: libpq's modes. PostgreSQL's options
 * keep libpq's meaning; the MySQL / MariaDB spellings (`ssl-mode`, `ssl_ca`, `ssl_verify_identity`, ...) are mapped
 * onto the same modes. Pure: files are only named here (read by `tlsFiles.ts`), and every option that cannot be
 * honoured is a problem, never dropped (README, "TLS").
 */
import type { Dialect } from "../Dialect.js"

/** libpq's `sslmode` values; MySQL's DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY map onto them. */
export type TlsMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full"

/** What is checked of the server's certificate when TLS is used: nothing, its chain, or its chain and host name. */
export type Verification = "none" | "chain" | "chain-and-host"

/** A file named by a URL option; the option's name goes into errors, never the path. */
export interface FileRef {
  readonly option: string
  readonly path: string
}

/** What the URL asks for, before any file is read. */
export interface TlsRequest {
  readonly mode: TlsMode
  readonly verification: Verification
  /** The trust anchors: a CA file, Node's CA store ("system"), or Node's CA store by default (undefined). */
  readonly ca?: FileRef | "system" | undefined
  readonly cert?: FileRef | undefined
  readonly key?: FileRef | undefined
  readonly crl?: FileRef | undefined
  /** The option holding the key's passphrase (`sslpassword`), read from the URL's secret options. */
  readonly passphraseOption?: string | undefined
  /** PostgreSQL 17's direct TLS negotiation (`sslnegotiation=direct`). */
  readonly direct: boolean
}

/** One option that cannot be honoured, with a message that quotes no value from the URL except vetted enums. */
export interface TlsOptionProblem {
  readonly option: string
  readonly message: string
}

/** The request, or every problem with the URL's TLS options. */
export type TlsResolution =
  | { readonly _tag: "Ok"; readonly request: TlsRequest }
  | { readonly _tag: "Invalid"; readonly problems: ReadonlyArray<TlsOptionProblem> }

/** No TLS at all: the drivers' default when a URL says nothing (libpq and the MySQL client default to prefer). */
export const plain: TlsRequest = { mode: "disable", verification: "none", direct: false }

const pgModes: ReadonlyArray<TlsMode> = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

const mysqlModes: Readonly<Record<string, TlsMode>> = {
  DISABLED: "disable",
  PREFERRED: "prefer",
  REQUIRED: "require",
  VERIFY_CA: "verify-ca",
  VERIFY_IDENTITY: "verify-full"
}

const truthy = (v: string) => /^(true|1|yes|on)$/i.test(v)
const falsy = (v: string) => /^(false|0|no|off)$/i.test(v)

const verificationOf = (mode: TlsMode, hasCaFile: boolean): Verification =>
  mode === "verify-full"
    ? "chain-and-host"
    : mode === "verify-ca"
    ? "chain"
    : mode !== "disable" && hasCaFile
    ? "chain"
    : "none"

const isVerifying = (mode: TlsMode): boolean => mode === "verify-ca" || mode === "verify-full"

/** The TLS request of a URL's options (query options and secret options by name). */
export const resolve = (
  dialect: Dialect,
  options: Readonly<Record<string, string>>,
  secretOptions: ReadonlySet<string> = new Set()
): TlsResolution =>
  dialect === "postgresql"
    ? resolvePostgres(options, secretOptions)
    : dialect === "mysql"
    ? resolveMysql(options)
    : { _tag: "Ok", request: plain }

const file = (options: Readonly<Record<string, string>>, option: string): FileRef | undefined => {
  const path = options[option]
  return path === undefined ? undefined : { option, path }
}

const done = (problems: ReadonlyArray<TlsOptionProblem>, request: () => TlsRequest): TlsResolution =>
  problems.length > 0 ? { _tag: "Invalid", problems } : { _tag: "Ok", request: request() }

const resolvePostgres = (
  options: Readonly<Record<string, string>>,
  secretOptions: ReadonlySet<string>
): TlsResolution => {
  const problems: Array<TlsOptionProblem> = []
  const problem = (option: string, message: string) => problems.push({ option, message })
  const rootcert = options.sslrootcert
  const system = rootcert !== undefined && rootcert.toLowerCase() === "system"

  let mode: TlsMode | undefined
  const sslmode = options.sslmode?.toLowerCase()
  if (sslmode !== undefined) {
    if ((pgModes as ReadonlyArray<string>).includes(sslmode)) mode = sslmode as TlsMode
    else problem("sslmode", `sslmode must be one of ${pgModes.join(", ")}`)
  }
  // node-postgres's own spelling: ssl=true is TLS verified against Node's CA store, ssl=false no TLS.
  const ssl = options.ssl
  if (ssl !== undefined) {
    if (sslmode !== undefined) problem("ssl", "ssl and sslmode both set TLS: keep sslmode only")
    else if (truthy(ssl)) mode = "verify-full"
    else if (falsy(ssl)) mode = "disable"
    else problem("ssl", "ssl takes true or false here: use sslmode and sslrootcert for anything else")
  }
  if (options.rejectUnauthorized !== undefined) {
    problem(
      "rejectUnauthorized",
      "rejectUnauthorized is not applied: use sslmode=require (TLS without verification), verify-ca or verify-full"
    )
  }
  if (options.uselibpqcompat !== undefined && !truthy(options.uselibpqcompat)) {
    problem("uselibpqcompat", "sslmode always has libpq's meaning here: uselibpqcompat can only be true")
  }
  // libpq 16+: sslrootcert=system means verify-full, and a weaker mode is an error.
  if (system) {
    if (mode === undefined) mode = "verify-full"
    else if (mode !== "verify-full") {
      problem("sslrootcert", "sslrootcert=system needs sslmode=verify-full (libpq refuses weaker modes with it)")
    }
  }
  const ca = system ? "system" as const : file(options, "sslrootcert")
  const cert = file(options, "sslcert")
  const key = file(options, "sslkey")
  const crl = file(options, "sslcrl")
  const passphrase = secretOptions.has("sslpassword") ? "sslpassword" : undefined
  const anyMaterial = [ca, cert, key, crl, passphrase].some((x) => x !== undefined)
  // Material given without a mode turns TLS on, as prefer would, but must not be ignored: ask for a mode.
  if (mode === undefined && anyMaterial) {
    problem("sslmode", "TLS files are given without sslmode: add sslmode=verify-full (or verify-ca, require)")
  }
  const effective = mode ?? "disable"
  // Without a mode the files were reported above, once.
  if (effective === "disable" && mode !== undefined) {
    for (const ref of [ca, cert, key, crl]) {
      if (ref !== undefined) {
        const option = ref === "system" ? "sslrootcert" : ref.option
        problem(option, `${option} has no effect without TLS: remove it or choose another sslmode`)
      }
    }
  }
  if (cert !== undefined && key === undefined) problem("sslkey", "sslcert needs sslkey (the client certificate's key)")
  if (key !== undefined && cert === undefined) problem("sslcert", "sslkey needs sslcert (the client certificate)")
  if (passphrase !== undefined && key === undefined) problem("sslpassword", "sslpassword needs sslkey")
  const verification = verificationOf(effective, ca !== undefined && ca !== "system")
  if (crl !== undefined && verification === "none" && effective !== "disable") {
    problem(
      "sslcrl",
      "sslcrl is only checked with a verified certificate: use verify-ca or verify-full, or sslrootcert"
    )
  }
  const negotiation = options.sslnegotiation?.toLowerCase()
  if (negotiation !== undefined && negotiation !== "postgres" && negotiation !== "direct") {
    problem("sslnegotiation", "sslnegotiation must be postgres or direct")
  }
  const direct = negotiation === "direct"
  // libpq: direct negotiation cannot fall back to plaintext, so it needs require or stronger.
  if (direct && !(effective === "require" || isVerifying(effective))) {
    problem("sslnegotiation", "sslnegotiation=direct needs sslmode=require, verify-ca or verify-full")
  }
  return done(problems, () => ({
    mode: effective,
    verification,
    ...(effective === "disable" ? {} : { ca, cert, key, crl, passphraseOption: passphrase }),
    direct
  }))
}

const MYSQL_MODE_OPTIONS = ["ssl-mode", "sslmode", "ssl_mode"] as const

const resolveMysql = (options: Readonly<Record<string, string>>): TlsResolution => {
  const problems: Array<TlsOptionProblem> = []
  const problem = (option: string, message: string) => problems.push({ option, message })
  const given = MYSQL_MODE_OPTIONS.filter((o) => options[o] !== undefined)
  if (given.length > 1) problem(given[1]!, `${given.join(" and ")} are one setting: keep ssl-mode only`)
  const modeOption = given[0]
  const explicit = modeOption === undefined ? undefined : mysqlModes[options[modeOption]!.toUpperCase()]
  if (modeOption !== undefined && explicit === undefined) {
    problem(modeOption, `${modeOption} must be one of ${Object.keys(mysqlModes).join(", ")}`)
  }
  let sslOn: boolean | undefined
  const ssl = options.ssl
  if (ssl !== undefined) {
    if (modeOption !== undefined) problem("ssl", `ssl and ${modeOption} both set TLS: keep ${modeOption} only`)
    else if (truthy(ssl)) sslOn = true
    else if (falsy(ssl)) sslOn = false
    else problem("ssl", "ssl takes true or false here: use ssl-mode and ssl_ca for anything else")
  }
  if (options.rejectUnauthorized !== undefined) {
    problem(
      "rejectUnauthorized",
      "rejectUnauthorized is not applied: use ssl-mode=REQUIRED (TLS without verification), VERIFY_CA or VERIFY_IDENTITY"
    )
  }
  const flag = (option: string): boolean | undefined => {
    const value = options[option]
    if (value === undefined) return undefined
    if (truthy(value)) return true
    if (falsy(value)) return false
    problem(option, `${option} takes true or false`)
    return undefined
  }
  const verifyCert = flag("ssl_verify_cert")
  const verifyIdentity = flag("ssl_verify_identity")
  const ca = file(options, "ssl_ca")
  const cert = file(options, "ssl_cert")
  const key = file(options, "ssl_key")
  if (verifyCert === false && verifyIdentity === true) {
    problem(
      "ssl_verify_identity",
      "ssl_verify_identity=true needs a verified certificate, which ssl_verify_cert=false turns off"
    )
  }
  let mode: TlsMode
  if (explicit !== undefined) {
    // An explicit mode wins; a flag that says otherwise cannot be honoured.
    const verifies = isVerifying(explicit)
    if (verifyCert === true && !verifies) {
      problem("ssl_verify_cert", "ssl_verify_cert=true needs VERIFY_CA or VERIFY_IDENTITY")
    }
    if (verifyCert === false && verifies) {
      problem("ssl_verify_cert", "ssl_verify_cert=false contradicts a verifying ssl-mode")
    }
    if (verifyIdentity === true && explicit !== "verify-full") {
      problem("ssl_verify_identity", "ssl_verify_identity=true needs VERIFY_IDENTITY")
    }
    if (verifyIdentity === false && explicit === "verify-full") {
      problem("ssl_verify_identity", "ssl_verify_identity=false contradicts VERIFY_IDENTITY: use VERIFY_CA")
    }
    mode = explicit
  } else if (sslOn === false) {
    mode = "disable"
  } else {
    // ssl=true (mysql2's `ssl: {}`) and the PyMySQL / SQLAlchemy spellings: a CA, ssl=true or a verification flag
    // verifies the certificate and the host name unless a flag says otherwise; client files alone verify nothing.
    const wantsTls = sslOn === true || [ca, cert, key].some((x) => x !== undefined) || verifyCert === true ||
      verifyIdentity === true
    const verifies = verifyCert ?? (sslOn === true || ca !== undefined || verifyIdentity === true)
    mode = !wantsTls ? "disable" : !verifies ? "require" : verifyIdentity === false ? "verify-ca" : "verify-full"
  }
  if (mode === "disable") {
    for (const ref of [ca, cert, key]) {
      if (ref !== undefined) {
        problem(ref.option, `${ref.option} has no effect without TLS: remove it or choose another ssl-mode`)
      }
    }
  } else if (ca !== undefined && !isVerifying(mode)) {
    // The MySQL client only warns and verifies nothing; here the CA would be silently unused.
    problem("ssl_ca", "ssl_ca is only used to verify: use ssl-mode=VERIFY_CA or VERIFY_IDENTITY")
  }
  if (cert !== undefined && key === undefined) {
    problem("ssl_key", "ssl_cert needs ssl_key (the client certificate's key)")
  }
  if (key !== undefined && cert === undefined) problem("ssl_cert", "ssl_key needs ssl_cert (the client certificate)")
  return done(problems, () => ({
    mode,
    verification: verificationOf(mode, false),
    ...(mode === "disable" ? {} : { ca, cert, key }),
    direct: false
  }))
}
