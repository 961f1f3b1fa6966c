import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import { Connections, Database, WriteConnection } from "@fastorm/core"
import type { ClusterInfo } from "@fastorm/test-support"
import { loadCluster, waitUntil } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster: ClusterInfo = loadCluster()
const table = "fastorm_hold_probe"

/** Each dialect's node client of its own (its own pool) on the primary, with the probe table, and its statements. */
const dialects = {
  postgres: {
    url: cluster.postgres.primary.url,
    upsert: `INSERT INTO ${table} (id, v) VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET v = 0`,
    update: `UPDATE ${table} SET v = $1 WHERE id = 1`
  },
  mariadb: {
    url: cluster.mariadb.primary.url,
    upsert: `INSERT INTO ${table} (id, v) VALUES (1, 0) ON DUPLICATE KEY UPDATE v = 0`,
    update: `UPDATE ${table} SET v = ? WHERE id = 1`
  }
} as const

const primaryOf = (dialect: keyof typeof dialects) =>
  Effect.gen(function*() {
    const adapter = yield* DatabaseAdapterFactory.create(dialects[dialect].url)
    const client = yield* adapter.makeClient()
    yield* client.unsafe(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, v int NOT NULL)`)
    yield* client.unsafe(dialects[dialect].upsert)
    return client
  })
const primary = primaryOf("postgres")

const valueOf = Effect.flatMap(
  WriteConnection,
  (sql) => Effect.map(sql.unsafe<{ v: number }>(`SELECT v FROM ${table} WHERE id = 1`), (rows) => rows[0]!.v)
)
const setOn = (dialect: keyof typeof dialects) => (v: number) =>
  Effect.flatMap(WriteConnection, (sql) => sql.unsafe(dialects[dialect].update, [v]))

// The adapters' node clients hold a transaction's connection with no scope (`Connections.Holds`): every way out of
// the transaction gives the client back to the pool, or drops it when it broke.
describe("Database.transaction on a node client that holds its connection", () => {
  it.scopedLive.each(["postgres", "mariadb"] as const)(
    "%s: commit, failure and interruption each give the client back to the pool",
    (dialect) =>
      Effect.gen(function*() {
        const client = yield* primaryOf(dialect)
        const set = setOn(dialect)
        expect(Connections.holdOf(client)).toBeDefined()
        const run = <A, E>(effect: Effect.Effect<A, E, WriteConnection>) =>
          Effect.provideService(effect, WriteConnection, client)
        const open = client.poolStatus().open

        yield* run(Database.transaction(Effect.zipRight(valueOf, set(1))))
        expect(yield* run(valueOf)).toBe(1)
        expect(client.poolStatus().idle).toBe(client.poolStatus().open)

        const failed = yield* Effect.exit(
          run(Database.transaction(Effect.zipRight(set(2), Effect.fail("boom" as const))))
        )
        expect(failed).toEqual(Exit.fail("boom"))
        expect(yield* run(valueOf)).toBe(1)
        expect(client.poolStatus().idle).toBe(client.poolStatus().open)

        const fiber = yield* Effect.fork(run(Database.transaction(Effect.zipRight(set(3), Effect.never))))
        yield* Effect.sleep("100 millis")
        yield* Fiber.interrupt(fiber)
        expect(yield* run(valueOf)).toBe(1)
        expect(client.poolStatus().idle).toBe(client.poolStatus().open)
        expect(client.poolStatus().open).toBeGreaterThanOrEqual(open)
      }).pipe(Effect.provide(Reactivity.layer))
  )

  it.scopedLive("a connection lost inside the transaction is dropped from the pool, not given back (PostgreSQL)", () =>
    Effect.gen(function*() {
      const client = yield* primary
      const set = setOn("postgres")
      const run = <A, E>(effect: Effect.Effect<A, E, WriteConnection>) =>
        Effect.provideService(effect, WriteConnection, client)
      const exit = yield* Effect.exit(run(Database.transaction(Effect.zipRight(
        set(4),
        Effect.flatMap(WriteConnection, (sql) => sql.unsafe("SELECT pg_terminate_backend(pg_backend_pid())"))
      ))))
      expect(Exit.isFailure(exit)).toBe(true)
      // The lost connection leaves the pool when its socket's end is heard.
      yield* waitUntil(Effect.sync(() => client.poolStatus()), (s) => s.idle === s.open, {
        what: "every connection still in the pool to be idle",
        timeoutMs: 10_000,
        intervalMs: 5
      })
      // The pool serves again on a fresh connection, and the transaction was not applied.
      expect(yield* run(valueOf)).toBe(0)
    }).pipe(Effect.provide(Reactivity.layer)))
})
