/**
 * `PostgreSQLAdapter.cutSocket` on the live cluster: a client busy with a statement the server is still running ends
 * at once, without the server's acknowledgement `end()` would wait for; cutting again, or cutting a client that never
 * connected, does nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { loadCluster, LOADED_MACHINE_SLACK_MS } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import Pg from "pg"
import { PostgreSQLAdapter } from "../src/index.js"

const primaryUrl = loadCluster().postgres.primary.url

describe("PostgreSQLAdapter.cutSocket", () => {
  it.live("ends a client whose statement the server is still running, at once", () =>
    Effect.promise(async () => {
      const client = new Pg.Client({ connectionString: primaryUrl })
      await client.connect()
      const ended = new Promise<void>((resolve) => client.once("end", () => resolve()))
      client.on("error", () => undefined)
      const started = Date.now()
      const sleeping = client.query("SELECT pg_sleep(30)").then(() => "answered", (error: Error) => error.message)
      PostgreSQLAdapter.cutSocket(client)
      const outcome = await sleeping
      await ended
      expect(outcome).not.toBe("answered")
      expect(Date.now() - started).toBeLessThan(1_000 + LOADED_MACHINE_SLACK_MS)
      // The socket is gone: a second cut finds nothing to do.
      expect(() => PostgreSQLAdapter.cutSocket(client)).not.toThrow()
    }))

  it("does nothing to a client that never connected, or to an object that is no client", () => {
    const idle = new Pg.Client({ connectionString: primaryUrl })
    expect(() => PostgreSQLAdapter.cutSocket(idle)).not.toThrow()
    expect(() => PostgreSQLAdapter.cutSocket({})).not.toThrow()
    expect(() =>
      PostgreSQLAdapter.cutSocket({
        connection: {
          stream: {
            destroy: () => {
              throw new Error("gone")
            }
          }
        }
      })
    )
      .not.toThrow()
  })
})
