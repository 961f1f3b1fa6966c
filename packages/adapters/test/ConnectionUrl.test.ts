import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import { createRequire } from "node:module"
import * as Url from "../src/ConnectionUrl.js"

const parseOk = (s: string): Url.ConnectionUrl => {
  const r = Url.parseEither(s)
  if (Either.isLeft(r)) throw new Error(`expected ${s} to parse: ${r.left.message}`)
  return r.right
}

const pgConnectionString = createRequire(import.meta.url)("pg-connection-string") as {
  readonly parse: (s: string) => Record<string, unknown>
}

describe("ConnectionUrl.parse", () => {
  const cases: ReadonlyArray<readonly [string, string, string, "mariadb" | undefined]> = [
    ["postgres", "postgresql", "pg", undefined],
    ["postgresql", "postgresql", "pg", undefined],
    ["postgresql+asyncpg", "postgresql", "pg", undefined],
    ["postgresql+psycopg", "postgresql", "pg", undefined],
    ["postgresql+psycopg2", "postgresql", "pg", undefined],
    ["mysql", "mysql", "mysql2", undefined],
    ["mysql+aiomysql", "mysql", "mysql2", undefined],
    ["mysql+asyncmy", "mysql", "mysql2", undefined],
    ["mysql+pymysql", "mysql", "mysql2", undefined],
    ["mariadb", "mysql", "mysql2", "mariadb"],
    ["mariadb+mariadbconnector", "mysql", "mysql2", "mariadb"]
  ]
  for (const [scheme, dialect, driver, hint] of cases) {
    it.effect(`maps ${scheme}:// to ${dialect} on ${driver}`, () =>
      Effect.gen(function*() {
        const url = yield* Url.parse(`${scheme}://app:pw@db.internal/fastorm`)
        expect(url.dialect).toBe(dialect)
        expect(url.driver).toBe(driver)
        expect(url.scheme).toBe(scheme)
        expect(url.productHint).toBe(hint)
        expect(url.port).toBe(dialect === "postgresql" ? 5432 : 3306)
        expect(url.host).toBe("db.internal")
        expect(url.database).toBe("fastorm")
        expect(url.username).toBe("app")
        expect(url.password && Redacted.value(url.password)).toBe("pw")
      }))
  }

  it.effect("keeps the scheme as written and matches it case-insensitively", () =>
    Effect.gen(function*() {
      const url = yield* Url.parse("PostgreSQL://h/d")
      expect(url.scheme).toBe("PostgreSQL")
      expect(url.dialect).toBe("postgresql")
    }))

  it.effect("reads the SQLite forms", () =>
    Effect.gen(function*() {
      expect((yield* Url.parse("sqlite:///relative.db")).filename).toBe("relative.db")
      expect((yield* Url.parse("sqlite:///data/app.db")).filename).toBe("data/app.db")
      expect((yield* Url.parse("sqlite:////abs/path.db")).filename).toBe("/abs/path.db")
      expect((yield* Url.parse("sqlite://:memory:")).filename).toBe(":memory:")
      expect((yield* Url.parse("sqlite:///:memory:")).filename).toBe(":memory:")
      const url = yield* Url.parse("sqlite:///my%20file.db?synchronous=full&journal_mode=wal")
      expect(url.filename).toBe("my file.db")
      expect(url.options).toEqual({ synchronous: "full", journal_mode: "wal" })
      expect(url.driver).toBe("better-sqlite3")
      expect(url.host).toBeUndefined()
      expect(url.port).toBeUndefined()
    }))

  it.effect("percent-decodes user, password and database", () =>
    Effect.gen(function*() {
      const url = yield* Url.parse("postgres://us%40er:p%40ss%3Aw%2Fo%23rd@h:6543/my%20db")
      expect(url.username).toBe("us@er")
      expect(url.password && Redacted.value(url.password)).toBe("p@ss:w/o#rd")
      expect(url.database).toBe("my db")
      expect(url.port).toBe(6543)
    }))

  it.effect("takes the last @ as the end of the user info, as WHATWG URL does", () =>
    Effect.gen(function*() {
      const url = yield* Url.parse("mysql://app:p@ss@h/d")
      expect(url.password && Redacted.value(url.password)).toBe("p@ss")
      expect(url.host).toBe("h")
    }))

  it.effect("reads IPv6 hosts in brackets", () =>
    Effect.gen(function*() {
      const a = yield* Url.parse("postgresql://app@[::1]:5433/db")
      expect(a.host).toBe("::1")
      expect(a.port).toBe(5433)
      const b = yield* Url.parse("mysql://app@[2001:db8::7]/db")
      expect(b.host).toBe("2001:db8::7")
      expect(b.port).toBe(3306)
    }))

  it.effect("decodes options, and moves password / user / host out of them", () =>
    Effect.gen(function*() {
      const url = yield* Url.parse(
        "postgres:///fastorm?host=%2Fvar%2Frun%2Fpostgresql&user=app&password=p%26w&application_name=my+app" +
          "&sslmode=require&sslcert=c.pem&sslkey=k.pem&sslpassword=k"
      )
      expect(url.host).toBe("/var/run/postgresql")
      expect(url.username).toBe("app")
      expect(url.password && Redacted.value(url.password)).toBe("p&w")
      expect(url.options).toEqual({ application_name: "my app", sslmode: "require", sslcert: "c.pem", sslkey: "k.pem" })
      expect(Object.keys(url.secretOptions)).toEqual(["sslpassword"])
      expect(Redacted.value(url.secretOptions["sslpassword"]!)).toBe("k")
    }))

  it.effect("accepts a Redacted URL", () =>
    Effect.gen(function*() {
      const url = yield* Url.parse(Redacted.make("mysql://app:pw@h/d"))
      expect(url.dialect).toBe("mysql")
    }))

  it.effect("fails with UnsupportedScheme on an unknown scheme", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Url.parse("oracle://app:pw@h/d"))
      expect(e._tag).toBe("UnsupportedScheme")
      if (e._tag === "UnsupportedScheme") expect(e.scheme).toBe("oracle")
      expect(e.message).toContain("oracle")
    }))

  it.effect("fails with InvalidConnectionUrl carrying the problems", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Url.parse("postgres://app:pw@:99999/"))
      expect(e._tag).toBe("InvalidConnectionUrl")
      if (e._tag === "InvalidConnectionUrl") {
        expect(e.problems.map((p) => p._tag)).toEqual(["MissingHost", "InvalidPort", "MissingDatabase"])
      }
    }))

  it.effect("does not fail on an insecure-TLS warning (validateOrFail does)", () =>
    Effect.gen(function*() {
      const url = yield* Url.parse("postgres://app@db.example.com/d?sslmode=disable")
      expect(url.options["sslmode"]).toBe("disable")
    }))

  it("parseEither is synchronous", () => {
    expect(Either.isRight(Url.parseEither("sqlite://:memory:"))).toBe(true)
    expect(Either.isLeft(Url.parseEither("nonsense"))).toBe(true)
  })
})

describe("ConnectionUrl.format", () => {
  it("writes the canonical node-driver URL with the password encoded", () => {
    const url = parseOk("postgresql+asyncpg://app:p%40ss%2Fw@db.internal/my%20db?sslmode=require")
    expect(Redacted.value(Url.format(url))).toBe("postgres://app:p%40ss%2Fw@db.internal:5432/my%20db?sslmode=require")
    const parsed = pgConnectionString.parse(Redacted.value(Url.format(url)))
    expect(parsed["password"]).toBe("p@ss/w")
    expect(parsed["user"]).toBe("app")
    expect(parsed["host"]).toBe("db.internal")
  })

  it("uses mysql:// for MySQL and MariaDB", () => {
    expect(Redacted.value(Url.format(parseOk("mariadb+mariadbconnector://u:p@h/d")))).toBe("mysql://u:p@h:3306/d")
    expect(Redacted.value(Url.format(parseOk("mysql+pymysql://u@[::1]/d")))).toBe("mysql://u@[::1]:3306/d")
  })

  it("puts a PostgreSQL socket directory and the credentials in the query", () => {
    const url = parseOk("postgres:///fastorm?host=%2Ftmp&user=app&password=p%26w&port=5433")
    const text = Redacted.value(Url.format(url))
    expect(pgConnectionString.parse(text)).toMatchObject({ host: "/tmp", user: "app", password: "p&w", port: "5433" })
  })

  it("round-trips through parse", () => {
    for (
      const s of [
        "postgres://a%3Ab:c%40d@h:1/e%20f?application_name=x%26y&sslmode=require&sslcert=c&sslkey=k&sslpassword=z",
        "mysql://u:p@[::1]:3307/d?charset=utf8mb4",
        "mariadb://u@h/d",
        "sqlite:////abs/my%20file.db",
        "sqlite:///rel.db?foreign_keys=on",
        "sqlite://:memory:"
      ]
    ) {
      const url = parseOk(s)
      const again = parseOk(Redacted.value(Url.format(url)))
      expect({ ...again, scheme: url.scheme, productHint: url.productHint }).toEqual(url)
    }
  })

  it("is Redacted: printing it shows no password", () => {
    expect(String(Url.format(parseOk("postgres://app:hunter22@h/d")))).not.toContain("hunter22")
  })
})

describe("ConnectionUrl.describe", () => {
  it("gives a log-safe URL without the password", () => {
    expect(Url.describe(parseOk("postgresql://app:hunter22@127.0.0.1/fastorm?sslmode=require")))
      .toBe("postgresql://app@127.0.0.1:5432/fastorm")
    expect(Url.describe(parseOk("mariadb://app:hunter22@[::1]/x"))).toBe("mariadb://app@[::1]:3306/x")
    expect(Url.describe(parseOk("mysql+pymysql://h/x"))).toBe("mysql://h:3306/x")
    expect(Url.describe(parseOk("sqlite:////abs/a.db"))).toBe("sqlite:////abs/a.db")
    expect(Url.describe(parseOk("sqlite:///:memory:"))).toBe("sqlite://:memory:")
    expect(Url.describe(parseOk("postgres:///d?password=hunter22&host=%2Ftmp"))).not.toContain("hunter22")
  })
})

describe("ConnectionUrl.checkDriverInstalled", () => {
  for (const driver of ["pg", "mysql2", "better-sqlite3"] as const) {
    it.effect(`finds ${driver}`, () => Url.checkDriverInstalled(driver))
  }

  it.effect("names the npm install when the driver is missing", () =>
    Effect.gen(function*() {
      const missing = (pkg: string) => {
        if (pkg === "pg") throw new Error("Cannot find module 'pg'")
        return pkg
      }
      const e = yield* Effect.flip(Url.checkDriverInstalled("pg", missing))
      expect(e._tag).toBe("DriverNotInstalled")
      expect(e.install).toBe("npm install pg@8 pg-cursor@2 @effect/sql-pg@0.53")
      expect(e.message).toContain("npm install pg@8 pg-cursor@2 @effect/sql-pg@0.53")
    }))

  it.effect("fails when only the @effect wrapper is missing", () =>
    Effect.gen(function*() {
      const missing = (pkg: string) => {
        if (pkg.startsWith("@effect/")) throw new Error("nope")
        return pkg
      }
      const e = yield* Effect.flip(Url.checkDriverInstalled("mysql2", missing))
      expect(e.install).toBe("npm install mysql2@3 @effect/sql-mysql2@0.53")
    }))
})
