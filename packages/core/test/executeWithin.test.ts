/**
 * `CompiledStatement.executeWithin` without a server: a connection that bounds the statement itself is handed the
 * deadline; any other connection's statement is raced against it, and left to end in the background when it loses.
 */
import type { Connection } from "@effect/sql/SqlConnection"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as CompiledStatement from "../src/CompiledStatement.js"

const statement = CompiledStatement.make("SELECT 1 AS one /* executeWithin */")

/** A connection whose every statement answers `answer`. */
const connectionAnswering = (answer: Effect.Effect<ReadonlyArray<any>>): Connection => ({
  execute: () => answer,
  executeRaw: () => answer,
  executeValues: () => answer as Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>>,
  executeUnprepared: () => answer,
  executeStream: () => Stream.empty
})

describe("CompiledStatement.executeWithin", () => {
  it.live("a connection that cannot bound itself: its answer within the deadline", () =>
    Effect.gen(function*() {
      const connection = connectionAnswering(Effect.succeed([{ one: 1 }]))
      expect(CompiledStatement.isBoundedConnection(connection)).toBe(false)
      expect(yield* CompiledStatement.executeWithin(connection, statement, [], 1_000)).toEqual([{ one: 1 }])
    }))

  it.live("a connection that cannot bound itself: undefined at the deadline, the statement left running", () =>
    Effect.gen(function*() {
      let interrupted = false
      const never = Effect.onInterrupt(Effect.never, () =>
        Effect.sync(() => {
          interrupted = true
        }))
      const [took, rows] = yield* Effect.timed(
        CompiledStatement.executeWithin(connectionAnswering(never), statement, [], 50)
      )
      expect(rows).toBeUndefined()
      expect(Duration.toMillis(took)).toBeGreaterThanOrEqual(45)
      expect(Duration.toMillis(took)).toBeLessThan(1_000)
      // Disconnected: the statement's own interruption runs in the background, not in the caller's time.
      yield* Effect.sleep("20 millis")
      expect(interrupted).toBe(true)
    }))

  it.effect("a connection that bounds itself is handed the statement and the deadline, and nothing races it", () =>
    Effect.gen(function*() {
      const seen: Array<readonly [string, number]> = []
      const connection: CompiledStatement.BoundedConnection = {
        ...connectionAnswering(Effect.die("the ordinary path must not run")),
        executeWithin: (compiled, _params, deadlineMs) =>
          Effect.sync(() => {
            seen.push([compiled.sql, deadlineMs])
            return undefined
          })
      }
      expect(yield* CompiledStatement.executeWithin(connection, statement, [], 750)).toBeUndefined()
      expect(seen).toEqual([[statement.sql, 750]])
    }))
})
