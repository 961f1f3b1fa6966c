/**
 * Read batches behind PgBouncer in transaction mode (`pgBatches.ts`): reads of many callers go out together under
 * one Sync, one implicit transaction that the pooler hands to one server connection, and each gets its own rows (reads
 * without parameters too, but for a text of several statements, which keeps its own simple query); a
 * read the server refuses, or whose value pg cannot send, fails alone; an interrupted read frees its caller; a batch
 * whose server stops answering is cut at the deadline and the next read is answered. On a direct connection reads are
 * never batched (lanes carry them, each with its own Sync).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { FaultProxy, loadCluster, LOADED_MACHINE_SLACK_MS } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type * as DatabaseAdapter from "../src/DatabaseAdapter.js"
import type { NodeClient } from "../src/DatabaseAdapter.js"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster = loadCluster()
const bouncer = cluster.pgbouncer.primary

/** A client of `url` (four pooled connections, two batches or lanes at once). */
const clientOf = (url: string, config: Record<string, unknown> = {}) =>
  Effect.flatMap(
    DatabaseAdapterFactory.create(url, { config: { poolSize: 4, maxOverflow: 0, pipelinedConnections: 2, ...config } }),
    (adapter) => adapter.makeClient({ verify: true })
  )

interface Answer {
  readonly n: number
  readonly pid: number
  /** The statement's transaction start: one for every read of one batch (one implicit transaction). */
  readonly tx: string
}

/** One read on the client's read path (where a router sends reads), numbered. */
const numbered = (client: NodeClient, i: number) =>
  Effect.map(
    client.reads.connection.execute(
      "SELECT $1::int AS n, pg_backend_pid() AS pid, transaction_timestamp()::text AS tx",
      [i],
      undefined
    ),
    (rows) => rows[0] as Answer
  )

const many = (client: NodeClient, count: number, concurrency: number) =>
  Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => numbered(client, i), { concurrency })

/** How many implicit transactions `answers` ran in. */
const transactions = (answers: ReadonlyArray<Answer>) => new Set(answers.map((a) => `${a.pid}/${a.tx}`)).size

const codeOf = (error: SqlError): unknown => (error.cause as { code?: unknown } | undefined)?.code

describe("read batches behind PgBouncer in transaction mode", () => {
  it.scopedLive("reads of many callers share batches, each answered with its own rows", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(bouncer.url)
      const answers = yield* many(client, 400, 32)
      expect(answers.map((a) => a.n)).toEqual(Array.from({ length: 400 }, (_, i) => i))
      // Batched: far fewer transactions than reads (each read alone is a transaction of its own).
      expect(transactions(answers)).toBeLessThan(300)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("led reads (a session read's poll in front) share batches, each poll in its own read's transaction", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(bouncer.url)
      const leading = client.reads.leading!
      const lead = "SELECT pg_backend_pid()::text, transaction_timestamp()::text"
      const answers = yield* Effect.forEach(
        Array.from({ length: 400 }, (_, i) => i),
        (i) => {
          const polls: Array<ReadonlyArray<DatabaseAdapter.TextRow>> = []
          return Effect.map(
            leading(lead, (rows) => polls.push(rows)).execute(
              "SELECT $1::int AS n, pg_backend_pid() AS pid, transaction_timestamp()::text AS tx",
              [i],
              undefined
            ),
            (rows) => ({ answer: rows[0] as Answer, polls })
          )
        },
        { concurrency: 32 }
      )
      expect(answers.map((a) => a.answer.n)).toEqual(Array.from({ length: 400 }, (_, i) => i))
      // Each poll ran once, just before its read, in the read's implicit transaction on the read's server connection.
      for (const { answer, polls } of answers) expect(polls).toEqual([[[String(answer.pid), answer.tx]]])
      // Batched: far fewer transactions than reads (a led read took a pooled connection and a round trip of its own).
      expect(transactions(answers.map((a) => a.answer))).toBeLessThan(300)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("reads without parameters share batches too; a text of several statements keeps its own query", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(bouncer.url)
      const plain = "SELECT pg_backend_pid() AS pid, transaction_timestamp()::text AS tx, 7 AS n"
      const answers = yield* Effect.forEach(
        Array.from({ length: 400 }),
        () => Effect.map(client.reads.connection.execute(plain, [], undefined), (rows) => rows[0] as Answer),
        { concurrency: 32 }
      )
      expect(answers.every((a) => a.n === 7)).toBe(true)
      expect(transactions(answers)).toBeLessThan(300)
      // Several statements in one text go as one simple query (the extended protocol takes one): both results.
      const both = yield* client.reads.connection.executeUnprepared("SELECT 1 AS a; SELECT 2 AS b", [], undefined)
      expect(both).toEqual([[{ a: 1 }], [{ b: 2 }]])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a read the server refuses fails alone; the reads beside it in its batch are answered", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(bouncer.url, { pipelinedConnections: 1 })
      yield* many(client, 20, 8)
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) =>
          Effect.either(
            i % 10 === 5
              ? Effect.map(
                client.reads.connection.execute("SELECT 1 / (0 * $1::int) AS n", [i], undefined),
                (rows) => rows[0] as Answer
              )
              : numbered(client, i)
          ),
        { concurrency: 30 }
      )
      const failed = outcomes.flatMap((o, i) => Either.isLeft(o) ? [[i, codeOf(o.left)]] : [])
      expect(failed).toEqual([[5, "22012"], [15, "22012"], [25, "22012"]])
      const answered = outcomes.flatMap((o) => Either.isRight(o) ? [o.right] : [])
      expect(answered.map((a) => a.n)).toEqual(
        Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 10 !== 5)
      )
      // They were batched: the reads after a refused one went out again in a later batch, and were answered.
      expect(transactions(answered)).toBeLessThan(answered.length)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a value pg cannot send fails its own read; the batch answers the others", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(bouncer.url, { pipelinedConnections: 1 })
      const circular: Record<string, unknown> = {}
      circular["self"] = circular
      const outcomes = yield* Effect.forEach(
        [0, 1, 2, 3, 4, 5],
        (i) =>
          Effect.either(
            i === 2
              ? client.reads.connection.execute("SELECT $1::jsonb AS n", [circular], undefined)
              : Effect.map(numbered(client, i), (a) => [a])
          ),
        { concurrency: 6 }
      )
      expect(outcomes.map((o) => Either.isRight(o) ? (o.right[0] as Answer).n : "failed")).toEqual([
        0,
        1,
        "failed",
        3,
        4,
        5
      ])
      expect((yield* numbered(client, 7)).n).toBe(7)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("an interrupted read frees its caller at once; the next reads are answered", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(bouncer.url, { pipelinedConnections: 1 })
      yield* many(client, 20, 8)
      const slow = yield* Effect.fork(
        client.reads.connection.execute("SELECT pg_sleep($1::float) AS n", [2], undefined)
      )
      yield* Effect.sleep("100 millis")
      const started = performance.now()
      yield* Fiber.interrupt(slow)
      expect(performance.now() - started).toBeLessThan(500)
      const answers = yield* many(client, 40, 16)
      expect(answers.map((a) => a.n)).toEqual(Array.from({ length: 40 }, (_, i) => i))
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive(
    "a batch whose server stops answering is cut at the statement deadline: its reads fail as on a lost " +
      "connection, and the next read is answered",
    () =>
      Effect.gen(function*() {
        const proxy = yield* FaultProxy.make({ target: { host: bouncer.host, port: bouncer.port } })
        const client = yield* clientOf(proxy.url(bouncer.url), { statementTimeout: "1 second" })
        yield* many(client, 40, 16)
        yield* proxy.setMode(FaultProxy.blackhole)
        const started = performance.now()
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i),
          (i) => Effect.either(numbered(client, i)),
          { concurrency: 12 }
        )
        const ms = performance.now() - started
        const causes = outcomes.map((o) => Either.isLeft(o) ? String(codeOf(o.left) ?? o.left.cause) : "ok")
        // The deadline's own error, or the lost connection of a batch it cut: connection-class either way.
        for (const cause of causes) expect(cause).toMatch(/ETIMEDOUT|Connection terminated/)
        expect(ms).toBeLessThan(1_100 + LOADED_MACHINE_SLACK_MS)
        yield* proxy.setMode(FaultProxy.pass)
        expect((yield* numbered(client, 13)).n).toBe(13)
      }).pipe(Effect.provide(Reactivity.layer))
  )
})

describe("no read batches on a direct connection", () => {
  it.scopedLive("each read of many callers is a transaction of its own (lanes, one Sync each)", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(cluster.postgres.primary.url)
      const answers = yield* many(client, 200, 32)
      expect(answers.map((a) => a.n)).toEqual(Array.from({ length: 200 }, (_, i) => i))
      expect(transactions(answers)).toBe(200)
    }).pipe(Effect.provide(Reactivity.layer)))
})
