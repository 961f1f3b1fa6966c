import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import {
  ConnectionProblem,
  isLocalHost,
  validateDatabaseConnection,
  validateOrFail
} from "../src/ConnectionValidation.js"

const tags = (url: string): ReadonlyArray<string> => validateDatabaseConnection(url).map((p) => p._tag)

describe("validateDatabaseConnection", () => {
  it("finds nothing wrong with good URLs", () => {
    for (
      const url of [
        "postgresql://app:pw@127.0.0.1:5432/fastorm",
        "postgres://app@db.example.com/fastorm?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=api",
        "postgres:///fastorm?host=%2Fvar%2Frun%2Fpostgresql",
        "mysql://app:pw@db.example.com/fastorm?ssl=true&charset=utf8mb4&connectTimeout=5000",
        "mariadb://app@localhost/fastorm?sslmode=DISABLED",
        "mysql://app@/fastorm?socketPath=%2Frun%2Fmysqld%2Fmysqld.sock",
        "sqlite:///app.db?synchronous=normal&busy_timeout=5000",
        "sqlite://:memory:",
        "postgres://app@[::1]/d?sslmode=disable",
        "postgres://app@127.0.0.2/d?sslmode=prefer"
      ]
    ) expect(validateDatabaseConnection(url), url).toEqual([])
  })

  it("reports an empty host AND an out-of-range port AND a missing database at once", () => {
    expect(tags("postgres://app:S3cr3t@:99999/")).toEqual(["MissingHost", "InvalidPort", "MissingDatabase"])
  })

  it("reports ports that are not integers 1..65535", () => {
    const reasons = (url: string) =>
      validateDatabaseConnection(url).flatMap((p) => p._tag === "InvalidPort" ? [p.reason] : [])
    expect(reasons("postgres://h:0/d")).toEqual(["out-of-range"])
    expect(reasons("postgres://h:65536/d")).toEqual(["out-of-range"])
    expect(reasons("postgres://h:65535/d")).toEqual([])
    expect(reasons("postgres://h:1/d")).toEqual([])
    expect(reasons("mysql://h:54x/d")).toEqual(["not-a-number"])
    expect(reasons("mysql://h:-1/d")).toEqual(["not-a-number"])
    expect(reasons("mysql://h:1.5/d")).toEqual(["not-a-number"])
    expect(reasons("mysql://[::1]:99999/d")).toEqual(["out-of-range"])
  })

  it("reports unknown schemes and URLs without a scheme", () => {
    expect(tags("oracle://h/d")).toEqual(["UnknownScheme"])
    expect(tags("h/d")).toEqual(["MalformedUrl"])
    expect(tags("")).toEqual(["MalformedUrl"])
    expect(tags("   ")).toEqual(["MalformedUrl"])
    expect(tags("1pg://h/d")).toEqual(["MalformedUrl"])
  })

  it("reports a missing database for network dialects", () => {
    expect(tags("postgres://h")).toEqual(["MissingDatabase"])
    expect(tags("mysql://h/")).toEqual(["MissingDatabase"])
  })

  it("reports a missing SQLite file", () => {
    expect(tags("sqlite://")).toEqual(["MissingSqliteFile"])
    expect(tags("sqlite:///")).toEqual(["MissingSqliteFile"])
    expect(tags("sqlite://host/x.db")).toEqual(["MalformedUrl"])
  })

  it("reports unknown options per dialect", () => {
    const problems = validateDatabaseConnection("postgres://h/d?sslmod=require&charset=utf8")
    expect(problems.map((p) => p._tag === "UnknownOption" ? p.option : p._tag)).toEqual(["sslmod", "charset"])
    expect(tags("mysql://h/d?search_path=x")).toEqual(["UnknownOption"])
    expect(tags("sqlite:///a.db?sslmode=require")).toEqual(["UnknownOption"])
  })

  it("does not echo an option name that could hide a secret", () => {
    const [p] = validateDatabaseConnection("postgres://h/d?weird%20name%20!=1")
    expect(p?._tag).toBe("UnknownOption")
    if (p?._tag === "UnknownOption") expect(p.option).toBe("(name not shown)")
  })

  it("flags insecure TLS on non-local hosts only, certificate checks off everywhere", () => {
    const tls = (url: string) =>
      validateDatabaseConnection(url).flatMap((p) => p._tag === "InsecureTls" ? [`${p.option}=${p.value}`] : [])
    expect(tls("postgres://db.example.com/d?sslmode=disable")).toEqual(["sslmode=disable"])
    expect(tls("postgres://db.example.com/d?sslmode=allow")).toEqual(["sslmode=allow"])
    expect(tls("postgres://db.example.com/d?sslmode=Prefer")).toEqual(["sslmode=prefer"])
    expect(tls("postgres://db.example.com/d?sslmode=require")).toEqual([])
    expect(tls("postgres://db.example.com/d?ssl=false")).toEqual(["ssl=false"])
    expect(tls("postgres://localhost/d?sslmode=disable")).toEqual([])
    expect(tls("postgres://127.0.0.1/d?sslmode=disable")).toEqual([])
    expect(tls("postgres://localhost/d?rejectUnauthorized=false")).toEqual(["rejectUnauthorized=false"])
    expect(tls("mysql://db.example.com/d?ssl=false")).toEqual(["ssl=false"])
    expect(tls("mysql://db.example.com/d?ssl=0")).toEqual(["ssl=0"])
    expect(tls("mysql://db.example.com/d?sslmode=disabled")).toEqual(["sslmode=DISABLED"])
    expect(tls("mariadb://db.example.com/d?ssl_mode=PREFERRED")).toEqual(["ssl_mode=PREFERRED"])
    expect(tls("mysql://db.example.com/d?sslmode=VERIFY_IDENTITY")).toEqual([])
    expect(tls("mysql://127.0.0.1/d?ssl=false")).toEqual([])
    expect(tls("mysql://127.0.0.1/d?ssl=%7B%22rejectUnauthorized%22%3Afalse%7D"))
      .toEqual(["ssl={rejectUnauthorized:false}"])
    expect(tls("mysql://127.0.0.1/d?ssl_verify_cert=false")).toEqual(["ssl_verify_cert=false"])
  })

  it("marks insecure TLS as a warning and everything else as an error", () => {
    const [tls] = validateDatabaseConnection("postgres://db.example.com/d?sslmode=disable")
    expect(tls?.severity).toBe("warning")
    for (const p of validateDatabaseConnection("postgres://:0/?x=1")) expect(p.severity).toBe("error")
  })

  it("reports TLS problems even when the URL has other errors", () => {
    expect(tags("postgres://db.example.com:99999/d?sslmode=disable")).toEqual(["InvalidPort", "InsecureTls"])
  })

  it("explains malformed URLs", () => {
    expect(tags("postgres://h1,h2/d")).toEqual(["MalformedUrl"])
    expect(tags("postgres://::1/d")).toEqual(["MalformedUrl"])
    expect(tags("postgres://[zz]/d")).toEqual(["MalformedUrl"])
    expect(tags("postgres://ho st/d")).toEqual(["MalformedUrl"])
    expect(tags("postgres://app:pw@h/d#x")).toEqual(["MalformedUrl"])
    expect(tags("postgres://app:p/w@h/d")).toContain("MalformedUrl")
    expect(tags("postgres://app:p%zzw@h/d")).toEqual(["MalformedUrl"])
    expect(tags("postgres://h/d/e")).toEqual(["MalformedUrl"])
    expect(tags("postgres://h/d?application_name=%E0%A4%A")).toEqual(["MalformedUrl"])
    expect(tags("postgres://app:a@h/d?password=b")).toEqual(["MalformedUrl"])
    expect(tags("postgres://h:5432/d?port=5433")).toEqual(["MalformedUrl"])
  })

  it("gives every problem a human message", () => {
    for (const p of validateDatabaseConnection("postgres://app:pw@:99999/?zz=1&sslmode=disable#f")) {
      expect(p.message.length).toBeGreaterThan(10)
    }
  })

  it("never throws, whatever the input", () => {
    for (const s of ["://", "a://", "postgres://", "postgres://@", "postgres://[", "postgres://]:/?&=&#", "\u0000"]) {
      expect(() => validateDatabaseConnection(s)).not.toThrow()
      expect(validateDatabaseConnection(s).length).toBeGreaterThan(0)
    }
    expect(() => validateDatabaseConnection(undefined as unknown as string)).not.toThrow()
  })

  it("supports $is and $match on problems", () => {
    const [p] = validateDatabaseConnection("postgres://h:0/d")
    expect(p !== undefined && ConnectionProblem.$is("InvalidPort")(p)).toBe(true)
  })

  it("knows local hosts", () => {
    expect(isLocalHost("localhost")).toBe(true)
    expect(isLocalHost("127.0.0.1")).toBe(true)
    expect(isLocalHost("::1")).toBe(true)
    expect(isLocalHost("/var/run/postgresql")).toBe(true)
    expect(isLocalHost("10.0.0.1")).toBe(false)
    expect(isLocalHost("localhost.example.com")).toBe(false)
  })
})

describe("validateOrFail", () => {
  it.effect("succeeds with the parsed URL when there is no problem", () =>
    Effect.gen(function*() {
      const url = yield* validateOrFail("mysql://app@h/d")
      expect(url.host).toBe("h")
    }))

  it.effect("fails with every problem, warnings included", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(validateOrFail("postgres://db.example.com:0/d?sslmode=disable&zz=1"))
      expect(e._tag).toBe("InvalidConnectionUrl")
      expect(e.problems.map((p) => p._tag)).toEqual(["UnknownOption", "InvalidPort", "InsecureTls"])
      expect(e.message).toContain("sslmode=disable")
    }))

  it.effect("fails on a warning alone", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(validateOrFail("postgres://db.example.com/d?sslmode=disable"))
      expect(e.problems.map((p) => p._tag)).toEqual(["InsecureTls"])
    }))
})
