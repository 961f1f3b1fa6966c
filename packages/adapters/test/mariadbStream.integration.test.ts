/**
 * Streams on a MariaDB node's client (`mysqlStream.ts`): rows in order, in chunks bounded by rows and by bytes read
 * ahead, pulled from mysql2's row stream; the connection goes back to the pool after a complete stream and is closed
 * after one stopped early.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { loadCluster } from "@fastorm/test-support"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { DatabaseAdapterFactory } from "../src/index.js"

const replicaUrl = loadCluster().mariadb.replicas[0]!.url

// One connection: the statement after a stream shows whether the stream's connection was given back or closed.
const oneConnection = Effect.flatMap(
  DatabaseAdapterFactory.create(replicaUrl, { config: { poolSize: 1, maxOverflow: 0 } }),
  (adapter) => adapter.makeClient({ readOnly: true })
)

interface Row {
  readonly seq: number
  readonly conn: number
}

const connectionId = (client: Effect.Effect.Success<typeof oneConnection>) =>
  Effect.map(client.unsafe<{ id: number }>("SELECT CONNECTION_ID() AS id"), (rows) => Number(rows[0]!.id))

describe("MariaDB streams", () => {
  it.scopedLive("every row in order, in chunks of at most 1 024, then the connection serves the next statement", () =>
    Effect.gen(function*() {
      const client = yield* oneConnection
      const chunks = yield* Stream.runCollect(
        Stream.chunks(client.unsafe<Row>("SELECT seq, CONNECTION_ID() AS conn FROM seq_1_to_5000").stream)
      )
      const sizes = Chunk.toReadonlyArray(chunks).map(Chunk.size)
      const rows = Chunk.toReadonlyArray(chunks).flatMap((chunk) => Chunk.toReadonlyArray(chunk))
      expect(rows.map((row) => Number(row.seq))).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1))
      expect(Math.max(...sizes)).toBeLessThanOrEqual(1024)
      expect(new Set(rows.map((row) => Number(row.conn))).size).toBe(1)
      // Given back, not closed: the pool's one connection runs the next statement.
      expect(yield* connectionId(client)).toBe(Number(rows[0]!.conn))
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a stream stopped early closes its connection (the server still sends); the next statement gets another", () =>
    Effect.gen(function*() {
      const client = yield* oneConnection
      const first = yield* Stream.runCollect(
        Stream.take(client.unsafe<Row>("SELECT seq, CONNECTION_ID() AS conn FROM seq_1_to_200000").stream, 10)
      )
      const rows = Chunk.toReadonlyArray(first)
      expect(rows.map((row) => Number(row.seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      const next = yield* connectionId(client)
      expect(next).not.toBe(Number(rows[0]!.conn))
      // And that connection streams a whole result again.
      expect(yield* Stream.runCount(client.unsafe("SELECT seq FROM seq_1_to_1000").stream)).toBe(1000)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a statement the server refuses fails the stream with a SqlError; the connection serves again", () =>
    Effect.gen(function*() {
      const client = yield* oneConnection
      const before = yield* connectionId(client)
      const error = yield* Effect.flip(Stream.runCollect(client.unsafe("SELECT * FROM no_such_table_here").stream))
      expect(error).toBeInstanceOf(SqlError)
      expect((error.cause as { errno?: number }).errno).toBe(1146)
      expect(yield* connectionId(client)).toBe(before)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a slow consumer gets every row: the pull waits for rows the server has not sent yet", () =>
    Effect.gen(function*() {
      const client = yield* oneConnection
      let seen = 0
      let chunks = 0
      let ordered = true
      yield* Stream.runForEachChunk(
        client.unsafe<Row>("SELECT seq, CONNECTION_ID() AS conn FROM seq_1_to_20000").stream,
        (chunk) =>
          Effect.zipRight(
            Effect.sync(() => {
              chunks++
              for (const row of chunk) if (Number(row.seq) !== ++seen) ordered = false
            }),
            // Every 10th chunk waits for the timers: mysql2 fills its buffer and stops reading meanwhile.
            Effect.suspend(() => chunks % 10 === 0 ? Effect.sleep("5 millis") : Effect.void)
          )
      )
      expect([seen, ordered]).toEqual([20000, true])
      expect(chunks).toBeGreaterThanOrEqual(20000 / 1024)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("wide rows stop mysql2 by bytes: a slow consumer's chunks hold about a megabyte, not 1 024 rows", () =>
    Effect.gen(function*() {
      const client = yield* oneConnection
      const sizes: Array<number> = []
      let seen = 0
      yield* Stream.runForEachChunk(
        client.unsafe<{ seq: number; wide: string }>("SELECT seq, REPEAT('x', 65536) AS wide FROM seq_1_to_400").stream,
        (chunk) =>
          Effect.zipRight(
            Effect.sync(() => {
              sizes.push(Chunk.size(chunk))
              for (const row of chunk) if (Number(row.seq) === seen + 1 && row.wide.length === 65536) seen++
            }),
            // Long enough for the server to send every row: without the byte bound they would all wait in memory.
            Effect.suspend(() => Effect.sleep(sizes.length <= 3 ? "300 millis" : "1 millis"))
          )
      )
      expect(seen).toBe(400)
      // 1 MiB of 64 KiB rows is 16; a socket read or two more may land before the pause takes hold.
      expect(Math.max(...sizes)).toBeLessThanOrEqual(48)
      expect(sizes.length).toBeGreaterThanOrEqual(400 / 48)
    }).pipe(Effect.provide(Reactivity.layer)))
})
