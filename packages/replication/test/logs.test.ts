/**
 * The router's log lines are structured: Effect `Logger` lines at warning for a retry and a fallback, annotated with
 * the cluster, the node, the reason and the failure's problem and driver code (README, "Operating FastORM").
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import { captureLogs } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import { FastOrmTest } from "../src/index.js"

const seedAndRead = Effect.gen(function*() {
  const write = yield* WriteConnection
  yield* write`CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL)`
  yield* write`INSERT INTO items (label) VALUES ('a')`
  yield* FastOrmTest.fail("replica-1", "connection")
  yield* FastOrmTest.fail("replica-2", "reset")
  const read = yield* ReadConnection
  return yield* read<{ label: string }>`SELECT label FROM items WHERE id = ${1}`
})

describe("router log lines", () => {
  it.effect("a retry and a fallback: warnings with cluster, node, reason, problem and code", () => {
    const { layer, lines } = captureLogs()
    return Effect.gen(function*() {
      const rows = yield* seedAndRead
      expect(rows.map((r) => r.label)).toEqual(["a"])
      const router = lines.filter((l) => l.annotations.component === "router")
      expect(router.map((l) => [l.level, l.annotations.node, l.annotations.reason])).toEqual([
        ["WARN", "replica-1", "ordinary"],
        ["WARN", "replica-2", "retry"],
        ["WARN", "primary", "fallback"]
      ])
      expect(router[0]!.annotations).toMatchObject({
        cluster: "logs",
        problem: "refused",
        code: "ECONNREFUSED",
        next: "replica-2"
      })
      expect(router[1]!.annotations).toMatchObject({ code: "ECONNRESET", next: "fallback" })
      expect(router[2]!.message).toBe("no replica can serve the read: it falls back to the primary")
    }).pipe(
      Effect.provide(FastOrmTest.layer({ cluster: "logs" })),
      Effect.provide(layer),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  })

  it.effect("a warning repeated per read is written once per interval, then with the count left out", () => {
    const { layer, lines } = captureLogs()
    return Effect.gen(function*() {
      yield* seedAndRead
      const read = yield* ReadConnection
      for (let i = 0; i < 5; i++) yield* read`SELECT label FROM items WHERE id = ${1}`
      const fallbacks = () =>
        lines.filter((l) => l.annotations.component === "router" && l.annotations.reason === "fallback")
      expect(fallbacks()).toHaveLength(1)
      expect(fallbacks()[0]!.annotations.suppressed).toBeUndefined()
      yield* TestClock.adjust("10 seconds")
      yield* read`SELECT label FROM items WHERE id = ${1}`
      expect(fallbacks()).toHaveLength(2)
      expect(fallbacks()[1]!.annotations.suppressed).toBe(5)
    }).pipe(
      Effect.provide(FastOrmTest.layer({ cluster: "throttled" })),
      Effect.provide(layer),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  })
})
