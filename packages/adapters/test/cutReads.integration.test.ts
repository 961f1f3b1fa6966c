/**
 * Reads ended at once (`NodeClient.reads.cut`), on each network adapter: what a router does to the reads waiting on
 * a node the health monitor finds down. A cut read fails at once with a connection-class error, its connection is
 * closed (the statement may still run on the server), the pool serves on, and statements of the client's own
 * pooled connection (writes, a primary's statements) are never cut. Streams of reads (on `reads.reserve` or the read
 * connection) and statements under a caller's deadline on the read connection (a session wait) end the same way; a
 * stream that already gave its last row is left alone and not counted; a stream on the client's own reserved
 * connection (a transaction's) never ends so.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import { LOADED_MACHINE_SLACK_MS, markedSleep, poolOnly, sleepyNodes, waitUntil } from "@fastorm/test-support"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type { Scope } from "effect/Scope"
import * as Stream from "effect/Stream"
import type { NodeReads } from "../src/DatabaseAdapter.js"
import { DatabaseAdapterFactory } from "../src/index.js"

const backends = sleepyNodes((nodes) => nodes.replicas[0]!)

const clientOf = (url: string, config: Record<string, unknown> = {}) =>
  Effect.flatMap(
    DatabaseAdapterFactory.create(url, { config }),
    (adapter) => adapter.makeClient({ verify: true, readOnly: true })
  )

for (const backend of backends) {
  describe(`reads ended at once on ${backend.name}`, () => {
    const expectCut = (outcome: Either.Either<unknown, SqlError>) => {
      expect(outcome._tag).toBe("Left")
      const error = outcome._tag === "Left" ? outcome.left : undefined
      expect(error).toBeInstanceOf(SqlError)
      expect(error?.message).toMatch(/was ended: the node was found down/)
      expect((error?.cause as { code?: string }).code).toBe("ECONNABORTED")
    }

    it.scopedLive("a read waiting on the node fails at once with ECONNABORTED, and the pool serves on", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url)
        const reads = client.reads.connection
        const sleep = markedSleep(backend.node, 10)
        const waiting = yield* Effect.fork(Effect.either(reads.execute(sleep.sql, [], undefined)))
        yield* sleep.running
        const started = performance.now()
        expect(client.reads.cut()).toBe(1)
        const outcome = yield* Fiber.join(waiting)
        const ms = performance.now() - started
        expect(outcome._tag).toBe("Left")
        const error = outcome._tag === "Left" ? outcome.left : undefined
        expect(error).toBeInstanceOf(SqlError)
        expect(error?.message).toMatch(/was ended: the node was found down/)
        expect((error?.cause as { code?: string }).code).toBe("ECONNABORTED")
        expect(ms).toBeLessThan(LOADED_MACHINE_SLACK_MS)
        // Nothing left to cut; the next read answers.
        expect(client.reads.cut()).toBe(0)
        const rows = yield* reads.execute("SELECT 1 AS one", [], undefined)
        expect(rows.map((row: any) => Number(row.one))).toEqual([1])
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("a read still waiting for a connection is ended too, and the connection it gets later serves on", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url, {
          poolSize: 1,
          maxOverflow: 0,
          connectTimeout: "5 seconds",
          ...poolOnly(backend.node.kind)
        })
        const reads = client.reads.connection
        const sleep = markedSleep(backend.node, 1)
        const busy = yield* Effect.fork(Effect.either(reads.execute(sleep.sql, [], undefined)))
        yield* sleep.running
        const queued = yield* Effect.fork(Effect.either(reads.execute("SELECT 2 AS two", [], undefined)))
        yield* waitUntil(Effect.sync(() => client.poolStatus?.().waiting ?? 0), (n) => n === 1, {
          what: "the second read to wait for the pool's one connection",
          timeoutMs: 10_000,
          intervalMs: 5
        })
        expect(client.reads.cut()).toBe(2)
        expect((yield* Fiber.join(busy))._tag).toBe("Left")
        expect((yield* Fiber.join(queued))._tag).toBe("Left")
        const rows = yield* reads.execute("SELECT 3 AS three", [], undefined)
        expect(rows.map((row: any) => Number(row.three))).toEqual([3])
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("a statement on the client's own pooled connection is never ended", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url)
        // Long enough to be seen running on a loaded machine.
        const sleep = markedSleep(backend.node, 2)
        const own = yield* Effect.fork(client.connection.execute(sleep.sql, [], undefined))
        yield* sleep.running
        expect(client.reads.cut()).toBe(0)
        const rows = yield* Fiber.join(own)
        expect(rows).toHaveLength(1)
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("a statement under a caller's deadline (a session wait) on the read connection is ended too", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url)
        const sleep = markedSleep(backend.node, 10)
        const waiting = yield* Effect.fork(
          Effect.either(
            CompiledStatement.executeWithin(client.reads.connection, CompiledStatement.make(sleep.sql), [], 20_000)
          )
        )
        // On the client's own pooled connection the same wait is never ended.
        const own = yield* Effect.fork(
          CompiledStatement.executeWithin(client.connection, CompiledStatement.make(backend.sleep(10)), [], 500)
        )
        yield* sleep.running
        const started = performance.now()
        expect(client.reads.cut()).toBe(1)
        expectCut(yield* Fiber.join(waiting))
        expect(performance.now() - started).toBeLessThan(LOADED_MACHINE_SLACK_MS)
        // Its own deadline passed with no answer: `undefined`, not a cut.
        expect(yield* Fiber.join(own)).toBeUndefined()
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("an answered read is no longer tracked; an interrupted one is not either", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url)
        const reads = client.reads.connection
        yield* reads.execute("SELECT 1 AS one", [], undefined)
        const sleep = markedSleep(backend.node, 5)
        const interrupted = yield* Effect.fork(reads.execute(sleep.sql, [], undefined))
        yield* sleep.running
        yield* Fiber.interrupt(interrupted)
        expect(client.reads.cut()).toBe(0)
        const timed = yield* Effect.timed(reads.execute("SELECT 1 AS one", [], undefined))
        expect(Duration.toMillis(timed[0])).toBeLessThan(LOADED_MACHINE_SLACK_MS)
      }).pipe(Effect.provide(Reactivity.layer)))

    /** A stream whose first pull waits 10 s on the server, from `connection`: ended by a cut, and how long that took. */
    const cutStream = (client: { readonly reads: NodeReads }, connection: Effect.Effect<Connection, SqlError, Scope>) =>
      Effect.gen(function*() {
        const sleep = markedSleep(backend.node, 10)
        const waiting = yield* Effect.fork(Effect.either(Effect.scoped(Effect.flatMap(
          connection,
          (c) => Stream.runCollect(c.executeStream(sleep.sql, [], undefined))
        ))))
        yield* sleep.running
        const started = performance.now()
        const ended = client.reads.cut()
        const outcome = yield* Fiber.join(waiting)
        return { ended, outcome, ms: performance.now() - started }
      })

    it.scopedLive("a stream of reads on a reserved connection is ended at once too, and the pool serves on", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url)
        const { ended, ms, outcome } = yield* cutStream(client, client.reads.reserve)
        expect(ended).toBe(1)
        expectCut(outcome)
        expect(ms).toBeLessThan(LOADED_MACHINE_SLACK_MS)
        expect(client.reads.cut()).toBe(0)
        const rows = yield* client.reads.connection.execute("SELECT 1 AS one", [], undefined)
        expect(rows.map((row: any) => Number(row.one))).toEqual([1])
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("a pooled stream of reads is ended at once too", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url)
        const { ended, ms, outcome } = yield* cutStream(client, Effect.succeed(client.reads.connection))
        expect(ended).toBe(1)
        expectCut(outcome)
        expect(ms).toBeLessThan(LOADED_MACHINE_SLACK_MS)
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("a stream of reads that gave its last row is not ended, nor counted, while its scope stays open", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url)
        // Two streams held open by the test's scope: one on a reserved connection, one pooled.
        for (const connection of [client.reads.reserve, Effect.succeed(client.reads.connection)]) {
          const pull = yield* Stream.toPull(
            Stream.unwrap(Effect.map(connection, (c) => c.executeStream("SELECT 1 AS one", [], undefined)))
          )
          expect(Chunk.toReadonlyArray(yield* pull).map((row: any) => Number(row.one))).toEqual([1])
          // The end of the rows: the stream is over, its scope is not.
          expect((yield* Effect.either(pull))._tag).toBe("Left")
        }
        expect(client.reads.cut()).toBe(0)
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("a stream on the client's own reserved connection (a transaction's) is never ended", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.url)
        // Long enough to be seen running on a loaded machine.
        const sleep = markedSleep(backend.node, 2)
        const own = yield* Effect.fork(Effect.scoped(Effect.flatMap(
          client.reserve,
          (c) => Stream.runCollect(c.executeStream(sleep.sql, [], undefined))
        )))
        yield* sleep.running
        expect(client.reads.cut()).toBe(0)
        const rows = yield* Fiber.join(own)
        expect(Chunk.size(rows)).toBe(1)
      }).pipe(Effect.provide(Reactivity.layer)))
  })
}
