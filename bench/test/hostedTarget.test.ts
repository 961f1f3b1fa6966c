import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { hosted } from "../src/hostedTarget.js"
import { seedSqlite } from "../src/sqliteTargets.js"
import { deletesAt, startDeletesAt } from "../src/workloads.js"

const ROWS = 200

describe("a target in a process of its own", () => {
  it("is built there, warmed, measured and closed, and the count of deletes goes on across processes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fastorm-hosted-"))
    try {
      const sqliteFile = join(dir, "bench.db")
      seedSqlite(sqliteFile, ROWS, false)
      const target = await hosted({ name: "raw-driver", db: "sqlite", rows: ROWS, sqliteFile })
      try {
        expect(target.supports("update")).toBe(true)
        expect(target.supports("stream")).toBe(true)
        expect((await target.warm("insert", 2, 20)).failed).toBe(0)
        startDeletesAt(ROWS + 1)
        const warmed = await target.warm("delete", 2, 10)
        expect(warmed).toEqual({ failed: 0, errors: [] })
        // The host deleted ids ROWS+1..ROWS+10: the worker's count now starts after them.
        expect(deletesAt()).toBe(ROWS + 11)
        const sample = await target.measure("point-read", 2, 0.2)
        expect(sample.queries).toBeGreaterThan(0)
        expect(sample.failed).toBe(0)
        // The host's own CPU, read there.
        expect(sample.cpuUsPerQuery).toBeGreaterThan(0)
      } finally {
        expect(await target.close()).toBe(0)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("that cannot be built fails with its reason", async () => {
    await expect(hosted({ name: "raw-driver", db: "postgres", rows: ROWS })).rejects.toThrow(/could not be built/)
  }, 60_000)
})
