import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { readFileSync } from "node:fs"
import { AdapterError, Drivers, SqlCompiler } from "../src/index.js"

const peersOf = (pkg: "adapters" | "health"): Record<string, string> =>
  JSON.parse(readFileSync(new URL(`../../${pkg}/package.json`, import.meta.url), "utf8")).peerDependencies

const notFound = (code: string) => Object.assign(new Error("Cannot find package 'pg'"), { code })

describe("Drivers", () => {
  it("installCommand names every package of the driver with the version its peer range allows", () => {
    expect(Drivers.installCommand("pg")).toBe("npm install pg@8 pg-cursor@2 @effect/sql-pg@0.53")
    expect(Drivers.installCommand("mysql2")).toBe("npm install mysql2@3 @effect/sql-mysql2@0.53")
    expect(Drivers.installCommand("better-sqlite3")).toBe("npm install better-sqlite3@12")
  })

  it("the install versions agree with the optional peer ranges of @fastorm/adapters and @fastorm/health", () => {
    const adapters = peersOf("adapters")
    const health = peersOf("health")
    for (const packages of Object.values(Drivers.packagesOf)) {
      for (const { name, version } of packages) {
        // `npm install pg@8` must land inside `^8.x.y`: same major (or minor, for 0.x).
        expect(adapters[name], name).toMatch(new RegExp(`^\\^${version.replace(".", "\\.")}\\.`))
        if (health[name] !== undefined) expect(health[name], `health ${name}`).toBe(adapters[name])
      }
    }
    for (const driver of ["pg", "mysql2", "better-sqlite3"]) expect(health[driver]).toBeDefined()
  })

  it.effect("a module that is not installed is DriverNotInstalled, with the install command", () =>
    Effect.gen(function*() {
      for (const code of ["ERR_MODULE_NOT_FOUND", "MODULE_NOT_FOUND"]) {
        const e = yield* Effect.flip(Drivers.load("mysql2", () => Promise.reject(notFound(code))))
        expect(e).toBeInstanceOf(AdapterError.DriverNotInstalled)
        expect(e.driver).toBe("mysql2")
        expect(e.message).toBe(
          "The database driver \"mysql2\" is not installed: run npm install mysql2@3 @effect/sql-mysql2@0.53"
        )
      }
    }))

  it.effect("an installed driver that fails to load is a defect carrying the loader's error", () =>
    Effect.gen(function*() {
      const broken = Object.assign(new Error("was compiled against a different Node.js version"), {
        code: "ERR_DLOPEN_FAILED"
      })
      const exit = yield* Effect.exit(Drivers.load("better-sqlite3", () => Promise.reject(broken)))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      if (Exit.isFailure(exit)) expect(Cause.squash(exit.cause)).toBe(broken)
    }))

  it.effect("an installed driver loads", () =>
    Effect.gen(function*() {
      const pg = yield* Drivers.load("pg", () => import("pg"))
      expect(typeof pg.default.Pool).toBe("function")
    }))
})

describe("SqlCompiler", () => {
  it.effect("load gives each dialect's compiler; make gives it synchronously once loaded", () =>
    Effect.gen(function*() {
      for (const dialect of ["postgresql", "mysql", "sqlite"] as const) {
        const compiler = yield* SqlCompiler.load(dialect)
        expect(SqlCompiler.make(dialect).dialect).toBe(compiler.dialect)
      }
      expect(SqlCompiler.make("postgresql").dialect).toBe("pg")
      expect(SqlCompiler.make("mysql").dialect).toBe("mysql")
      expect(SqlCompiler.make("sqlite").dialect).toBe("sqlite")
    }))
})
