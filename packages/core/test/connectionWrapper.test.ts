import type { Connection } from "@effect/sql/SqlConnection"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { CompiledStatement, Connections, ConnectionWrapper } from "../src/index.js"

/** A connection that answers each statement with the method's name and the SQL, recording nothing else. */
const answering = (name: string): Connection => ({
  execute: (sql) => Effect.succeed([{ by: name, method: "execute", sql }]),
  executeRaw: (sql) => Effect.succeed({ by: name, method: "executeRaw", sql }),
  executeValues: (sql) => Effect.succeed([[name, "executeValues", sql]]),
  executeUnprepared: (sql) => Effect.succeed([{ by: name, method: "executeUnprepared", sql }]),
  executeStream: (sql) => Stream.make({ by: name, method: "executeStream", sql })
})

describe("ConnectionWrapper", () => {
  it.effect("make runs each method through the wrapper on the connection it chooses, methods detached included", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const target = answering("target")
      const wrapped = ConnectionWrapper.make(
        (sql, _params, run) => Effect.zipRight(Effect.sync(() => seen.push(sql)), run(target)),
        (sql, _params, run) => Stream.concat(Stream.execute(Effect.sync(() => seen.push(sql))), run(target))
      )
      const { execute, executeStream } = wrapped
      expect(yield* execute("a", [], undefined)).toEqual([{ by: "target", method: "execute", sql: "a" }])
      expect(yield* wrapped.executeRaw("b", [])).toEqual({ by: "target", method: "executeRaw", sql: "b" })
      expect(yield* wrapped.executeValues("c", [])).toEqual([["target", "executeValues", "c"]])
      expect(yield* wrapped.executeUnprepared("d", [], undefined)).toEqual([
        { by: "target", method: "executeUnprepared", sql: "d" }
      ])
      const streamed = yield* Stream.runCollect(executeStream("e", [], undefined))
      expect(Chunk.toArray(streamed)).toEqual([{ by: "target", method: "executeStream", sql: "e" }])
      expect(seen).toEqual(["a", "b", "c", "d", "e"])
      // Spread like a literal: its methods are its own.
      expect(Object.keys({ ...wrapped }).sort()).toEqual(
        [
          "execute",
          "executeCounted",
          "executePrepared",
          "executeRaw",
          "executeStream",
          "executeUnprepared",
          "executeValues"
        ]
      )
    }))

  it.effect("a compiled statement runs as the chosen connection runs one: prepared where it prepares, else as SQL", () =>
    Effect.gen(function*() {
      const statement = CompiledStatement.make("SELECT wrapped")
      const preparing: CompiledStatement.CountingConnection = {
        ...answering("preparing"),
        executePrepared: (s) => Effect.succeed([{ by: "preparing", method: "executePrepared", sql: s.sql }]),
        executeCounted: () => Effect.succeed(7)
      }
      const seen: Array<string> = []
      const over = (target: Connection) =>
        ConnectionWrapper.make(
          (sql, _params, run) => Effect.zipRight(Effect.sync(() => seen.push(sql)), run(target)),
          (_sql, _params, run) => run(target)
        )
      const onPreparing = over(preparing)
      expect(CompiledStatement.isPreparedConnection(onPreparing)).toBe(true)
      expect(yield* CompiledStatement.executeOn(onPreparing, statement, [])).toEqual([
        { by: "preparing", method: "executePrepared", sql: "SELECT wrapped" }
      ])
      expect(yield* CompiledStatement.countOn(onPreparing, statement, [])).toBe(7)
      const onPlain = over(answering("plain"))
      expect(yield* CompiledStatement.executeOn(onPlain, statement, [])).toEqual([
        { by: "plain", method: "execute", sql: "SELECT wrapped" }
      ])
      // A plain connection's count comes from its raw result (none here: 0).
      expect(yield* CompiledStatement.countOn(onPlain, statement, [])).toBe(0)
      expect(seen).toEqual(["SELECT wrapped", "SELECT wrapped", "SELECT wrapped", "SELECT wrapped"])
    }))

  it.effect("make's unprepared replaces executeUnprepared only, given the plain one", () =>
    Effect.gen(function*() {
      const base = answering("base")
      const replaced = ConnectionWrapper.make(
        (_sql, _params, run) => run(base),
        (_sql, _params, run) => run(base),
        (plain) => (sql, params, transformRows) =>
          sql === "COMMIT"
            ? answering("other").executeUnprepared(sql, [], undefined)
            : plain(sql, params, transformRows)
      )
      expect(yield* replaced.executeUnprepared("BEGIN", [], undefined)).toEqual([
        { by: "base", method: "executeUnprepared", sql: "BEGIN" }
      ])
      expect(yield* replaced.executeUnprepared("COMMIT", [], undefined)).toEqual([
        { by: "other", method: "executeUnprepared", sql: "COMMIT" }
      ])
      expect(yield* replaced.execute("x", [], undefined)).toEqual([{ by: "base", method: "execute", sql: "x" }])
      expect(yield* replaced.executeRaw("y", [])).toEqual({ by: "base", method: "executeRaw", sql: "y" })
      expect(yield* replaced.executeValues("z", [])).toEqual([["base", "executeValues", "z"]])
      const streamed = yield* Stream.runCollect(replaced.executeStream("s", [], undefined))
      expect(Chunk.toArray(streamed)).toEqual([{ by: "base", method: "executeStream", sql: "s" }])
    }))

  it.effect("Connections.heldConnection keeps the connection and runs its release", () =>
    Effect.gen(function*() {
      const connection = answering("held")
      let released = 0
      const held = Connections.heldConnection(connection, () => Effect.sync(() => void released++))
      expect(held.connection).toBe(connection)
      yield* held.release(Exit.void)
      expect(released).toBe(1)
    }))
})
