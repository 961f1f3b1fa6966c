/**
 * The database drivers are optional peer dependencies: an application installs only its own dialect's (README,
 * "Install"). FastORM imports them on first use, so importing FastORM loads none of them and a missing one is a
 * typed `DriverNotInstalled` naming the `npm install` that fixes it.
 */
import * as Effect from "effect/Effect"
import { DriverNotInstalled } from "./AdapterError.js"
import type { DriverPackage } from "./Dialect.js"

/** An npm package and the version `npm install` asks for (`name@version`). */
export interface Package {
  readonly name: string
  readonly version: string
}

/**
 * The packages each driver needs, with the version each `npm install` asks for. They match the optional peer ranges
 * of @fastorm/adapters and @fastorm/health (a test keeps them in step). The versions matter: a bare
 * `npm install @effect/sql-pg` gets the Effect 4 line, and better-sqlite3 13 crashes on Node 20.
 */
export const packagesOf: { readonly [D in DriverPackage]: ReadonlyArray<Package> } = {
  pg: [{ name: "pg", version: "8" }, { name: "pg-cursor", version: "2" }, { name: "@effect/sql-pg", version: "0.53" }],
  mysql2: [{ name: "mysql2", version: "3" }, { name: "@effect/sql-mysql2", version: "0.53" }],
  "better-sqlite3": [{ name: "better-sqlite3", version: "12" }]
}

/** The npm command that installs everything a driver needs, e.g. `npm install mysql2@3 @effect/sql-mysql2@0.53`. */
export const installCommand = (driver: DriverPackage): string =>
  `npm install ${packagesOf[driver].map((p) => `${p.name}@${p.version}`).join(" ")}`

const isNotFound = (cause: unknown): boolean => {
  const code = (cause as { readonly code?: unknown } | null)?.code
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND"
}

/**
 * Runs `importer` (the caller's own `import("...")` of the driver's modules, so they resolve from the caller's
 * package) and fails with `DriverNotInstalled` when a module is missing. An installed driver that fails to load,
 * such as a native module built for another Node.js, is a broken installation: a defect carrying the loader's error.
 */
export const load = <A>(driver: DriverPackage, importer: () => Promise<A>): Effect.Effect<A, DriverNotInstalled> =>
  Effect.tryPromise({ try: importer, catch: (cause) => cause }).pipe(
    Effect.catchIf(isNotFound, () => Effect.fail(new DriverNotInstalled({ driver, install: installCommand(driver) }))),
    Effect.catchAll((cause) => cause instanceof DriverNotInstalled ? Effect.fail(cause) : Effect.die(cause))
  )
