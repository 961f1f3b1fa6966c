/**
 * Pipelined connections (`pipelinedConnections`) on a live MariaDB replica: reads of many callers share a lane, each
 * answered with its own row; through a proxy that delays every chunk, eight reads on one lane come back in one round
 * trip; a read the server refuses fails alone and the lane serves on, as does one whose value mysql2 refuses (on a
 * pooled connection too); a read held up on its lane takes no one behind it (the reads after it go elsewhere); an
 * interrupted read leaves its lane serving; a read past its deadline retires its lane and the read behind it fails at
 * once as on a lost connection; writes keep a connection each; and every packet comes in order (mysql2 reports one it
 * did not expect on the console).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type { SqlError } from "@effect/sql/SqlError"
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import { consoleErrors, DelayProxy, loadCluster, LOADED_MACHINE_SLACK_MS, waitUntil } from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type { NodeClient } from "../src/DatabaseAdapter.js"
import { DatabaseAdapterFactory } from "../src/index.js"

// Throws when the cluster is not running: this file fails, it never skips.
const cluster = loadCluster()
const replica = cluster.mariadb.replicas[0]!
const primary = cluster.mariadb.primary

const DELAY_MS = 400

/** A client of `url` with a pool of three connections, one of them held as a lane while reads ask for it. */
const clientOf = (url: string, config: Record<string, unknown> = {}) =>
  Effect.flatMap(
    DatabaseAdapterFactory.create(url, { config: { poolSize: 3, maxOverflow: 0, pipelinedConnections: 1, ...config } }),
    (adapter) => adapter.makeClient({ verify: true })
  )

/** A client of the replica through a proxy that delays every chunk by the delay set, each way. */
const slowClient = (config: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const proxy = yield* Effect.acquireRelease(
      Effect.promise(() => DelayProxy.start({ host: replica.host, port: replica.port })),
      (p) => Effect.promise(() => p.close())
    )
    const url = replica.url.replace(`:${replica.port}/`, `:${proxy.port}/`)
    if (url === replica.url) throw new Error("could not point the replica URL at the proxy")
    const client = yield* clientOf(url, config)
    return { client, proxy }
  })

interface Answer {
  readonly c: number
  readonly x: number
}

const numberedSql = CompiledStatement.make("SELECT CONNECTION_ID() AS c, ? AS x")

/** One read on the client's read path: the server session it ran on and its own number back. */
const numbered = (client: NodeClient, i: number) =>
  Effect.map(CompiledStatement.executeOn(client.reads.connection, numberedSql, [i]), (rows) => rows[0] as Answer)

/** Reads until a lane is open, and one on it, so that the statement is prepared on the lane's connection. */
const warm = (client: NodeClient) =>
  Effect.gen(function*() {
    yield* numbered(client, 0)
    yield* waitUntil(Effect.sync(() => client.poolStatus().pipelined), (n) => n === 1, {
      what: "a lane open",
      timeoutMs: 5_000
    })
    return yield* numbered(client, 0)
  })

/** How long `effect` took, in milliseconds. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, value]) => [Duration.toMillis(duration), value] as const)

const codeOf = (error: SqlError): unknown => (error.cause as { code?: unknown } | undefined)?.code

const outOfOrder = consoleErrors("out of order")
beforeEach(outOfOrder.start)
afterEach(() => {
  expect(outOfOrder.stop()).toEqual([])
})

describe("pipelined connections on a MariaDB replica", () => {
  it.scopedLive("reads of many callers share the lane, each answered with its own row", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(replica.url)
      const lane = yield* warm(client)
      const answers = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => numbered(client, i),
        { concurrency: 24 }
      )
      expect(answers.map((a) => a.x)).toEqual(Array.from({ length: 200 }, (_, i) => i))
      // A pooled connection takes one read at a time: the lane took many of the 200.
      const onLane = answers.filter((a) => a.c === lane.c).length
      expect(onLane).toBeGreaterThan(40)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("through a slow link, eight reads on one lane come back in one round trip", () =>
    Effect.gen(function*() {
      const { client, proxy } = yield* slowClient()
      const lane = yield* warm(client)
      proxy.setDelay(DELAY_MS)
      const [ms, answers] = yield* timed(
        Effect.forEach(Array.from({ length: 8 }, (_, i) => i + 1), (i) => numbered(client, i), { concurrency: 8 })
      )
      expect(answers.map((a) => a.x)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
      expect(answers.every((a) => a.c === lane.c)).toBe(true)
      // One round trip is two delays; one read after another on a connection would be sixteen.
      expect(ms).toBeGreaterThanOrEqual(2 * DELAY_MS - 5)
      expect(ms).toBeLessThan(4 * DELAY_MS + LOADED_MACHINE_SLACK_MS)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a read the server refuses fails alone: its neighbours on the lane are answered, the lane stays", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(replica.url)
      const lane = yield* warm(client)
      const missing = `SELECT * FROM fastorm_no_such_table_${process.pid}`
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, i) => i),
        (i) =>
          Effect.either(
            i === 4
              ? client.reads.connection.executeUnprepared(missing, [], undefined)
              : client.reads.connection.executeUnprepared("SELECT CONNECTION_ID() AS c, ? AS x", [i], undefined)
          ),
        { concurrency: 8 }
      )
      const failed = outcomes.flatMap((o, i) => Either.isLeft(o) ? [[i, codeOf(o.left)]] : [])
      expect(failed).toEqual([[4, "ER_NO_SUCH_TABLE"]])
      expect(outcomes.filter((o) => Either.isRight(o) && o.right[0]!.c === lane.c).length).toBeGreaterThan(1)
      expect(client.poolStatus().pipelined).toBe(1)
      expect((yield* numbered(client, 9)).c).toBe(lane.c)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a value mysql2 refuses fails its own read with a SqlError; the lane serves on", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(replica.url)
      const lane = yield* warm(client)
      // mysql2 throws for an undefined parameter before it queues the statement.
      const error = yield* Effect.flip(client.reads.connection.executeRaw("SELECT ? AS x", [undefined]))
      expect(error._tag).toBe("SqlError")
      expect(String((error.cause as Error).message)).toContain("undefined")
      expect(client.poolStatus().pipelined).toBe(1)
      expect((yield* numbered(client, 3)).c).toBe(lane.c)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("on a pooled connection too: the refused value fails its read, the connection goes back", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(replica.url, { pipelinedConnections: 0, poolSize: 1 })
      const first = yield* numbered(client, 1)
      const error = yield* Effect.flip(client.reads.connection.executeRaw("SELECT ? AS x", [undefined]))
      expect(error._tag).toBe("SqlError")
      expect((yield* numbered(client, 2)).c).toBe(first.c)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a read held up on its lane takes no one behind it: the reads after it go to the pool", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(replica.url)
      const lane = yield* warm(client)
      const slow = yield* Effect.fork(
        client.reads.connection.executeUnprepared("SELECT SLEEP(1.5) AS s, CONNECTION_ID() AS c", [], undefined)
      )
      yield* Effect.sleep("200 millis")
      const [ms, answers] = yield* timed(
        Effect.forEach([1, 2, 3], (i) => numbered(client, i), { concurrency: 3 })
      )
      expect(answers.map((a) => a.x)).toEqual([1, 2, 3])
      expect(answers.some((a) => a.c === lane.c)).toBe(false)
      expect(ms).toBeLessThan(1_000)
      const rows = yield* Fiber.join(slow)
      expect(rows[0]!.c).toBe(lane.c)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("an interrupted read leaves its lane serving: its answer is dropped, not its connection", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(replica.url)
      const lane = yield* warm(client)
      const slow = yield* Effect.fork(
        client.reads.connection.executeUnprepared("SELECT SLEEP(0.3) AS s", [], undefined)
      )
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(slow)
      // After the dropped answer, the lane's next reads run on the same server session.
      yield* Effect.sleep("400 millis")
      const answers = yield* Effect.forEach([1, 2], (i) => numbered(client, i))
      expect(answers.map((a) => a.c)).toEqual([lane.c, lane.c])
      expect(client.poolStatus().pipelined).toBe(1)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a read past its deadline retires its lane: the read behind it fails now, as on a lost connection", () =>
    Effect.gen(function*() {
      // The client's deadline is the statement bound plus 100 ms: 400 ms here.
      const { client, proxy } = yield* slowClient({ statementTimeout: "300 millis" })
      const lane = yield* warm(client)
      // No answer comes back any more within the test.
      proxy.setDelay(10_000)
      const first = yield* Effect.fork(Effect.flip(numbered(client, 1)))
      yield* Effect.sleep("20 millis")
      const second = yield* Effect.fork(Effect.flip(numbered(client, 2)))
      const firstError = yield* Fiber.join(first)
      const secondError = yield* Fiber.join(second)
      expect(firstError.message).toContain("No answer from")
      // Not its own deadline (20 ms later), which would say "No answer": the lane's socket, closed under it.
      expect(codeOf(secondError)).toBe("PROTOCOL_CONNECTION_LOST")
      expect(client.poolStatus().pipelined).toBe(0)
      proxy.setDelay(0)
      const next = yield* warm(client)
      expect(next.c).not.toBe(lane.c)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("writes keep a connection each: a lane opens for reads only", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(primary.url)
      const table = `fastorm_lanes_${process.pid}`
      yield* client.connection.executeRaw(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY)`, [])
      yield* Effect.addFinalizer(() => Effect.ignore(client.connection.executeRaw(`DROP TABLE ${table}`, [])))
      yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => client.connection.executeRaw(`INSERT INTO ${table} VALUES (?)`, [i]),
        { concurrency: 8 }
      )
      yield* Effect.sleep("100 millis")
      expect(client.poolStatus().pipelined).toBe(0)
    }).pipe(Effect.provide(Reactivity.layer)))
})
