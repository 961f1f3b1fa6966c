/**
 * A statement bounded by its caller's deadline (`CompiledStatement.executeWithin`), on each network adapter's pooled
 * connection: the session waits of the router run so, with no fiber raced against them. No answer in time is
 * `undefined`, the checkout counts against the deadline, and the pool keeps serving afterwards.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import { LOADED_MACHINE_SLACK_MS, markedSleep, sleepyNodes } from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { DatabaseAdapterFactory } from "../src/index.js"

const backends = sleepyNodes((nodes) => nodes.primary)

const clientOf = (url: string, config: Record<string, unknown> = {}) =>
  Effect.flatMap(DatabaseAdapterFactory.create(url, { config }), (adapter) => adapter.makeClient({ verify: true }))

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, value]) => ({ ms: Duration.toMillis(duration), value }))

const one = CompiledStatement.make("SELECT 1 AS one")

for (const backend of backends) {
  describe(`executeWithin on ${backend.name}`, () => {
    it.scopedLive("answers within the deadline with the rows", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url)
        expect(CompiledStatement.isBoundedConnection(client.connection)).toBe(true)
        const rows = yield* CompiledStatement.executeWithin(client.connection, one, [], 2_000)
        expect(rows?.map((row) => Number(row.one))).toEqual([1])
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("a statement past the deadline is undefined, in the caller's time, and the pool serves on", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url)
        const slow = CompiledStatement.make(backend.sleep(3))
        const { ms, value } = yield* timed(CompiledStatement.executeWithin(client.connection, slow, [], 300))
        expect(value).toBeUndefined()
        expect(ms).toBeGreaterThanOrEqual(250)
        // The 3 s statement is left running on a closed connection: the caller is back after the deadline.
        expect(ms).toBeLessThan(300 + LOADED_MACHINE_SLACK_MS)
        const rows = yield* CompiledStatement.executeWithin(client.connection, one, [], 2_000)
        expect(rows?.length).toBe(1)
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("waiting for a connection counts against the deadline", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url, { poolSize: 1, maxOverflow: 0, connectTimeout: "5 seconds" })
        // The only connection is busy for far longer than the deadline; connectTimeout alone would wait 5 s.
        const sleep = markedSleep(backend.node, 2)
        const busy = yield* Effect.fork(client.unsafe(sleep.sql))
        yield* sleep.running
        const { ms, value } = yield* timed(CompiledStatement.executeWithin(client.connection, one, [], 300))
        expect(value).toBeUndefined()
        expect(ms).toBeLessThan(300 + LOADED_MACHINE_SLACK_MS)
        yield* busy.await
        const rows = yield* CompiledStatement.executeWithin(client.connection, one, [], 2_000)
        expect(rows?.length).toBe(1)
        expect(client.poolStatus().open).toBeLessThanOrEqual(1)
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("the node's own statement deadline still bounds a longer one", () =>
      Effect.gen(function*() {
        // statementTimeout 300 ms: the node's client-side deadline is 400 ms, well under the caller's 10 s.
        const client = yield* clientOf(backend.url, { statementTimeout: "300 millis" })
        const slow = CompiledStatement.make(backend.sleep(3))
        const { ms, value } = yield* timed(
          Effect.either(CompiledStatement.executeWithin(client.connection, slow, [], 10_000))
        )
        // Either the server's own timeout answers (an error) or the client's deadline does (no answer): never 3 s.
        expect(value._tag === "Left" || value.right === undefined).toBe(true)
        expect(ms).toBeLessThan(400 + LOADED_MACHINE_SLACK_MS)
      }).pipe(Effect.provide(Reactivity.layer)))
  })
}
