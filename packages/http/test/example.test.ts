/**
 * `npm run example:http` as a user runs it: examples/http-service.ts on SQLite (no FASTORM_* variables), a user
 * created and read back over HTTP, ready, and the metrics served.
 */
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

/** Resolves once the child prints `text`, rejects when it exits first or after `ms`. */
const printed = (child: ChildProcess, text: string, ms: number) =>
  new Promise<void>((resolve, reject) => {
    let out = ""
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms:\n${out}`)), ms)
    const onData = (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes(text)) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout?.on("data", onData)
    child.stderr?.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the example exited (${code}):\n${out}`))
    })
  })

describe("examples/http-service.ts", () => {
  it("serves the users API and the health endpoints on SQLite", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "fastorm-example-"))
    const port = await freePort()
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("FASTORM_")))
    const child = spawn(
      join(root, "node_modules", ".bin", "tsx"),
      ["--conditions=@fastorm/source", join(root, "examples", "http-service.ts")],
      { cwd, env: { ...env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] }
    )
    try {
      await printed(child, "Listening on", 60_000)
      const base = `http://127.0.0.1:${port}`
      const created = await fetch(`${base}/users`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "Ada", email: "ada@example.com" })
      })
      expect(created.status).toBe(201)
      const user = await created.json() as { readonly id: number; readonly name: string }
      expect(user.name).toBe("Ada")
      const found = await fetch(`${base}/users/${user.id}`)
      expect([found.status, (await found.json() as { readonly email: string }).email]).toEqual([200, "ada@example.com"])
      expect((await fetch(`${base}/users/999999`)).status).toBe(404)
      expect((await fetch(`${base}/users/not-a-number`)).status).toBe(400)
      let ready = await fetch(`${base}/health/ready`)
      for (let i = 0; i < 50 && ready.status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        ready = await fetch(`${base}/health/ready`)
      }
      expect(ready.status).toBe(200)
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/fastorm_routed_statements_total\{node="primary"/)
    } finally {
      child.kill("SIGTERM")
      rmSync(cwd, { recursive: true, force: true })
    }
  }, 90_000)
})
