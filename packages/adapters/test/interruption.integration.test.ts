/**
 * An interrupted statement on each network adapter's pooled connection: the fiber is free at once, and the
 * connection the statement ran on is closed rather than handed to the next caller (it may still be running there).
 * With a pool of one, the next statement gets a fresh connection in its own time, not after the interrupted one ends.
 * PostgreSQL's pipelined connections are off here: on one, an interrupted statement's answer is dropped and the
 * connection serves on (`pgLanes.integration.test.ts`).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import type { SleepyNode } from "@fastorm/test-support"
import { LOADED_MACHINE_SLACK_MS, markedSleep, poolOnly, sleepyNodes } from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { DatabaseAdapterFactory } from "../src/index.js"

const backends = sleepyNodes((nodes) => nodes.primary)

/** The statement that names the server-side session a connection is. */
const sessionSql = (backend: SleepyNode) =>
  backend.node.kind === "postgres" ? "SELECT pg_backend_pid() AS id" : "SELECT CONNECTION_ID() AS id"

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, value]) => ({ ms: Duration.toMillis(duration), value }))

for (const backend of backends) {
  describe(`an interrupted statement on ${backend.name}`, () => {
    it.scopedLive("frees its fiber at once; its connection is closed, and the next statement opens another", () =>
      Effect.gen(function*() {
        const adapter = yield* DatabaseAdapterFactory.create(backend.url, {
          config: { poolSize: 1, maxOverflow: 0, connectTimeout: "5 seconds", ...poolOnly(backend.node.kind) }
        })
        const client = yield* adapter.makeClient({ verify: true })
        const idOf = Effect.map(client.unsafe<{ id: unknown }>(sessionSql(backend)), (rows) => String(rows[0]!.id))
        const before = yield* idOf
        const sleep = markedSleep(backend.node, 5)
        const busy = yield* Effect.fork(client.unsafe(sleep.sql))
        yield* sleep.running
        const interrupted = yield* timed(Fiber.interrupt(busy))
        expect(Exit.isInterrupted(interrupted.value)).toBe(true)
        expect(interrupted.ms).toBeLessThan(LOADED_MACHINE_SLACK_MS)
        // The only connection stays busy for about 5 s more: reused, the next statement would wait for it.
        const next = yield* timed(idOf)
        expect(next.value).not.toBe(before)
        expect(next.ms).toBeLessThan(3_000)
      }).pipe(Effect.provide(Reactivity.layer)))
  })
}
