import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { APP_PASSWORD } from "../src/cluster/constants.js"
import { waitUntil, waitUntilAsync } from "../src/wait.js"

const defectMessage = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded"

describe("waitUntil", () => {
  it.live("returns the elapsed milliseconds once the condition holds", () =>
    Effect.gen(function*() {
      let n = 0
      const elapsed = yield* waitUntil(Effect.sync(() => ++n), (v) => v >= 3, { what: "3 reads", timeoutMs: 1_000 })
      expect(n).toBe(3)
      expect(elapsed).toBeGreaterThanOrEqual(0)
    }))

  it.live("dies at the bound naming what was awaited and the last value seen", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        waitUntil(Effect.succeed({ status: "DEGRADED" }), (h) => h.status === "HEALTHY", {
          what: "replica-1 HEALTHY",
          timeoutMs: 100,
          detail: () => ({ probes: 4 })
        })
      )
      const message = defectMessage(exit)
      expect(message).toContain("Timed out after 100 ms waiting for replica-1 HEALTHY")
      expect(message).toContain(`last value: {"status":"DEGRADED"}`)
      expect(message).toContain(`{"probes":4}`)
    }))

  it.live("a read that never finishes ends the wait at the bound too", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const exit = yield* Effect.exit(waitUntil(Effect.never, () => true, { what: "a frozen node", timeoutMs: 150 }))
      expect(Date.now() - started).toBeLessThan(5_000)
      expect(defectMessage(exit)).toContain("no read finished")
    }))

  it.live("a failed read fails the wait with its own error", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(waitUntil(Effect.fail("boom"), () => true, { what: "x", timeoutMs: 1_000 }))
      expect(exit).toEqual(Exit.fail("boom"))
    }))

  it.live("the message never shows a test password", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        waitUntil(Effect.succeed(`postgres://app:${APP_PASSWORD}@x`), () => false, { what: "x", timeoutMs: 50 })
      )
      expect(defectMessage(exit)).not.toContain(APP_PASSWORD)
    }))
})

describe("waitUntilAsync", () => {
  it("counts rejections as not yet and reports the last one at the bound", async () => {
    let calls = 0
    const error = await waitUntilAsync(
      () => {
        calls++
        return Promise.reject(new Error("ECONNREFUSED"))
      },
      () => true,
      { what: "the server to accept connections", timeoutMs: 100, intervalMs: 10 }
    ).then(() => undefined, (e: Error) => e)
    expect(calls).toBeGreaterThan(1)
    expect(error?.message).toContain("waiting for the server to accept connections")
    expect(error?.message).toContain("last error: ECONNREFUSED")
  })

  it("bounds a read that never settles", async () => {
    const started = Date.now()
    const error = await waitUntilAsync(() => new Promise<boolean>(() => undefined), () => true, {
      what: "a frozen node",
      timeoutMs: 100
    }).then(() => undefined, (e: Error) => e)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(error?.message).toContain("did not finish within")
  })

  it("keeps the last value when the read that hits the bound is cut short", async () => {
    let calls = 0
    const error = await waitUntilAsync(
      () => ++calls <= 2 ? Promise.resolve({ io: "No" }) : new Promise<{ io: string }>(() => undefined),
      (threads) => threads.io === "Yes",
      { what: "replication", timeoutMs: 150, intervalMs: 10 }
    ).then(() => undefined, (e: Error) => e)
    expect(error?.message).toContain(`last value: {"io":"No"} (then a read did not finish in time)`)
  })
})
