/**
 * TLS against the MariaDB test cluster (ssl-ca / ssl-cert / ssl-key from a private CA, CERT_USER `REQUIRE X509`):
 * each ssl-mode and the PyMySQL / SQLAlchemy spellings connect or are refused as the MySQL client decides, through
 * the adapter's pool and its errors (README, "TLS").
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import type { ClusterInfo } from "@fastorm/test-support"
import { CERT_USER, loadCluster, TlsFront, withOptions } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { AdapterError as Errors } from "../src/index.js"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster: ClusterInfo = loadCluster()
const primary = cluster.mariadb.primary
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
      const rows = yield* client.unsafe<{ user: string; cipher: string }>(
        "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AS user, VARIABLE_VALUE AS cipher " +
          "FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'"
      )
      return rows[0]!
    })))
    if (Exit.isSuccess(exit)) return { encrypted: exit.value.cipher !== "", user: exit.value.user } as Outcome
    const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
    if (error?._tag !== "ConnectionFailed") return yield* Effect.die(exit)
    const failed = error as Errors.ConnectionFailed
    return { problem: failed.problem, code: failed.code, detail: failed.detail } as Outcome
  }).pipe(Effect.provide(Reactivity.layer))

const ca = { ssl_ca: tls.ca }
const clientCert = { ssl_cert: tls.clientCert, ssl_key: tls.clientKey }
const asCertUser = { user: CERT_USER }
const tlsAs = (user: string) => ({ encrypted: true, user })
const plainAs = (user: string) => ({ encrypted: false, user })
const refused = (problem: string, code: string, words: RegExp) => ({ problem, code, words })

type Expected = { readonly encrypted: boolean; readonly user: string } | ReturnType<typeof refused>

const check = (outcome: Outcome, expected: Expected) => {
  if ("words" in expected) {
    expect(outcome).toMatchObject({ problem: expected.problem, code: expected.code })
    expect((outcome as { detail: string }).detail).toMatch(expected.words)
  } else {
    expect(outcome).toEqual(expected)
  }
}

const untrusted = refused("tls", "SELF_SIGNED_CERT_IN_CHAIN", /^untrusted server certificate .*ssl_ca/)

// The server: TLS offered to everyone; CERT_USER only with a client certificate the CA signed.
const direct: ReadonlyArray<readonly [string, Record<string, string>, Expected, { user: string }?]> = [
  ["no TLS option: plaintext (mysql2's default)", {}, plainAs("app")],
  ["DISABLED: plaintext", { "ssl-mode": "DISABLED" }, plainAs("app")],
  ["PREFERRED: TLS", { "ssl-mode": "PREFERRED" }, tlsAs("app")],
  ["REQUIRED: TLS without verification", { "ssl-mode": "REQUIRED" }, tlsAs("app")],
  ["VERIFY_CA with the private CA", { "ssl-mode": "VERIFY_CA", ...ca }, tlsAs("app")],
  ["VERIFY_IDENTITY with the private CA", { "ssl-mode": "VERIFY_IDENTITY", ...ca }, tlsAs("app")],
  [
    "VERIFY_IDENTITY without ssl_ca (Node's CA store) is refused, saying why",
    { "ssl-mode": "VERIFY_IDENTITY" },
    untrusted
  ],
  ["VERIFY_CA with another CA is refused", { "ssl-mode": "VERIFY_CA", ssl_ca: tls.otherCa }, untrusted],
  ["sslmode and ssl_mode are ssl-mode's other spellings", { ssl_mode: "verify_identity", ...ca }, tlsAs("app")],
  ["ssl_ca alone verifies the certificate and the host name", { ...ca }, tlsAs("app")],
  ["ssl=true verifies against Node's CA store: refused", { ssl: "true" }, untrusted],
  ["ssl=true with ssl_ca", { ssl: "true", ...ca }, tlsAs("app")],
  ["ssl_verify_cert=false: TLS without verification", { ssl: "true", ssl_verify_cert: "false" }, tlsAs("app")],
  [
    "the certificate user with its certificate (REQUIRE X509)",
    { "ssl-mode": "VERIFY_IDENTITY", ...ca, ...clientCert },
    tlsAs(
      CERT_USER
    ),
    asCertUser
  ],
  [
    "the certificate user with client files alone (TLS, nothing verified)",
    { ...clientCert },
    tlsAs(CERT_USER),
    asCertUser
  ],
  [
    "the certificate user without a certificate is refused",
    { "ssl-mode": "VERIFY_IDENTITY", ...ca },
    refused(
      "authentication",
      "ER_ACCESS_DENIED_ERROR",
      /^authentication failed/
    ),
    asCertUser
  ]
]

describe("MariaDB TLS: each ssl-mode against a TLS server", () => {
  for (const [name, options, expected, login] of direct) {
    it.live(name, () =>
      Effect.gen(function*() {
        check(yield* connect(withOptions(primary.url, options, login)), expected)
      }))
  }
})

describe("MariaDB TLS: host names", () => {
  it.live("VERIFY_IDENTITY by the name localhost, which the certificate lists", () =>
    Effect.gen(function*() {
      check(
        yield* connect(
          withOptions(primary.url.replace("@127.0.0.1:", "@localhost:"), { "ssl-mode": "VERIFY_IDENTITY", ...ca })
        ),
        tlsAs("app")
      )
    }))
})

describe("MariaDB TLS: a host name the certificate does not list (127.0.0.2)", () => {
  const rows: ReadonlyArray<readonly [string, Record<string, string>, Expected]> = [
    [
      "VERIFY_IDENTITY is refused",
      { "ssl-mode": "VERIFY_IDENTITY", ...ca },
      refused(
        "tls",
        "ERR_TLS_CERT_ALTNAME_INVALID",
        /^the host name does not match the server certificate/
      )
    ],
    ["VERIFY_CA checks no host name: it connects", { "ssl-mode": "VERIFY_CA", ...ca }, tlsAs("app")],
    [
      "ssl_verify_identity=false with ssl_ca is VERIFY_CA: it connects",
      { ...ca, ssl_verify_identity: "false" },
      tlsAs(
        "app"
      )
    ],
    ["REQUIRED checks nothing: it connects", { "ssl-mode": "REQUIRED" }, tlsAs("app")]
  ]
  for (const [name, options, expected] of rows) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const front = yield* TlsFront.make(primary, "otherAddress")
        check(yield* connect(withOptions(front.url(primary), options)), expected)
      }))
  }
})

describe("MariaDB TLS: a server without TLS", () => {
  const noTls = refused("tls", "HANDSHAKE_NO_SSL_SUPPORT", /^the server does not support TLS/)
  const rows: ReadonlyArray<readonly [string, Record<string, string>, Expected]> = [
    ["DISABLED: plaintext", { "ssl-mode": "DISABLED" }, plainAs("app")],
    ["PREFERRED: plaintext", { "ssl-mode": "PREFERRED" }, plainAs("app")],
    ["REQUIRED is refused", { "ssl-mode": "REQUIRED" }, noTls],
    ["VERIFY_IDENTITY is refused", { "ssl-mode": "VERIFY_IDENTITY", ...ca }, noTls]
  ]
  for (const [name, options, expected] of rows) {
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const front = yield* TlsFront.make(primary, "withoutTls")
        check(yield* connect(withOptions(front.url(primary), options)), expected)
        if (options["ssl-mode"] !== "DISABLED") expect(front.declined()).toBeGreaterThan(0)
      }))
  }
})

describe("MariaDB TLS: files are read when the adapter is made", () => {
  it.effect("a missing ssl_ca and a client key without its certificate are typed errors naming the options", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(
        DatabaseAdapterFactory.create(withOptions(primary.url, { ssl_ca: `${tls.dir}/no-such-ca.pem` }))
      )
      expect(missing.message).toBe("Invalid TLS settings: ssl_ca: cannot read the file: no such file (ENOENT)")
      const half = yield* Effect.flip(
        DatabaseAdapterFactory.create(withOptions(primary.url, { ssl_key: tls.clientKey }))
      )
      expect(half._tag).toBe("InvalidConnectionUrl")
      expect(half.message).toContain("ssl_key needs ssl_cert")
    }))
})
