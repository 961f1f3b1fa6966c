/**
 * Reads the files a URL's TLS options name, once, when the adapter is made, and checks that Node's TLS can use them
 * (a CA file that holds a certificate, a key that matches its certificate and opens with its passphrase), so a bad
 * file is a typed error naming the option before anything connects. Errors name options and codes, never a path or
 * file contents (README, "TLS").
 */
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { createPrivateKey, X509Certificate } from "node:crypto"
import { readFileSync } from "node:fs"
import { createSecureContext } from "node:tls"
import type { FileRef, TlsMode, TlsRequest, Verification } from "./tls.js"

/** The TLS settings of one node, files read: what the drivers and the health probes apply. */
export interface TlsSettings {
  readonly mode: TlsMode
  readonly verification: Verification
  /** The trust anchors (PEM); undefined: Node's CA store. */
  readonly ca?: Buffer | undefined
  /** The client certificate (PEM). */
  readonly cert?: Buffer | undefined
  /**
   * The client certificate's key (PEM), already opened with its passphrase (`sslpassword`) when it had one, so no
   * driver needs the passphrase; `Redacted`, so printing the settings never shows it.
   */
  readonly key?: Redacted.Redacted<Buffer> | undefined
  /** Certificate revocation lists (PEM). */
  readonly crl?: Buffer | undefined
  /** PostgreSQL 17's direct TLS negotiation. */
  readonly direct: boolean
}

/** Why one TLS file cannot be used: the option that names it, the system or OpenSSL code, what is wrong. */
export interface TlsFileProblem {
  readonly option: string
  readonly code?: string | undefined
  readonly reason: string
}

const fileReasons: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "a directory, not a file",
  ENOTDIR: "a path through something that is not a directory"
}

const codeOf = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : undefined
}

// OpenSSL's own words ("error:1C800064:Provider routines::bad decrypt") name the failure without key material.
const opensslReason = (e: unknown): string => {
  const message = (e as { message?: unknown } | null)?.message
  const text = typeof message === "string" ? message : "unusable"
  return text.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/, "").slice(0, 120)
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/**
 * Checks the client certificate and its key, one at a time so the problem names the right option, and returns the key
 * in clear PEM: an encrypted key is opened here once, so no driver needs its passphrase.
 */
const checkClientFiles = (
  certOption: string,
  cert: Buffer,
  keyOption: string,
  key: Buffer,
  passphraseOption: string | undefined,
  passphrase: Redacted.Redacted<string> | undefined,
  problems: Array<TlsFileProblem>
): Buffer | undefined => {
  let clear: Buffer | undefined
  try {
    clear = Buffer.from(
      createPrivateKey({
        key,
        format: "pem",
        // An empty passphrase, not none: Node would otherwise ask the terminal for one.
        passphrase: passphrase === undefined ? "" : Redacted.value(passphrase)
      }).export({ type: "pkcs8", format: "pem" })
    )
  } catch (e) {
    const code = codeOf(e)
    const encrypted = /ENCRYPTED/.test(key.toString("latin1"))
    problems.push(
      encrypted && passphrase === undefined
        ? { option: keyOption, code, reason: "the key is encrypted and no passphrase (sslpassword) is given" }
        : encrypted || code === "ERR_OSSL_BAD_DECRYPT"
        ? { option: passphraseOption ?? keyOption, code, reason: "the passphrase does not open the key" }
        : { option: keyOption, code, reason: "the file holds no usable private key" }
    )
  }
  try {
    new X509Certificate(cert)
  } catch (e) {
    problems.push({ option: certOption, code: codeOf(e), reason: "the file holds no usable certificate" })
    return undefined
  }
  if (clear === undefined) return undefined
  try {
    createSecureContext({ cert, key: clear })
  } catch (e) {
    const code = codeOf(e)
    problems.push(
      code === "ERR_OSSL_X509_KEY_VALUES_MISMATCH"
        ? { option: keyOption, code, reason: "the key does not belong to the client certificate" }
        : { option: certOption, code, reason: `the certificate or its key is unusable: ${opensslReason(e)}` }
    )
    return undefined
  }
  return clear
}

/** Reads and checks the request's files (the passphrase from the URL's secret options); every problem at once. */
export const load = (
  request: TlsRequest,
  secretOptions: Readonly<Record<string, Redacted.Redacted<string>>>
): Either.Either<TlsSettings, ReadonlyArray<TlsFileProblem>> => {
  const problems: Array<TlsFileProblem> = []
  const read = (ref: FileRef | undefined): Buffer | undefined => {
    if (ref === undefined) return undefined
    try {
      return readFileSync(ref.path)
    } catch (e) {
      const code = codeOf(e)
      problems.push({
        option: ref.option,
        code,
        reason: `cannot read the file: ${fileReasons[code ?? ""] ?? "unreadable"}`
      })
      return undefined
    }
  }
  const ca = request.ca === "system" ? undefined : read(request.ca)
  const cert = read(request.cert)
  const key = read(request.key)
  const crl = read(request.crl)
  const passphrase = request.passphraseOption === undefined ? undefined : secretOptions[request.passphraseOption]
  if (ca !== undefined && request.ca !== undefined && request.ca !== "system") {
    // Node ignores a CA file without a certificate in it, which would leave nothing trusted: say so here.
    const blocks = ca.toString("latin1").match(PEM_CERTIFICATE) ?? []
    if (blocks.length === 0) {
      problems.push({ option: request.ca.option, reason: "the file holds no PEM certificate" })
    } else {
      for (const block of blocks) {
        try {
          new X509Certificate(block)
        } catch (e) {
          problems.push({
            option: request.ca.option,
            code: codeOf(e),
            reason: "a certificate in the file is unreadable"
          })
          break
        }
      }
    }
  }
  if (crl !== undefined && request.crl !== undefined) {
    try {
      createSecureContext({ crl })
    } catch (e) {
      problems.push({ option: request.crl.option, code: codeOf(e), reason: `not a usable CRL: ${opensslReason(e)}` })
    }
  }
  let clearKey: Buffer | undefined
  if (cert !== undefined && key !== undefined && request.cert !== undefined && request.key !== undefined) {
    clearKey = checkClientFiles(
      request.cert.option,
      cert,
      request.key.option,
      key,
      request.passphraseOption,
      passphrase,
      problems
    )
  }
  if (problems.length > 0) return Either.left(problems)
  return Either.right({
    mode: request.mode,
    verification: request.verification,
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(clearKey === undefined ? {} : { key: Redacted.make(clearKey) }),
    ...(crl === undefined ? {} : { crl }),
    direct: request.direct
  })
}
