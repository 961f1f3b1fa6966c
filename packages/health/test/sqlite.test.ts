import { describe, expect, it } from "@effect/vitest"
import { waitUntil } from "@fastorm/test-support"
import Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as HealthMonitor from "../src/HealthMonitor.js"

const fast = {
  interval: "20 millis",
  timeout: "500 millis",
  failureThreshold: 2,
  recoveryThreshold: 2,
  backoffCap: "50 millis"
} as const

describe("SQLite nodes", () => {
  it.scopedLive("a readable database file is HEALTHY; once it disappears the node is UNHEALTHY; back when restored", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "fastorm-health-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const file = join(dir, "app.db")
      const db = new Database(file)
      db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)")
      db.close()
      const monitor = yield* HealthMonitor.make({
        ...fast,
        nodes: [{ role: "primary", url: `sqlite:///${file}` }, {
          name: "mem",
          role: "replica",
          url: "sqlite://:memory:"
        }]
      })
      const [main] = monitor.nodes
      yield* waitUntil(monitor.snapshot, (s) => s.every((n) => n.status === "HEALTHY"), {
        what: "every node HEALTHY",
        timeoutMs: 5_000
      })
      const health = yield* monitor.health(main!.name)
      expect(health).toMatchObject({ role: "primary", roleMismatch: false, lagSeconds: 0 })

      rmSync(file)
      yield* waitUntil(monitor.status(main!.name), (s) => s === "UNHEALTHY", {
        what: `${main!.name} UNHEALTHY`,
        timeoutMs: 5_000
      })
      expect((yield* monitor.health(main!.name)).lastError?.tag).toBe("ConnectionFailed")
      expect(yield* monitor.status("mem")).toBe("HEALTHY")

      writeFileSync(file, "this is not a database, just some bytes that are long enough to have a header".repeat(20))
      yield* Effect.sleep("100 millis")
      expect(yield* monitor.status(main!.name)).toBe("UNHEALTHY")

      rmSync(file)
      const again = new Database(file)
      again.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)")
      again.close()
      yield* waitUntil(monitor.status(main!.name), (s) => s === "HEALTHY", {
        what: `${main!.name} HEALTHY`,
        timeoutMs: 5_000
      })
    }))

  // A node whose file cannot serve as a database: a file that is not one (SQLITE_NOTADB), and a directory where the
  // file should be (SQLITE_CANTOPEN). Unlike file modes, both hold for root too.
  it.scopedLive("a file that is not a database, or a directory in its place, is UNHEALTHY", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "fastorm-health-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const garbage = join(dir, "garbage.db")
      writeFileSync(
        garbage,
        "this is not a SQLite database, only some text long enough to be read as a header".repeat(20)
      )
      const folder = join(dir, "folder.db")
      mkdirSync(folder)
      const monitor = yield* HealthMonitor.make({
        ...fast,
        nodes: [
          { name: "garbage", role: "primary", url: `sqlite:///${garbage}` },
          { name: "folder", role: "replica", url: `sqlite:///${folder}` }
        ]
      })
      yield* waitUntil(monitor.status("garbage"), (s) => s === "UNHEALTHY", {
        what: "garbage UNHEALTHY",
        timeoutMs: 5_000
      })
      yield* waitUntil(monitor.status("folder"), (s) => s === "UNHEALTHY", {
        what: "folder UNHEALTHY",
        timeoutMs: 5_000
      })
    }))
})
