/**
 * `fastorm doctor` on a SQLite file changes nothing: the file is opened read-only, so a mistyped path creates no
 * database and the journal mode stays as it was (FastORM sets WAL when the application first opens it for writing).
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Doctor from "../src/internal/doctor.js"

const withDir = <A, E>(use: (dir: string) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "fastorm-doctor-"))),
    use,
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

describe("fastorm doctor on SQLite", () => {
  it.effect("leaves an existing file's journal mode as it was, and reports the node", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const file = join(dir, "app.db")
        const db = new Database(file)
        db.pragma("journal_mode = DELETE")
        db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        db.close()
        const report = yield* Doctor.check(`sqlite:///${file}`, "5 seconds")
        expect(report.verdict).toBe("ok")
        expect(report.server?.product).toBe("sqlite")
        expect(report.settings.map((s) => s.name).sort()).toEqual(["busy_timeout", "foreign_keys"])
        const after = new Database(file, { readonly: true })
        expect(after.pragma("journal_mode", { simple: true })).toBe("delete")
        after.close()
      })
    ))

  it.effect("a missing file is unreachable and is not created", () =>
    withDir((dir) =>
      Effect.gen(function*() {
        const file = join(dir, "typo.db")
        const report = yield* Doctor.check(`sqlite:///${file}`, "5 seconds")
        expect(report.verdict).toBe("unreachable")
        expect(existsSync(file)).toBe(false)
      })
    ))
})
