/**
 * The probes' drivers, imported on first use: they are optional peer dependencies (README, "Install"), and a
 * monitor only ever probes nodes of the dialects its application uses.
 */
import type { AdapterError } from "@fastorm/adapters"
import { Drivers } from "@fastorm/adapters"
import type Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Mysql from "mysql2"
import type Pg from "pg"
import type { NodeProbe } from "../Probe.js"
import { ProbeError } from "./probeError.js"

/** node-postgres. */
export const pg: Effect.Effect<typeof Pg, AdapterError.DriverNotInstalled> = Drivers.load(
  "pg",
  () => import("pg").then((m) => m.default)
)

/** mysql2. */
export const mysql: Effect.Effect<typeof Mysql, AdapterError.DriverNotInstalled> = Drivers.load(
  "mysql2",
  () => import("mysql2")
)

/** better-sqlite3. */
export const sqlite: Effect.Effect<typeof Sqlite, AdapterError.DriverNotInstalled> = Drivers.load(
  "better-sqlite3",
  () => import("better-sqlite3").then((m) => m.default)
)

/** A node whose driver is missing gets a probe that fails with the install command, so its health says why. */
export const orMissingDriver = (name: string) =>
(
  probe: Effect.Effect<NodeProbe, AdapterError.DriverNotInstalled, Scope.Scope>
): Effect.Effect<NodeProbe, never, Scope.Scope> =>
  Effect.catchTag(probe, "DriverNotInstalled", (e) =>
    Effect.succeed<NodeProbe>({
      run: Effect.fail(new ProbeError({ node: name, reason: "Statement", detail: e.message }))
    }))
