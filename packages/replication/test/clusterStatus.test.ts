/**
 * `FastOrm.layer` provides the cluster's read-only `ClusterStatus`: every node with its role, status and latency,
 * readiness, and the stream of changes (here on SQLite; the HTTP package's tests stop real nodes).
 */
import { describe, expect, it } from "@effect/vitest"
import { ClusterStatus } from "@fastorm/health"
import { waitUntil } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { FastOrm } from "../src/index.js"

const tempFile = Effect.map(
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "fastorm-status-test-"))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  ),
  (dir) => Path.join(dir, "app.db")
)

describe("FastOrm.layer provides ClusterStatus", () => {
  it.scopedLive("every node, its role and status, and readiness", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const program = Effect.gen(function*() {
        const status = yield* ClusterStatus.ClusterStatus
        expect(status.cluster).toBe("status-test")
        yield* waitUntil(status.nodes, (ns) => ns.every((n) => n.status === "HEALTHY"), {
          timeoutMs: 10_000,
          what: "every node HEALTHY"
        })
        const nodes = yield* status.nodes
        expect(nodes.map((n) => [n.name, n.configuredRole, n.routing])).toEqual([
          ["primary", "primary", "primary"],
          ["replica-1", "replica", "replica"]
        ])
        expect(nodes.every((n) => n.latencyMs !== null && n.lastError === null)).toBe(true)
        expect(yield* status.readiness()).toMatchObject({ ready: true, primary: "primary" })
      })
      yield* program.pipe(Effect.provide(FastOrm.layer({
        name: "status-test",
        write: `sqlite:///${file}`,
        read: `sqlite:///${file}`,
        health: { interval: "100 millis" }
      })))
    }))
})
