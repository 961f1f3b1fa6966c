/**
 * `fastorm status` without `--once`: the table is redrawn every interval until the command is stopped (here on a
 * SQLite file, so no server is needed).
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

describe("fastorm status (live)", () => {
  it("redraws the table every interval until stopped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fastorm-status-"))
    writeFileSync(join(dir, "app.db"), "") // an empty file is an empty SQLite database
    const child = spawn(
      join(root, "node_modules", ".bin", "tsx"),
      [
        "--conditions=@fastorm/source",
        join(root, "packages", "cli", "src", "bin.ts"),
        "status",
        "--interval",
        "1",
        "--write",
        `sqlite:///${join(dir, "app.db")}`
      ],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] }
    )
    try {
      const out = await new Promise<string>((resolve, reject) => {
        let text = ""
        const timer = setTimeout(() => reject(new Error(`fewer than 3 tables within 60 s:\n${text}`)), 60_000)
        child.stdout.on("data", (chunk: Buffer) => {
          text += chunk.toString()
          if (text.split("\n").filter((line) => /^(NOT )?READY: /.test(line)).length >= 3) {
            clearTimeout(timer)
            resolve(text)
          }
        })
        child.once("exit", (code) => reject(new Error(`exited (${code}) before 3 tables:\n${text}`)))
      })
      const tables = out.split("\n").filter((line) => line.startsWith("READY: "))
      expect(tables.length).toBeGreaterThanOrEqual(3)
      expect(out).toMatch(/primary +primary +HEALTHY/)
    } finally {
      child.kill("SIGTERM")
      rmSync(dir, { recursive: true, force: true })
    }
  }, 90_000)
})
