/**
 * Writes batched behind PgBouncer in transaction mode (`pgBatchedWrite.ts`): the writes of many callers go out
 * together under one Sync, each in a transaction of its own, and each caller gets its own result; a write the server
 * refuses is rolled back alone (the writes beside it commit) and its connection serves on; the server ends a slow
 * write at the statement timeout that travels with it; a write does not wait behind a batch held up by a slow one. On
 * a direct connection writes are never batched (lanes carry them).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import { loadCluster, LOADED_MACHINE_SLACK_MS } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type { NodeClient } from "../src/DatabaseAdapter.js"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster = loadCluster()
const bouncer = cluster.pgbouncer.primary

/** A client of `url` (four pooled connections, one batch or lane at once unless told). */
const clientOf = (url: string, config: Record<string, unknown> = {}) =>
  Effect.flatMap(
    DatabaseAdapterFactory.create(url, { config: { poolSize: 4, maxOverflow: 0, pipelinedConnections: 1, ...config } }),
    (adapter) => adapter.makeClient({ verify: true })
  )

/** A table of its own for one test, dropped with the scope. */
const withTable = (client: NodeClient) => {
  const table = `batched_writes_${process.pid}_${Math.floor(Math.random() * 1e9)}`
  return Effect.acquireRelease(
    Effect.as(
      client.connection.execute(`CREATE TABLE ${table} (n int PRIMARY KEY, v int NOT NULL)`, [], undefined),
      table
    ),
    () => Effect.orDie(client.connection.execute(`DROP TABLE IF EXISTS ${table}`, [], undefined))
  )
}

interface Written {
  readonly n: number
  readonly pid: number
  readonly tx: string
}

/** Inserts row `n`, after `sleep` seconds on the server: its number, server process and transaction. */
const insert = (client: NodeClient, table: string, n: number, sleep = 0) =>
  Effect.map(
    client.connection.execute(
      `INSERT INTO ${table} (n, v) SELECT $1::int, $2::int FROM pg_sleep($3::float) ` +
        "RETURNING n, pg_backend_pid() AS pid, txid_current()::text AS tx",
      [n, n * 10, sleep],
      undefined
    ),
    (rows) => rows[0] as Written
  )

const numbers = (client: NodeClient, table: string) =>
  Effect.map(
    client.connection.execute(`SELECT n FROM ${table} ORDER BY n`, [], undefined),
    (rows) => rows.map((r) => (r as { n: number }).n)
  )

const codeOf = (error: SqlError): unknown => (error.cause as { code?: unknown } | undefined)?.code

const range = (count: number) => Array.from({ length: count }, (_, i) => i)

describe("write batches behind PgBouncer in transaction mode", () => {
  it.scopedLive("writes of many callers share a batch, each a transaction of its own with its own result", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(bouncer.url)
      const table = yield* withTable(client)
      // Each write takes 20 ms on the server: one at a time on each of four pooled connections, they would need four
      // server connections at once; in one batch they run one after the other on one.
      const written = yield* Effect.forEach(range(8), (n) => insert(client, table, n, 0.02), { concurrency: 8 })
      expect(written.map((w) => w.n)).toEqual(range(8))
      expect(new Set(written.map((w) => w.tx)).size).toBe(8)
      expect(new Set(written.map((w) => w.pid)).size).toBeLessThanOrEqual(2)
      expect(yield* numbers(client, table)).toEqual(range(8))
      // A count comes with the write's own CommandComplete, not its COMMIT's.
      const update = CompiledStatement.make(`UPDATE ${table} SET v = $1 WHERE n >= $2`)
      const counts = yield* Effect.forEach(
        range(8),
        (n) => CompiledStatement.countOn(client.connection, update, [n, n]),
        { concurrency: 8 }
      )
      expect(counts).toEqual(range(8).map((n) => 8 - n))
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a write the server refuses fails alone and is rolled back; the writes beside it commit", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(bouncer.url)
      const table = yield* withTable(client)
      yield* insert(client, table, 100)
      // Row 100 exists: the write of 100 (at place 5) breaks the primary key; those before and after it are its
      // batch-mates, before it committed, after it skipped by the server and sent again.
      const outcomes = yield* Effect.forEach(
        range(10),
        (i) => Effect.either(insert(client, table, i === 5 ? 100 : i)),
        { concurrency: 10 }
      )
      const failed = outcomes.flatMap((o, i) => Either.isLeft(o) ? [[i, codeOf(o.left)]] : [])
      expect(failed).toEqual([[5, "23505"]])
      expect(yield* numbers(client, table)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9, 100])
      // Its transaction was rolled back before the connection served again: a connection left in an aborted
      // transaction would refuse every statement after it (25P02).
      const more = yield* Effect.forEach(range(10), (i) => insert(client, table, 200 + i), { concurrency: 10 })
      expect(more.map((w) => w.n)).toEqual(range(10).map((i) => 200 + i))
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a value pg cannot send fails its own write; the batch commits the others", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(bouncer.url)
      const table = yield* withTable(client)
      const circular: Record<string, unknown> = {}
      circular["self"] = circular
      const outcomes = yield* Effect.forEach(
        range(6),
        (i) =>
          Effect.either(
            i === 2
              ? Effect.asVoid(client.connection.execute(
                `INSERT INTO ${table} (n, v) VALUES ($1, ($2::jsonb)::int)`,
                [i, circular],
                undefined
              ))
              : Effect.asVoid(insert(client, table, i))
          ),
        { concurrency: 6 }
      )
      expect(outcomes.map(Either.isRight)).toEqual([true, true, false, true, true, true])
      expect(yield* numbers(client, table)).toEqual([0, 1, 3, 4, 5])
      expect((yield* insert(client, table, 7)).n).toBe(7)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive(
    "the server ends a write at the statement timeout that travels with it, and the connection serves on",
    () =>
      Effect.gen(function*() {
        const client = yield* clientOf(bouncer.url, { statementTimeout: "1 second" })
        const table = yield* withTable(client)
        const started = performance.now()
        const slow = yield* Effect.either(insert(client, table, 1, 3))
        const ms = performance.now() - started
        // The server's own timeout (57014), not the client's deadline 100 ms later (which would cut the connection).
        expect(Either.isLeft(slow) && codeOf(slow.left)).toBe("57014")
        expect(ms).toBeLessThan(1_000 + LOADED_MACHINE_SLACK_MS)
        const after = yield* Effect.forEach(range(4), (i) => insert(client, table, 10 + i), { concurrency: 4 })
        expect(after.map((w) => w.n)).toEqual([10, 11, 12, 13])
        expect(yield* numbers(client, table)).toEqual([10, 11, 12, 13])
      }).pipe(Effect.provide(Reactivity.layer))
  )

  it.scopedLive("a write does not wait behind a batch held up by a slow statement: it takes the pool", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(bouncer.url)
      const table = yield* withTable(client)
      const slow = yield* Effect.fork(insert(client, table, 1, 2))
      yield* Effect.sleep("200 millis")
      const started = performance.now()
      const quick = yield* Effect.forEach(range(4), (i) => insert(client, table, 10 + i), { concurrency: 4 })
      const ms = performance.now() - started
      expect(quick.map((w) => w.n)).toEqual([10, 11, 12, 13])
      expect(ms).toBeLessThan(1_000)
      expect((yield* Fiber.join(slow)).n).toBe(1)
    }).pipe(Effect.provide(Reactivity.layer)))
})

describe("no write batches on a direct connection", () => {
  it.scopedLive("writes of many callers each run on their own (lanes, one Sync each)", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(cluster.postgres.primary.url, { pipelinedConnections: 2 })
      const table = yield* withTable(client)
      const written = yield* Effect.forEach(range(8), (n) => insert(client, table, n, 0.05), { concurrency: 8 })
      expect(written.map((w) => w.n)).toEqual(range(8))
      // Not one after the other in a batch: eight 50 ms writes on lanes and the pool overlap.
      expect(new Set(written.map((w) => w.pid)).size).toBeGreaterThan(1)
    }).pipe(Effect.provide(Reactivity.layer)))
})
