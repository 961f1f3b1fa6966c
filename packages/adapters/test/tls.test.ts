/**
 * What each URL's TLS options mean (README, "TLS"): libpq's sslmode for PostgreSQL, the MySQL client's ssl-mode and
 * the SQLAlchemy spellings for MySQL / MariaDB, every option that cannot be honoured a problem; and the driver
 * options each meaning becomes. Pure: no server, no file (the files are the integration suites' business).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inspect } from "node:util"
import * as Url from "../src/ConnectionUrl.js"
import { validateDatabaseConnection } from "../src/ConnectionValidation.js"
import type { Dialect } from "../src/Dialect.js"
import { MySQLAdapter, PostgreSQLAdapter, Tls } from "../src/index.js"
import { resolve } from "../src/internal/tls.js"

const query = (q: string): Record<string, string> => Object.fromEntries(new URLSearchParams(q).entries())

/** `mode verification trust` of a query, or the options it has problems with. */
const meaning = (dialect: Dialect, q: string): string => {
  const options = query(q)
  const secrets = new Set(Object.keys(options).filter((k) => k === "sslpassword"))
  const r = resolve(dialect, options, secrets)
  if (r._tag === "Invalid") return `invalid: ${r.problems.map((p) => p.option).join(", ")}`
  const { ca, mode, verification } = r.request
  const trust = ca === undefined ? "-" : ca === "system" ? "system" : `file(${ca.option})`
  return `${mode} ${verification} ${trust}${r.request.direct ? " direct" : ""}`
}

const postgres: ReadonlyArray<readonly [string, string]> = [
  ["", "disable none -"],
  ["sslmode=disable", "disable none -"],
  ["sslmode=allow", "allow none -"],
  ["sslmode=prefer", "prefer none -"],
  ["sslmode=require", "require none -"],
  ["sslmode=verify-ca", "verify-ca chain -"],
  ["sslmode=verify-full", "verify-full chain-and-host -"],
  ["sslmode=Verify-Full", "verify-full chain-and-host -"],
  // libpq: a root certificate makes require (and allow / prefer, when TLS is used) check the chain.
  ["sslmode=require&sslrootcert=/ca.pem", "require chain file(sslrootcert)"],
  ["sslmode=prefer&sslrootcert=/ca.pem", "prefer chain file(sslrootcert)"],
  ["sslmode=allow&sslrootcert=/ca.pem", "allow chain file(sslrootcert)"],
  ["sslmode=verify-ca&sslrootcert=/ca.pem", "verify-ca chain file(sslrootcert)"],
  ["sslmode=verify-full&sslrootcert=/ca.pem", "verify-full chain-and-host file(sslrootcert)"],
  // libpq 16: system means Node's CA store here, and verify-full.
  ["sslrootcert=system", "verify-full chain-and-host system"],
  ["sslmode=verify-full&sslrootcert=system", "verify-full chain-and-host system"],
  ["sslmode=require&sslrootcert=system", "invalid: sslrootcert"],
  ["sslmode=verify-ca&sslrootcert=system", "invalid: sslrootcert"],
  ["sslmode=require&sslcert=/c&sslkey=/k", "require none -"],
  ["sslmode=require&sslcert=/c&sslkey=/k&sslpassword=x", "require none -"],
  ["sslmode=require&sslcert=/c", "invalid: sslkey"],
  ["sslmode=require&sslkey=/k", "invalid: sslcert"],
  ["sslmode=require&sslpassword=x", "invalid: sslpassword"],
  ["sslmode=verify-full&sslcrl=/crl.pem", "verify-full chain-and-host -"],
  ["sslmode=require&sslrootcert=/ca.pem&sslcrl=/crl.pem", "require chain file(sslrootcert)"],
  ["sslmode=require&sslcrl=/crl.pem", "invalid: sslcrl"],
  ["sslmode=disable&sslrootcert=/ca.pem", "invalid: sslrootcert"],
  ["sslmode=disable&sslcert=/c&sslkey=/k", "invalid: sslcert, sslkey"],
  ["sslrootcert=/ca.pem", "invalid: sslmode"],
  ["sslmode=sometimes", "invalid: sslmode"],
  ["sslmode=require&sslnegotiation=direct", "require none - direct"],
  ["sslmode=verify-full&sslnegotiation=direct", "verify-full chain-and-host - direct"],
  ["sslmode=prefer&sslnegotiation=direct", "invalid: sslnegotiation"],
  ["sslmode=require&sslnegotiation=postgres", "require none -"],
  ["sslmode=require&sslnegotiation=fast", "invalid: sslnegotiation"],
  // node-postgres's own spelling, and what is not applied.
  ["ssl=true", "verify-full chain-and-host -"],
  ["ssl=false", "disable none -"],
  ["ssl=true&sslmode=require", "invalid: ssl"],
  ["ssl=%7B%22rejectUnauthorized%22%3Afalse%7D", "invalid: ssl"],
  ["sslmode=require&rejectUnauthorized=false", "invalid: rejectUnauthorized"],
  ["sslmode=require&uselibpqcompat=true", "require none -"],
  ["sslmode=require&uselibpqcompat=false", "invalid: uselibpqcompat"]
]

const mysql: ReadonlyArray<readonly [string, string]> = [
  ["", "disable none -"],
  ["ssl-mode=DISABLED", "disable none -"],
  ["ssl-mode=PREFERRED", "prefer none -"],
  ["ssl-mode=REQUIRED", "require none -"],
  ["ssl-mode=VERIFY_CA", "verify-ca chain -"],
  ["ssl-mode=VERIFY_IDENTITY", "verify-full chain-and-host -"],
  ["ssl-mode=verify_identity&ssl_ca=/ca.pem", "verify-full chain-and-host file(ssl_ca)"],
  ["sslmode=REQUIRED", "require none -"],
  ["ssl_mode=VERIFY_CA&ssl_ca=/ca.pem", "verify-ca chain file(ssl_ca)"],
  ["ssl-mode=REQUIRED&sslmode=REQUIRED", "invalid: sslmode"],
  ["ssl-mode=require", "invalid: ssl-mode"],
  // The MySQL client would only warn that REQUIRED verifies nothing: here the unused CA is an error.
  ["ssl-mode=REQUIRED&ssl_ca=/ca.pem", "invalid: ssl_ca"],
  ["ssl-mode=PREFERRED&ssl_ca=/ca.pem", "invalid: ssl_ca"],
  ["ssl-mode=DISABLED&ssl_ca=/ca.pem", "invalid: ssl_ca"],
  // The SQLAlchemy / PyMySQL spellings.
  ["ssl_ca=/ca.pem", "verify-full chain-and-host file(ssl_ca)"],
  ["ssl_ca=/ca.pem&ssl_verify_identity=false", "verify-ca chain file(ssl_ca)"],
  ["ssl_ca=/ca.pem&ssl_verify_cert=false", "invalid: ssl_ca"],
  ["ssl_cert=/c&ssl_key=/k", "require none -"],
  ["ssl_cert=/c", "invalid: ssl_key"],
  ["ssl_verify_cert=true", "verify-full chain-and-host -"],
  ["ssl_verify_cert=true&ssl_verify_identity=false", "verify-ca chain -"],
  ["ssl_verify_cert=false&ssl_verify_identity=true", "invalid: ssl_verify_identity"],
  ["ssl_verify_cert=false", "disable none -"],
  ["ssl_verify_cert=maybe", "invalid: ssl_verify_cert"],
  ["ssl-mode=VERIFY_IDENTITY&ssl_verify_identity=false", "invalid: ssl_verify_identity"],
  ["ssl-mode=REQUIRED&ssl_verify_cert=true", "invalid: ssl_verify_cert"],
  ["ssl-mode=VERIFY_CA&ssl_verify_cert=false", "invalid: ssl_verify_cert"],
  ["ssl=true", "verify-full chain-and-host -"],
  ["ssl=1&ssl_ca=/ca.pem", "verify-full chain-and-host file(ssl_ca)"],
  ["ssl=true&ssl_verify_cert=false", "require none -"],
  ["ssl=false", "disable none -"],
  ["ssl=false&ssl_cert=/c&ssl_key=/k", "invalid: ssl_cert, ssl_key"],
  ["ssl=Amazon%20RDS", "invalid: ssl"],
  ["ssl=true&ssl-mode=REQUIRED", "invalid: ssl"],
  ["ssl-mode=REQUIRED&rejectUnauthorized=false", "invalid: rejectUnauthorized"]
]

describe("TLS options: PostgreSQL (libpq's sslmode)", () => {
  for (const [q, expected] of postgres) {
    it(q === "" ? "(none)" : q, () => expect(meaning("postgresql", q)).toBe(expected))
  }
})

describe("TLS options: MySQL / MariaDB (ssl-mode and the SQLAlchemy spellings)", () => {
  for (const [q, expected] of mysql) {
    it(q === "" ? "(none)" : q, () => expect(meaning("mysql", q)).toBe(expected))
  }
})

describe("TLS options in URL validation", () => {
  it("a problem is an error of InvalidConnectionUrl naming the option, never quoting a value", () => {
    const problems = validateDatabaseConnection("postgres://app@db.example.com/d?sslmode=require&sslrootcert=system")
    expect(problems.map((p) => [p._tag, p.severity, p.message])).toEqual([[
      "InvalidTlsOption",
      "error",
      "sslrootcert=system needs sslmode=verify-full (libpq refuses weaker modes with it)"
    ]])
    const secret = "S3cr3t-canary"
    for (const p of validateDatabaseConnection(`mysql://h/d?ssl=${secret}&ssl_verify_cert=${secret}`)) {
      expect(p.message).not.toContain(secret)
    }
  })

  it("SQLite has no TLS options", () => {
    expect(meaning("sqlite", "")).toBe("disable none -")
  })
})

describe("TLS settings become driver options", () => {
  const settings = (s: Partial<Tls.TlsSettings>): Tls.TlsSettings => ({ ...Tls.plain, ...s })
  const key = Buffer.from("-----BEGIN PRIVATE KEY-----\nS3cr3t-key-material\n-----END PRIVATE KEY-----\n")

  it("pg: ssl is always set (so PGSSLMODE is never read); verify-ca accepts any host name; allow / prefer negotiate", () => {
    expect(PostgreSQLAdapter.tlsOptions(Tls.plain)).toEqual({ ssl: false })
    const require = PostgreSQLAdapter.tlsOptions(settings({ mode: "require" }))
    expect(require).toEqual({ ssl: { rejectUnauthorized: false } })
    const ca = PostgreSQLAdapter.tlsOptions(settings({ mode: "verify-ca", verification: "chain" }))
    const checkIdentity = (ca.ssl as { checkServerIdentity?: (host: string, cert: unknown) => unknown })
      .checkServerIdentity
    expect(checkIdentity?.("anything", {})).toBeUndefined()
    const full = PostgreSQLAdapter.tlsOptions(settings({ mode: "verify-full", verification: "chain-and-host" }))
    expect(full.ssl).toEqual({ rejectUnauthorized: true })
    expect(PostgreSQLAdapter.tlsOptions(settings({ mode: "verify-full", direct: true })).sslnegotiation).toBe("direct")
    for (const mode of ["allow", "prefer"] as const) {
      const negotiated = PostgreSQLAdapter.tlsOptions(settings({ mode }))
      expect(negotiated.ssl).toBe(false)
      expect(typeof negotiated.stream).toBe("function")
    }
  })

  it("mysql2: verifyIdentity only for VERIFY_IDENTITY; PREFERRED and VERIFY_IDENTITY bring their own socket", () => {
    expect(MySQLAdapter.tlsOptions(Tls.plain)).toEqual({})
    expect(MySQLAdapter.tlsOptions(settings({ mode: "require" }))).toEqual({
      ssl: { rejectUnauthorized: false, verifyIdentity: false }
    })
    const ca = MySQLAdapter.tlsOptions(settings({ mode: "verify-ca", verification: "chain" }))
    expect(ca).toEqual({ ssl: { rejectUnauthorized: true, verifyIdentity: false } })
    const full = MySQLAdapter.tlsOptions(settings({ mode: "verify-full", verification: "chain-and-host" }))
    expect(full.ssl).toEqual({ rejectUnauthorized: true, verifyIdentity: true })
    expect(typeof full.stream).toBe("function")
    expect(typeof MySQLAdapter.tlsOptions(settings({ mode: "prefer" })).stream).toBe("function")
  })

  it("the key is in no rendering of the settings or of either driver's options", () => {
    const withKey = settings({ mode: "verify-full", verification: "chain-and-host", key: Redacted.make(key) })
    const renderings = [
      inspect(withKey, { depth: 10, showHidden: true }),
      JSON.stringify(withKey),
      inspect(PostgreSQLAdapter.tlsOptions(withKey), { depth: 10 }),
      JSON.stringify(PostgreSQLAdapter.tlsOptions(withKey).ssl),
      inspect(MySQLAdapter.tlsOptions(withKey), { depth: 10 }),
      JSON.stringify(MySQLAdapter.tlsOptions(withKey).ssl)
    ]
    for (const text of renderings) expect(text).not.toContain("S3cr3t-key-material")
    // The drivers still get it, by name.
    expect((PostgreSQLAdapter.tlsOptions(withKey).ssl as { key?: Buffer }).key).toBe(key)
    expect((MySQLAdapter.tlsOptions(withKey).ssl as { key?: Buffer }).key).toBe(key)
  })
})

describe("TLS files: read when the adapter is made, every problem by option", () => {
  const dir = mkdtempSync(join(tmpdir(), "fastorm-tls-unit-"))
  const notPem = join(dir, "not-pem.txt")
  writeFileSync(notPem, "S3cr3t-file-contents\n")
  const parse = (u: string) => Either.getOrThrow(Url.parseEither(u))

  it("missing files, a CA file without a certificate, a CRL that is not one", () => {
    const result = Tls.fromUrl(parse(
      `postgres://app@h/d?sslmode=verify-full&sslrootcert=${encodeURIComponent(notPem)}` +
        `&sslcert=${encodeURIComponent(join(dir, "nope.pem"))}&sslkey=${encodeURIComponent(join(dir, "nope.key"))}` +
        `&sslcrl=${encodeURIComponent(notPem)}`
    ))
    const error = Either.getOrThrow(Either.flip(result))
    expect(error.problems.map((p) => [p.option, p.code, p.reason])).toEqual([
      ["sslcert", "ENOENT", "cannot read the file: no such file"],
      ["sslkey", "ENOENT", "cannot read the file: no such file"],
      ["sslrootcert", undefined, "the file holds no PEM certificate"],
      ["sslcrl", "ERR_CRYPTO_OPERATION_FAILED", "not a usable CRL: Failed to parse CRL"]
    ])
    for (const text of [error.message, inspect(error, { depth: 10 }), JSON.stringify(error)]) {
      expect(text).not.toContain(dir)
      expect(text).not.toContain("S3cr3t-file-contents")
    }
  })

  it("a directory is named as such; a URL without TLS reads nothing", () => {
    const error = Either.getOrThrow(
      Either.flip(Tls.fromUrl(parse(`mysql://app@h/d?ssl_ca=${encodeURIComponent(dir)}`)))
    )
    expect(error.message).toBe("Invalid TLS settings: ssl_ca: cannot read the file: a directory, not a file (EISDIR)")
    expect(Tls.fromUrl(parse("postgres://app@h/d"))).toEqual(Either.right(Tls.plain))
  })

  it("a hand-made URL with options the parser would refuse is refused here too", () => {
    const url = { ...parse("postgres://app@h/d"), options: { sslmode: "disable", sslrootcert: "/ca.pem" } }
    const error = Either.getOrThrow(Either.flip(Tls.fromUrl(url)))
    expect(error.problems.map((p) => p.option)).toEqual(["sslrootcert"])
  })
})
