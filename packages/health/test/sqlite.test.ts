import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
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

const waitFor = <A, E>(read: Effect.Effect<A, E>, ok: (a: A) => boolean, limitMs = 5_000) =>
  Effect.gen(function*() {
    const start = Date.now()
    for (;;) {
      const a = yield* read
      if (ok(a)) return Date.now() - start
      if (Date.now() - start > limitMs) return yield* Effect.dieMessage(`condition not met within ${limitMs} ms`)
      yield* Effect.sleep("5 millis")
    }
  })

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
      yield* waitFor(monitor.snapshot, (s) => s.every((n) => n.status === "HEALTHY"))
      const health = yield* monitor.health(main!.name)
      expect(health).toMatchObject({ role: "primary", roleMismatch: false, lagSeconds: 0 })

      rmSync(file)
      yield* waitFor(monitor.status(main!.name), (s) => s === "UNHEALTHY")
      expect((yield* monitor.health(main!.name)).lastError?.tag).toBe("ConnectionFailed")
      expect(yield* monitor.status("mem")).toBe("HEALTHY")

      writeFileSync(file, "this is not a database, just some bytes that are long enough to have a header".repeat(20))
      yield* Effect.sleep("100 millis")
      expect(yield* monitor.status(main!.name)).toBe("UNHEALTHY")

      rmSync(file)
      const again = new Database(file)
      again.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)")
      again.close()
      yield* waitFor(monitor.status(main!.name), (s) => s === "HEALTHY")
    }))

  it.scopedLive("an unreadable file is UNHEALTHY", () =>
    Effect.gen(function*() {
      // root reads any file whatever its mode; the check only means something for other users.
      if (process.getuid?.() === 0) return
      const dir = mkdtempSync(join(tmpdir(), "fastorm-health-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const file = join(dir, "app.db")
      new Database(file).close()
      chmodSync(file, 0o000)
      const monitor = yield* HealthMonitor.make({
        ...fast,
        nodes: [{ name: "ro", role: "primary", url: `sqlite:///${file}` }]
      })
      yield* waitFor(monitor.status("ro"), (s) => s === "UNHEALTHY")
    }))
})
