/**
 * A canary password pushed through every failing path: it must show up in no message, String, inspect, JSON, cause
 * chain, Effect failure rendering or returned problem (ARCHITECTURE.md, "Secrets").
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import { inspect } from "node:util"
import {
  ConnectionFailed,
  DriverNotInstalled,
  InvalidConnectionUrl,
  UnrecognizedServerVersion,
  UnsupportedScheme
} from "../src/AdapterError.js"
import * as Url from "../src/ConnectionUrl.js"
import { validateDatabaseConnection, validateOrFail } from "../src/ConnectionValidation.js"
import { scrubText } from "../src/internal/redact.js"

const CANARY = "S3cr3t-canary"
const FORMS = [CANARY, encodeURIComponent(CANARY), "S3cr3t"]

/** Every rendering of a value, its cause chain included. */
const renderings = (value: unknown): ReadonlyArray<string> => {
  const out: Array<string> = []
  let current: unknown = value
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    out.push(String(current))
    out.push(inspect(current, { depth: 20, showHidden: true, getters: true }))
    out.push(JSON.stringify(current) ?? "")
    if (current instanceof Error) out.push(current.message, current.stack ?? "")
    current = (current as { readonly cause?: unknown }).cause
  }
  return out
}

const expectClean = (value: unknown, label: string): void => {
  for (const text of renderings(value)) {
    for (const form of FORMS) expect(text.includes(form), `${label} leaks in: ${text.slice(0, 400)}`).toBe(false)
  }
}

const failingUrls: ReadonlyArray<readonly [string, string]> = [
  ["bad scheme", `oracle://app:${CANARY}@db.example.com/d`],
  ["bad port", `postgres://app:${CANARY}@db.example.com:99999/d`],
  ["port not a number", `mysql://app:${CANARY}@db.example.com:33o6/d`],
  ["missing host", `postgres://app:${CANARY}@/d`],
  ["missing host and port", `postgres://app:${CANARY}@:99999/`],
  ["unknown option", `postgres://app:${CANARY}@db.example.com/d?bogus=${CANARY}`],
  ["canary as a bare option", `postgres://app@db.example.com/d?${CANARY}`],
  ["password in query with bad option", `postgres://app@db.example.com/d?password=${CANARY}&bogus=1`],
  ["password in query with bad port", `mysql://app@db.example.com:0/d?password=${CANARY}`],
  ["secret-named unknown option", `mysql://app@db.example.com/d?passwd=${CANARY}`],
  ["password given twice", `postgres://app:${CANARY}@h/d?password=${CANARY}`],
  ["encoded @ in password", `postgres://app:${encodeURIComponent(CANARY + "@x")}@h:0/d`],
  ["unencoded @ in password", `postgres://app:${CANARY}@x@h:0/d`],
  ["unencoded / in password", `postgres://app:${CANARY}/x@db.example.com/d`],
  ["unencoded ? in password", `postgres://app:${CANARY}?x@db.example.com/d`],
  ["unencoded # in password", `postgres://app:${CANARY}#x@db.example.com/d`],
  ["no scheme", `app:${CANARY}@db.example.com/d`],
  ["no scheme separator", `postgres:app:${CANARY}@db.example.com/d`],
  ["host URL rejects", `postgres://app:${CANARY}@ho st/d`],
  ["bad percent-encoding", `postgres://app:${CANARY}%zz@h/d`],
  ["insecure TLS", `postgres://app:${CANARY}@db.example.com/d?sslmode=disable`],
  ["sqlite with credentials", `sqlite://app:${CANARY}@/x.db`],
  ["sqlite without file", `sqlite://${CANARY}@`],
  ["several hosts", `postgres://app:${CANARY}@h1,h2/d`]
]

describe("no password in any failure", () => {
  it("new URL() itself would leak: the reason for the rules", () => {
    try {
      new URL(`postgres://app:${CANARY}@:99999/`)
      expect.unreachable()
    } catch (e) {
      expect(String((e as { readonly input?: unknown }).input)).toContain(CANARY)
    }
  })

  it("the checker itself catches a leak in the URL error, its cause chain and a nested problem", () => {
    let error: unknown
    try {
      new URL(`postgres://app:${CANARY}@:99999/`)
    } catch (e) {
      error = e
    }
    expect(() => expectClean(error, "TypeError")).toThrow()
    expect(() => expectClean(new Error("x", { cause: new Error(CANARY) }), "chain")).toThrow()
    expect(() => expectClean([{ message: encodeURIComponent(CANARY) }], "array")).toThrow()
  })

  for (const [label, url] of failingUrls) {
    it.effect(`${label}: validation, parse and validateOrFail stay clean`, () =>
      Effect.gen(function*() {
        const problems = validateDatabaseConnection(url)
        expect(problems.length, label).toBeGreaterThan(0)
        expectClean(problems, `${label} problems`)
        for (const p of problems) expectClean(p, `${label} problem ${p._tag}`)
        for (const input of [url, Redacted.make(url)]) {
          const parsed = yield* Effect.exit(Url.parse(input))
          if (Exit.isFailure(parsed)) {
            expectClean(Cause.squash(parsed.cause), `${label} parse error`)
            expectClean(Cause.pretty(parsed.cause), `${label} parse cause`)
          } else {
            // Only warnings: the parsed value itself must print clean.
            expectClean(parsed.value, `${label} parsed`)
            expectClean(Url.describe(parsed.value), `${label} describe`)
            expectClean(Url.format(parsed.value), `${label} format`)
          }
          const strict = yield* Effect.exit(validateOrFail(input))
          expect(Exit.isFailure(strict), label).toBe(true)
          if (Exit.isFailure(strict)) {
            expectClean(Cause.squash(strict.cause), `${label} validateOrFail error`)
            expectClean(Cause.pretty(strict.cause), `${label} validateOrFail cause`)
          }
        }
      }))
  }

  it("a parsed URL with a password prints clean", () => {
    for (
      const s of [
        `postgres://app:${CANARY}@h/d`,
        `postgres://app@h/d?password=${CANARY}`,
        `postgres://app@h/d?sslmode=require&sslcert=c.pem&sslkey=k.pem&sslpassword=${CANARY}`,
        `mysql://app:${encodeURIComponent(CANARY + "@/?#")}@h/d`
      ]
    ) {
      const r = Effect.runSync(Url.parse(s))
      expectClean(r, s)
      expectClean(Url.describe(r), s)
      expectClean(Url.format(r), s)
      expect(Redacted.value(Url.format(r))).toContain(encodeURIComponent(CANARY))
    }
  })
})

describe("errors scrub what they are given", () => {
  it("ConnectionFailed drops the URL TypeError's input", () => {
    let error: unknown
    try {
      new URL(`postgres://app:${CANARY}@:99999/`)
    } catch (e) {
      error = e
    }
    const e = new ConnectionFailed({ node: "primary", cause: error })
    expectClean(e, "ConnectionFailed(TypeError)")
    expect((e.cause as { readonly code?: unknown }).code).toBe("ERR_INVALID_URL")
  })

  it("ConnectionFailed scrubs URLs, password=... pairs and config objects from a driver error", () => {
    const inner = Object.assign(new Error(`password=${CANARY} rejected`), { code: "28P01" })
    const driverError = Object.assign(
      new Error(`could not connect to postgres://app:${CANARY}@h:5432/d (password: '${CANARY}')`),
      {
        code: "ECONNREFUSED",
        errno: -111,
        config: { password: CANARY },
        connectionString: `postgres://app:${CANARY}@h/d`,
        password: CANARY,
        detail: `uri mysql://u:${CANARY}@x@h/d`
      },
      { cause: inner }
    )
    const e = new ConnectionFailed({ node: "replica-1", cause: driverError })
    expectClean(e, "ConnectionFailed(driver error)")
    // What classification needs survives.
    expect((e.cause as { readonly code?: unknown }).code).toBe("ECONNREFUSED")
    expect((e.cause as { readonly errno?: unknown }).errno).toBe(-111)
    expect((e.cause as { readonly cause?: { readonly code?: unknown } }).cause?.code).toBe("28P01")
    expect(e.message).toContain("ECONNREFUSED")
  })

  it("ConnectionFailed blanks out the given secrets anywhere, the node alias and reason included", () => {
    const secret = Redacted.make(CANARY)
    const e = new ConnectionFailed({
      node: `postgres://app:${CANARY}@h/d`,
      reason: `server said ${CANARY} is wrong`,
      cause: `auth failed with ${encodeURIComponent(CANARY)} for app`,
      secrets: [secret]
    })
    expectClean(e, "ConnectionFailed(secrets)")
  })

  it("ConnectionFailed survives a cause that is a Redacted, a string or a plain object", () => {
    expectClean(new ConnectionFailed({ node: "n", cause: Redacted.make(CANARY) }), "redacted cause")
    expectClean(new ConnectionFailed({ node: "n", cause: `postgres://a:${CANARY}@h/d` }), "string cause")
    expectClean(new ConnectionFailed({ node: "n", cause: { password: CANARY, code: "X" } }), "object cause")
  })

  it("DriverNotInstalled does not carry the resolver's error", () => {
    const exit = Effect.runSyncExit(Url.checkDriverInstalled("pg", () => {
      throw new Error(`not found from /tmp/${CANARY}`)
    }))
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const e = Cause.squash(exit.cause)
      expect(e).toBeInstanceOf(DriverNotInstalled)
      expectClean(e, "DriverNotInstalled")
    }
  })

  it("the other errors have messages built only from their fields", () => {
    expectClean(new UnsupportedScheme({ scheme: "oracle" }), "UnsupportedScheme")
    expectClean(new InvalidConnectionUrl({ problems: validateDatabaseConnection(`x://a:${CANARY}@h/d`) }), "Invalid")
    expectClean(new UnrecognizedServerVersion({ product: "MySQL", raw: "?" }), "UnrecognizedServerVersion")
  })

  it("scrubText handles unencoded @ in the user info", () => {
    expect(scrubText(`see mysql://app:${CANARY}@x@h/d now`)).toBe("see mysql://<redacted>@h/d now")
  })
})

describe("scrubbed causes", () => {
  it("copies a driver error with an own `name` field (pg's DatabaseError) without throwing", () => {
    const pgError = Object.assign(new Error("password authentication failed for user \"app\""), {
      name: "error",
      code: "28P01",
      severity: "FATAL"
    })
    const failed = new ConnectionFailed({ node: "primary", cause: pgError })
    const cause = failed.cause as { name?: string; code?: string; message?: string }
    expect(cause.code).toBe("28P01")
    expect(cause.name).toBe("error")
    expect(cause.message).toContain("password authentication failed")
  })
})
