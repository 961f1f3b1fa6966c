/**
 * TLS against the PostgreSQL test cluster (`ssl = on`, a private CA, a `hostssl ... cert` rule for CERT_USER): every
 * sslmode connects or is refused as libpq decides, through the adapter's pool and its errors (README, "TLS").
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import type { ClusterInfo } from "@fastorm/test-support"
import {
  CERT_USER,
  CLIENT_KEY_PASSPHRASE,
  loadCluster,
  PLAINTEXT_USER,
  TlsFront,
  withOptions
} from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { AdapterError as Errors } from "../src/index.js"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster: ClusterInfo = loadCluster()
const primary = cluster.postgres.primary
const tls = cluster.tls

/** What a connection turned out to be, or how it was refused. */
type Outcome =
  | { readonly encrypted: boolean; readonly user: string }
  | { readonly problem: string; readonly code: string | undefined; readonly detail: string }

/** Makes the adapter (files read), opens a connection and asks the server whether it is encrypted, and as whom. */
const connect = (url: string) =>
  Effect.gen(function*() {
    const adapter = yield* DatabaseAdapterFactory.create(url)
    const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
      const client = yield* adapter.makeClient({ verify: true })
      const rows = yield* client.unsafe<{ user: string; ssl: boolean }>(
        "SELECT current_user AS user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
      )
      return rows[0]!
    })))
    if (Exit.isSuccess(exit)) return { encrypted: exit.value.ssl, user: exit.value.user } as Outcome
    const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
    if (error?._tag !== "ConnectionFailed") return yield* Effect.die(exit)
    const failed = error as Errors.ConnectionFailed
    return { problem: failed.problem, code: failed.code, detail: failed.detail } as Outcome
  }).pipe(Effect.provide(Reactivity.layer))

const ca = { sslrootcert: tls.ca }
const clientCert = { sslcert: tls.clientCert, sslkey: tls.clientKey }
const asCertUser = { user: CERT_USER }
const tlsAs = (user: string) => ({ encrypted: true, user })
const plainAs = (user: string) => ({ encrypted: false, user })
const refused = (code: string, words: RegExp) => ({ problem: "tls", code, words })

type Expected = { readonly encrypted: boolean; readonly user: string } | ReturnType<typeof refused>

const check = (outcome: Outcome, expected: Expected) => {
  if ("words" in expected) {
    expect(outcome).toMatchObject({ problem: expected.problem, code: expected.code })
    expect((outcome as { detail: string }).detail).toMatch(expected.words)
  } else {
    expect(outcome).toEqual(expected)
  }
}

const untrusted = refused("SELF_SIGNED_CERT_IN_CHAIN", /^untrusted server certificate .*sslrootcert/)

// The server: TLS on, any login may use it; CERT_USER only over TLS with its certificate.
const direct: ReadonlyArray<readonly [string, Record<string, string>, Expected, { user: string }?]> = [
  ["no TLS option: plaintext (node-postgres's default)", {}, plainAs("app")],
  ["disable: plaintext", { sslmode: "disable" }, plainAs("app")],
  ["allow: plaintext first, and the server accepts it", { sslmode: "allow" }, plainAs("app")],
  ["prefer: TLS", { sslmode: "prefer" }, tlsAs("app")],
  ["require: TLS without verification", { sslmode: "require" }, tlsAs("app")],
  ["require with sslrootcert verifies the chain (libpq): the private CA", { sslmode: "require", ...ca }, tlsAs("app")],
  ["require with sslrootcert verifies the chain: another CA is refused", {
    sslmode: "require",
    sslrootcert: tls.otherCa
  }, untrusted],
  ["verify-ca with the private CA", { sslmode: "verify-ca", ...ca }, tlsAs("app")],
  ["verify-full with the private CA", { sslmode: "verify-full", ...ca }, tlsAs("app")],
  ["verify-full without sslrootcert (Node's CA store) is refused, saying why", { sslmode: "verify-full" }, untrusted],
  ["verify-full with sslrootcert=system is refused", { sslmode: "verify-full", sslrootcert: "system" }, untrusted],
  ["sslrootcert=system alone means verify-full (libpq 16)", { sslrootcert: "system" }, untrusted],
  ["verify-full with another CA is refused", { sslmode: "verify-full", sslrootcert: tls.otherCa }, untrusted],
  [
    "prefer falls back to plaintext when TLS fails (libpq)",
    { sslmode: "prefer", sslrootcert: tls.otherCa },
    plainAs(
      "app"
    )
  ],
  ["verify-full with a CRL that revokes nothing", { sslmode: "verify-full", ...ca, sslcrl: tls.crl }, tlsAs("app")],
  ["verify-full with a CRL that revokes the server certificate", {
    sslmode: "verify-full",
    ...ca,
    sslcrl: tls.revokingCrl
  }, refused("CERT_REVOKED", /^server certificate revoked/)],
  [
    "the certificate user with its certificate",
    { sslmode: "verify-full", ...ca, ...clientCert },
    tlsAs(CERT_USER),
    asCertUser
  ],
  [
    "the certificate user without a certificate is refused",
    { sslmode: "verify-full", ...ca },
    refused(
      "28000",
      /^client certificate refused \(28000\): connection requires a valid client certificate/
    ),
    asCertUser
  ],
  [
    "the certificate user with its encrypted key and sslpassword",
    {
      sslmode: "verify-full",
      ...ca,
      sslcert: tls.clientCert,
      sslkey: tls.clientKeyEncrypted,
      sslpassword: CLIENT_KEY_PASSPHRASE
    },
    tlsAs(CERT_USER),
    asCertUser
  ],
  [
    "allow: the server refuses plaintext to the certificate user, the retry over TLS connects",
    {
      sslmode: "allow",
      ...clientCert
    },
    tlsAs(CERT_USER),
    asCertUser
  ],
  ["prefer: the certificate user over TLS at once", { sslmode: "prefer", ...clientCert }, tlsAs(CERT_USER), asCertUser]
]

describe("PostgreSQL TLS: each sslmode against a TLS server", () => {
  for (const [name, options, expected, login] of direct) {
    it.live(name, () =>
      Effect.gen(function*() {
        check(yield* connect(withOptions(primary.url, options, login)), expected)
      }))
  }

  it.live("prefer: the server refuses TLS to the plaintext user at its first answer, the retry in plaintext connects", () =>
    Effect.gen(function*() {
      const url = primary.url.replace(/^postgres:\/\/app:/, `postgres://${PLAINTEXT_USER}:`)
      check(yield* connect(withOptions(url, { sslmode: "prefer" })), plainAs(PLAINTEXT_USER))
      const refusedOverTls = yield* connect(withOptions(url, { sslmode: "require" }))
      expect(refusedOverTls).toMatchObject({ problem: "authentication", code: "28000" })
      expect((refusedOverTls as { detail: string }).detail).toMatch(/SSL encryption/)
    }))

  it.live("disable: the certificate user is refused by the server's hostnossl reject rule", () =>
    Effect.gen(function*() {
      const outcome = yield* connect(withOptions(primary.url, { sslmode: "disable" }, asCertUser))
      expect(outcome).toMatchObject({ problem: "authentication", code: "28000" })
      expect((outcome as { detail: string }).detail).toMatch(/no encryption/)
    }))
})

describe("PostgreSQL TLS: host names", () => {
  it.live("verify-full by the name localhost, which the certificate lists", () =>
    Effect.gen(function*() {
      check(
        yield* connect(
          withOptions(primary.url.replace("@127.0.0.1:", "@localhost:"), { sslmode: "verify-full", ...ca })
        ),
        tlsAs("app")
      )
    }))
})

describe("PostgreSQL TLS: a host name the certificate does not list (127.0.0.2)", () => {
  const rows: ReadonlyArray<readonly [string, Record<string, string>, Expected]> = [
    [
      "verify-full is refused",
      { sslmode: "verify-full", ...ca },
      refused(
        "ERR_TLS_CERT_ALTNAME_INVALID",
        /^the host name does not match the server certificate/
      )
    ],
    ["verify-ca checks no host name: it connects", { sslmode: "verify-ca", ...ca }, tlsAs("app")],
    ["require checks nothing: it connects", { sslmode: "require" }, tlsAs("app")]
  ]
  for (const [name, options, expected] of rows) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const front = yield* TlsFront.make(primary, "otherAddress")
        check(yield* connect(withOptions(front.url(primary), options)), expected)
      }))
  }
})

describe("PostgreSQL TLS: a server without TLS", () => {
  const noTls = refused("", /^the server does not support TLS/)
  const rows: ReadonlyArray<readonly [string, Record<string, string>, Expected]> = [
    ["disable: plaintext", { sslmode: "disable" }, plainAs("app")],
    ["allow: plaintext", { sslmode: "allow" }, plainAs("app")],
    ["prefer: plaintext after the server's no", { sslmode: "prefer" }, plainAs("app")],
    ["require is refused", { sslmode: "require" }, noTls],
    ["verify-full is refused", { sslmode: "verify-full", ...ca }, noTls]
  ]
  for (const [name, options, expected] of rows) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const front = yield* TlsFront.make(primary, "withoutTls")
        const outcome = yield* connect(withOptions(front.url(primary), options))
        if ("words" in expected) {
          expect(outcome).toMatchObject({ problem: "tls" })
          expect((outcome as { detail: string }).detail).toMatch(expected.words)
        } else {
          check(outcome, expected)
        }
        if (options.sslmode !== "disable" && options.sslmode !== "allow") expect(front.declined()).toBeGreaterThan(0)
      }))
  }
})

describe("PostgreSQL TLS: files are read when the adapter is made", () => {
  const createError = (options: Record<string, string>, login?: { user: string }) =>
    Effect.flip(DatabaseAdapterFactory.create(withOptions(primary.url, options, login)))

  it.effect("a missing sslrootcert is a typed error naming the option, not the path", () =>
    Effect.gen(function*() {
      const error = yield* createError({ sslmode: "verify-full", sslrootcert: `${tls.dir}/no-such-ca.pem` })
      expect(error._tag).toBe("InvalidTlsConfig")
      expect(error.message).toBe("Invalid TLS settings: sslrootcert: cannot read the file: no such file (ENOENT)")
      expect(error.message).not.toContain(tls.dir)
    }))

  it.effect("a CA file without a certificate, and a key that its passphrase does not open", () =>
    Effect.gen(function*() {
      const error = yield* createError({
        sslmode: "verify-full",
        sslrootcert: tls.clientKey,
        sslcert: tls.clientCert,
        sslkey: tls.clientKeyEncrypted,
        sslpassword: "not-the-passphrase"
      }, asCertUser)
      expect(error.message).toBe(
        "Invalid TLS settings: sslrootcert: the file holds no PEM certificate; " +
          "sslpassword: the passphrase does not open the key (ERR_OSSL_BAD_DECRYPT)"
      )
    }))

  it.effect("an encrypted key without sslpassword", () =>
    Effect.gen(function*() {
      const error = yield* createError({ sslmode: "require", sslcert: tls.clientCert, sslkey: tls.clientKeyEncrypted })
      expect(error.message).toMatch(
        /^Invalid TLS settings: sslkey: the key is encrypted and no passphrase \(sslpassword\) is given/
      )
    }))
})
