/**
 * A statement led by another on the live MariaDB servers (`NodeReads.leading`, a session read's replica wait): once
 * the statement is prepared on the connection, the lead's command and the statement's go in one write and come back
 * in one round trip (timed through a proxy that delays every chunk: one round trip is two delays), on one server
 * session, the lead's rows as text before the statement's result; a text query goes the same way; a statement not
 * prepared yet runs after the lead's answer; a failed statement hands over no lead rows, a failed lead no rows of its
 * own (the statement's outcome is its own); and the connection serves the statements after it with every packet in
 * order.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import { consoleErrors, DelayProxy, loadCluster, LOADED_MACHINE_SLACK_MS } from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { DatabaseAdapter } from "../src/index.js"
import { DatabaseAdapterFactory } from "../src/index.js"

// Throws when the cluster is not running: this file fails, it never skips.
const cluster = loadCluster()
const replica = cluster.mariadb.replicas[0]!

// Long enough that one round trip (two delays) plus a loaded machine's slack stays under two round trips (four).
const DELAY_MS = 600

const clientOf = (url: string) =>
  Effect.flatMap(DatabaseAdapterFactory.create(url), (adapter) => adapter.makeClient({ verify: true }))

/** A client of the replica through a proxy that delays every chunk by `DELAY_MS` each way, once it has connected. */
const slowClient = Effect.gen(function*() {
  const proxy = yield* Effect.acquireRelease(
    Effect.promise(() => DelayProxy.start({ host: replica.host, port: replica.port })),
    (p) => Effect.promise(() => p.close())
  )
  const url = replica.url.replace(`:${replica.port}/`, `:${proxy.port}/`)
  if (url === replica.url) throw new Error("could not point the replica URL at the proxy")
  const client = yield* clientOf(url)
  return { client, proxy }
})

const LEAD = "SELECT CONNECTION_ID(), @@gtid_slave_pos"

/** `client`'s read connection led by `LEAD`, and the lead's rows as they come. */
const led = (client: DatabaseAdapter.NodeClient, lead = LEAD) => {
  const seen: Array<ReadonlyArray<DatabaseAdapter.TextRow>> = []
  const leading = client.reads.leading
  if (leading === undefined) throw new Error("a MariaDB node offers a led connection")
  return { connection: leading(lead, (rows) => seen.push(rows)), seen }
}

/** How long `effect` took, in milliseconds. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, value]) => [Duration.toMillis(duration), value] as const)

// The same text in the prepared tests: prepared once per connection, then carried.
const withParameter = CompiledStatement.make("SELECT CONNECTION_ID() AS c, ? AS x")

// mysql2 reports a packet it did not expect at that point on the console ("got packets out of order").
const outOfOrder = consoleErrors("out of order")
beforeEach(outOfOrder.start)
afterEach(() => {
  expect(outOfOrder.stop()).toEqual([])
})

describe("a led statement on a MariaDB replica", () => {
  it.scopedLive("prepared, with parameters: the lead travels in its round trip, on its session", () =>
    Effect.gen(function*() {
      const { client, proxy } = yield* slowClient
      // The first run prepares the statement on the connection: it runs after the lead's answer.
      const first = led(client)
      const prepared = yield* CompiledStatement.executeOn(first.connection, withParameter, [0])
      expect(prepared[0]).toMatchObject({ x: 0 })
      expect(first.seen).toEqual([[[String(prepared[0].c), expect.any(String)]]])
      proxy.setDelay(DELAY_MS)
      for (let i = 1; i <= 3; i++) {
        const { connection, seen } = led(client)
        const [ms, rows] = yield* timed(CompiledStatement.executeOn(connection, withParameter, [i]))
        expect(rows).toHaveLength(1)
        expect(rows[0]).toMatchObject({ x: i })
        // One server session: the lead's connection id is the statement's.
        expect(seen).toEqual([[[String(rows[0].c), expect.any(String)]]])
        // One round trip is two delays; the lead, then the statement, would be four.
        expect(ms, `run ${i}`).toBeGreaterThanOrEqual(2 * DELAY_MS - 5)
        expect(ms, `run ${i}`).toBeLessThan(2 * DELAY_MS + LOADED_MACHINE_SLACK_MS)
      }
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("rows asked for as arrays (mysql2's rowsAsArray): arrays, the lead's rows as text", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(replica.url)
      const sql = "SELECT CONNECTION_ID() AS c, ? AS x"
      yield* led(client).connection.executeValues(sql, [4])
      const { connection, seen } = led(client)
      const rows = yield* connection.executeValues(sql, [5])
      expect(rows).toEqual([[expect.anything(), 5]])
      expect(seen).toEqual([[[String(rows[0]![0]), expect.any(String)]]])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a text query goes in the lead's round trip too", () =>
    Effect.gen(function*() {
      const { client, proxy } = yield* slowClient
      yield* CompiledStatement.executeOn(led(client).connection, withParameter, [0])
      proxy.setDelay(DELAY_MS)
      const { connection, seen } = led(client)
      const [ms, rows] = yield* timed(
        connection.executeUnprepared("SELECT CONNECTION_ID() AS c, 7 AS x", [], undefined)
      )
      expect(rows).toEqual([{ c: expect.anything(), x: 7 }])
      expect(seen).toEqual([[[String(rows[0]!.c), expect.any(String)]]])
      expect(ms).toBeLessThan(2 * DELAY_MS + LOADED_MACHINE_SLACK_MS)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("not prepared yet: it runs after the lead's answer, with its own rows", () =>
    Effect.gen(function*() {
      const { client, proxy } = yield* slowClient
      // Connected (and this text never prepared on it) before the delay starts.
      yield* CompiledStatement.executeOn(led(client).connection, withParameter, [0])
      proxy.setDelay(DELAY_MS)
      const { connection, seen } = led(client)
      const fresh = CompiledStatement.make(`SELECT ? AS x, ${process.pid} AS pid`)
      const [ms, rows] = yield* timed(CompiledStatement.executeOn(connection, fresh, [8]))
      expect(rows).toEqual([{ x: 8, pid: process.pid }])
      expect(seen).toHaveLength(1)
      // The lead, the prepare and the execute: one round trip each.
      expect(ms).toBeGreaterThanOrEqual(6 * DELAY_MS - 5)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a statement that fails: its own error, no lead rows, and the connection serves the next", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(replica.url)
      const missing = CompiledStatement.make(`SELECT * FROM fastorm_no_such_table_${process.pid} WHERE id = ?`)
      for (let i = 0; i < 3; i++) {
        const { connection, seen } = led(client)
        const error = yield* Effect.flip(CompiledStatement.executeOn(connection, missing, [1]))
        expect(error._tag).toBe("SqlError")
        expect((error.cause as { code?: string }).code).toBe("ER_NO_SUCH_TABLE")
        expect(seen).toEqual([])
        const again = led(client)
        expect(yield* CompiledStatement.executeOn(again.connection, withParameter, [9])).toHaveLength(1)
        expect(again.seen).toHaveLength(1)
      }
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a lead that fails: no lead rows, the statement's own rows, and the connection serves the next", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(replica.url)
      yield* CompiledStatement.executeOn(led(client).connection, withParameter, [0])
      for (let i = 1; i <= 3; i++) {
        const { connection, seen } = led(client, `SELECT fastorm_no_such_function_${process.pid}()`)
        // The server runs the statement whatever became of the lead: its outcome is its own.
        expect(yield* CompiledStatement.executeOn(connection, withParameter, [i])).toMatchObject([{ x: i }])
        expect(seen).toEqual([])
        const again = led(client)
        expect(yield* CompiledStatement.executeOn(again.connection, withParameter, [9])).toMatchObject([{ x: 9 }])
        expect(again.seen).toHaveLength(1)
      }
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("many led and plain statements at once: each gets its own rows", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(replica.url)
      const results = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) =>
          i % 3 === 0
            ? Effect.map(CompiledStatement.executeOn(client.reads.connection, withParameter, [i]), (rows) => ({
              x: rows[0].x,
              seen: 1
            }))
            : Effect.suspend(() => {
              const { connection, seen } = led(client)
              return Effect.map(CompiledStatement.executeOn(connection, withParameter, [i]), (rows) => {
                expect(seen).toEqual([[[String(rows[0].c), expect.any(String)]]])
                return { x: rows[0].x, seen: seen.length }
              })
            }),
        { concurrency: 16 }
      )
      expect(results.map((r) => r.x)).toEqual(Array.from({ length: 200 }, (_, i) => i))
      expect(results.every((r) => r.seen === 1)).toBe(true)
    }).pipe(Effect.provide(Reactivity.layer)))
})
