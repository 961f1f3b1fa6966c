/**
 * The SQLite probe: opens the database file read-only, reads its schema, closes it. A file that vanished, became
 * unreadable or is not a database fails the probe. SQLite has no replication: every reader sees every commit, so the
 * node plays the role it was configured with and its lag is 0.
 */
import type { AdapterError, ConnectionUrl as Url } from "@fastorm/adapters"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ConfiguredRole } from "../NodeHealth.js"
import type { NodeProbe, ProbeResult } from "../Probe.js"
import * as Drivers from "./drivers.js"
import { fromCause } from "./probeError.js"

/** Makes the probe of one SQLite node. */
export const make = (
  name: string,
  configured: ConfiguredRole,
  url: Url.ConnectionUrl
): Effect.Effect<NodeProbe, AdapterError.DriverNotInstalled, Scope.Scope> => {
  const filename = url.filename ?? ":memory:"
  // One file has one writer: a node whose role is to be learnt is the primary.
  const role = configured === "any" ? "primary" : configured
  const ok: ProbeResult = { role, replicating: role === "replica" ? true : undefined, lagSeconds: 0 }
  // An in-memory database lives inside the application's own connection: there is nothing else to look at.
  if (filename === ":memory:" || filename === "") return Effect.succeed({ run: Effect.succeed(ok) })
  return Effect.map(Drivers.sqlite, (Database) => ({
    run: Effect.try({
      try: () => {
        // better-sqlite3 is synchronous; reading the schema of a healthy file takes microseconds.
        const db = new Database(filename, { readonly: true, fileMustExist: true, timeout: 1_000 })
        try {
          db.prepare("SELECT count(*) AS n FROM sqlite_master").get()
        } finally {
          db.close()
        }
        return ok
      },
      catch: (cause) => fromCause(name, cause, [])
    })
  }))
}
