/**
 * Pipelined connections (`pipelinedConnections`) on the live PostgreSQL primary: statements of many callers share
 * them and each gets its own answer; a failure fails only its own statement; the
 * statements of one name sent behind a failed Parse fail with its error, not as a pooler's sign; an interrupted
 * statement leaves its lane serving; a lane whose server stops answering is retired at the statement deadline and
 * the next statement is answered; lanes close with the client. Behind PgBouncer in transaction mode no lane serves,
 * whether it refuses FastORM's startup parameters or takes them.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import type { PgBouncerSettings } from "@fastorm/test-support"
import {
  admin,
  FaultProxy,
  loadCluster,
  LOADED_MACHINE_SLACK_MS,
  markedSleep,
  scopedPgBouncer,
  waitUntil
} from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { join } from "node:path"
import type { NodeClient } from "../src/DatabaseAdapter.js"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster = loadCluster()
const primary = cluster.postgres.primary

const IGNORE_FASTORM = "extra_float_digits,statement_timeout,lock_timeout,idle_in_transaction_session_timeout,options"

let poolers = 0

/** A PgBouncer of this test's own in front of the primary, stopped with the scope. */
const ownPooler = (settings: PgBouncerSettings) =>
  scopedPgBouncer(join(cluster.dir, "pgbouncer"), `pgb-lanes-${process.pid}-${++poolers}`, primary, settings, {
    verify: true
  })

let clients = 0

/** A client with one pooled connection and two lanes, its sessions named so the server can count them. */
const clientOf = (url: string, config: Record<string, unknown> = {}) => {
  const applicationName = `fastorm_lanes_${process.pid}_${++clients}`
  return Effect.map(
    Effect.flatMap(
      DatabaseAdapterFactory.create(url, {
        config: { poolSize: 1, maxOverflow: 0, pipelinedConnections: 2, applicationName, ...config }
      }),
      (adapter) => adapter.makeClient({ verify: true })
    ),
    (client) => ({ client, applicationName })
  )
}

/** The server process ids of `applicationName`'s sessions on the primary. */
const pidsOf = (applicationName: string) =>
  admin<{ pid: number }>(primary, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", [applicationName])
    .pipe(Effect.map((rows) => rows.map((r) => Number(r.pid))))

/** How many server sessions `applicationName` has on the primary. */
const sessionsOf = (applicationName: string) => Effect.map(pidsOf(applicationName), (pids) => pids.length)

interface Answer {
  readonly n: number
  readonly pid: number
}

/** The first row of one statement on the client's pooled connection. */
const first = (client: NodeClient, sql: string, params: ReadonlyArray<unknown>) =>
  Effect.map(client.connection.execute(sql, params, undefined), (rows) => rows[0] as Answer)

const numbered = (client: NodeClient, i: number) => first(client, "SELECT $1::int AS n, pg_backend_pid() AS pid", [i])

/** Statements enough to open `lanes` lanes, and the wait until they are open. */
const warm = (client: NodeClient, lanes = 2) =>
  Effect.zipRight(
    Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => numbered(client, i), { concurrency: 16 }),
    waitUntil(Effect.sync(() => client.poolStatus().pipelined), (n) => n === lanes, {
      what: `${lanes} lanes open`,
      timeoutMs: 5_000
    })
  )

const codeOf = (error: SqlError): unknown => (error.cause as { code?: unknown } | undefined)?.code

describe("pipelined connections on the PostgreSQL primary", () => {
  it.scopedLive("statements of many callers share the lanes, each answered with its own rows", () =>
    Effect.gen(function*() {
      const { client } = yield* clientOf(primary.url)
      const answers = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => numbered(client, i),
        { concurrency: 32 }
      )
      expect(answers.map((a) => a.n)).toEqual(Array.from({ length: 200 }, (_, i) => i))
      expect(client.poolStatus().pipelined).toBeGreaterThanOrEqual(1)
      // One pooled connection takes one statement at a time: the lanes took most of the 200.
      const byPid = new Map<number, number>()
      for (const a of answers) byPid.set(a.pid, (byPid.get(a.pid) ?? 0) + 1)
      const busiest = Math.max(...byPid.values())
      expect(busiest).toBeGreaterThan(40)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a statement that fails, fails alone: its neighbours on the lane are answered, the lane stays", () =>
    Effect.gen(function*() {
      const { client } = yield* clientOf(primary.url)
      yield* warm(client)
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) =>
          Effect.either(
            i === 15
              ? first(client, "SELECT 1 / (0 * $1::int) AS n", [i])
              : numbered(client, i)
          ),
        { concurrency: 30 }
      )
      const failed = outcomes.flatMap((o, i) => Either.isLeft(o) ? [[i, codeOf(o.left)]] : [])
      expect(failed).toEqual([[15, "22012"]])
      expect(client.poolStatus().pipelined).toBe(2)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a value pg cannot send fails its own statement; the lane serves on", () =>
    Effect.gen(function*() {
      const { client } = yield* clientOf(primary.url)
      yield* warm(client)
      const circular: Record<string, unknown> = {}
      circular.self = circular
      const outcomes = yield* Effect.forEach(
        [0, 1, 2, 3, 4, 5],
        (i) =>
          Effect.either(
            i === 2 ? first(client, "SELECT $1::jsonb AS n", [circular]) : numbered(client, i)
          ),
        { concurrency: 6 }
      )
      expect(outcomes.map((o) => Either.isRight(o) ? o.right.n : "failed")).toEqual([0, 1, "failed", 3, 4, 5])
      expect(client.poolStatus().pipelined).toBe(2)
      expect((yield* numbered(client, 7)).n).toBe(7)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("an interrupted statement frees its caller at once; its lane serves the next one", () =>
    Effect.gen(function*() {
      const { client } = yield* clientOf(primary.url)
      yield* warm(client)
      const sleep = markedSleep(primary, 3)
      const busy = yield* Effect.fork(client.connection.execute(sleep.sql, [], undefined))
      yield* sleep.running
      const started = performance.now()
      const exit = yield* Fiber.interrupt(busy)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(performance.now() - started).toBeLessThan(LOADED_MACHINE_SLACK_MS)
      const next = performance.now()
      expect((yield* numbered(client, 1)).n).toBe(1)
      // Not behind the sleep (3 s): another lane or the pool answered.
      expect(performance.now() - next).toBeLessThan(LOADED_MACHINE_SLACK_MS)
      // The interrupted statement's lane was not closed: it still runs there.
      expect(client.poolStatus().pipelined).toBe(2)
    }).pipe(Effect.provide(Reactivity.layer)))
})

describe("pipelined connections on the PostgreSQL primary, what the server sees", () => {
  it.scopedLive("closing the client ends its lanes: no session of it is left on the server", () =>
    Effect.gen(function*() {
      const applicationName = yield* Effect.scoped(Effect.gen(function*() {
        const { applicationName, client } = yield* clientOf(primary.url)
        yield* warm(client)
        return applicationName
      }))
      yield* waitUntil(sessionsOf(applicationName), (n) => n === 0, {
        what: "no session of the closed client",
        timeoutMs: 5_000
      })
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("the server sees the lanes beside the pool: three sessions for one pooled connection and two lanes", () =>
    Effect.gen(function*() {
      const { applicationName, client } = yield* clientOf(primary.url)
      yield* Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) => numbered(client, i), { concurrency: 16 })
      expect(yield* sessionsOf(applicationName)).toBe(3)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("an idle lane is closed after idleTimeout, its session ends; the next load opens new ones", () =>
    Effect.gen(function*() {
      const { applicationName, client } = yield* clientOf(primary.url, { idleTimeout: "1 second" })
      yield* warm(client)
      const before = yield* pidsOf(applicationName)
      expect(before).toHaveLength(3)
      yield* waitUntil(Effect.sync(() => client.poolStatus().pipelined), (n) => n === 0, {
        what: "the idle lanes closed",
        // The idle time, the sweep's period (1 s) and a loaded machine's slack.
        timeoutMs: 2_000 + LOADED_MACHINE_SLACK_MS
      })
      // The pool keeps its first `poolSize` connections; the lanes' two sessions end on the server.
      yield* waitUntil(pidsOf(applicationName), (pids) => pids.length === 1, {
        what: "the lanes' sessions ended",
        timeoutMs: LOADED_MACHINE_SLACK_MS
      })
      expect(before).toContain((yield* pidsOf(applicationName))[0])
      yield* warm(client)
      const reopened = yield* pidsOf(applicationName)
      expect(reopened.filter((pid) => !before.includes(pid))).toHaveLength(2)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a lane past maxLifetime is ended, its session too; the next load runs on new sessions", () =>
    Effect.gen(function*() {
      const { applicationName, client } = yield* clientOf(primary.url, { maxLifetime: "1 second" })
      yield* warm(client)
      const before = yield* pidsOf(applicationName)
      expect(before).toHaveLength(3)
      // Lanes and the pooled connection alike: no session of the first three is left on the server.
      yield* waitUntil(pidsOf(applicationName), (pids) => pids.every((pid) => !before.includes(pid)), {
        what: "the sessions past their lifetime ended",
        timeoutMs: 2_000 + LOADED_MACHINE_SLACK_MS
      })
      expect(client.poolStatus().pipelined).toBe(0)
      yield* warm(client)
      const answers = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) => numbered(client, i), {
        concurrency: 8
      })
      expect(answers.filter((a) => before.includes(a.pid))).toEqual([])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive(
    "statements of one name sent behind a failed Parse fail with the Parse's error, and the node keeps preparing",
    () =>
      Effect.gen(function*() {
        const { client } = yield* clientOf(primary.url, { pipelinedConnections: 1 })
        const table = `fastorm_lanes_${process.pid}_${Date.now()}`
        const statement = CompiledStatement.make(`SELECT id FROM ${table} WHERE id = $1`)
        yield* warm(client, 1)
        // All on the one lane (the pool's one connection takes one): the first Parse fails, the others were sent
        // behind it without Parse.
        const outcomes = yield* Effect.forEach(
          [1, 2, 3, 4, 5, 6],
          (i) => Effect.either(CompiledStatement.run(client, statement, [i])),
          { concurrency: 6 }
        )
        const codes = outcomes.map((o) => Either.isLeft(o) ? codeOf(o.left as SqlError) : "ok")
        expect(codes).toEqual(["42P01", "42P01", "42P01", "42P01", "42P01", "42P01"])
        yield* Effect.acquireRelease(
          client.connection.execute(`CREATE TABLE ${table} (id int PRIMARY KEY)`, [], undefined),
          () => Effect.orDie(client.connection.execute(`DROP TABLE IF EXISTS ${table}`, [], undefined))
        )
        expect(yield* CompiledStatement.run(client, statement, [1])).toEqual([])
        // Run one at a time, every statement takes the first idle lane: the one that prepared it.
        const prepared = yield* client.connection.execute(
          "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE $1",
          [`%${table}%`],
          undefined
        )
        expect(prepared).toEqual([{ n: 1 }])
      }).pipe(Effect.provide(Reactivity.layer))
  )

  it.scopedLive(
    "a lane whose server stops answering is retired at the statement deadline; its statements fail as on a lost " +
      "connection, and the next statement is answered",
    () =>
      Effect.gen(function*() {
        const proxy = yield* FaultProxy.forNode(primary)
        const { client } = yield* clientOf(proxy.url(primary), { statementTimeout: "1 second" })
        yield* warm(client)
        yield* proxy.setMode(FaultProxy.blackhole)
        const started = performance.now()
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 6 }, (_, i) => i),
          (i) => Effect.either(numbered(client, i)),
          { concurrency: 6 }
        )
        const ms = performance.now() - started
        const codes = outcomes.map((o) => Either.isLeft(o) ? codeOf(o.left) ?? o.left.cause : "ok")
        // The deadline's own error, or the lost connection of a lane it retired: connection-class either way.
        for (const code of codes) expect(String(code)).toMatch(/ETIMEDOUT|Connection terminated/)
        expect(ms).toBeLessThan(1_100 + LOADED_MACHINE_SLACK_MS)
        expect(client.poolStatus().pipelined).toBe(0)
        yield* proxy.setMode(FaultProxy.pass)
        expect((yield* numbered(client, 7)).n).toBe(7)
      }).pipe(Effect.provide(Reactivity.layer))
  )
})

describe("pipelined connections behind PgBouncer in transaction mode", () => {
  it.scopedLive("refusing FastORM's startup parameters: no lane opens, every statement runs on the pool", () =>
    Effect.gen(function*() {
      const { client } = yield* clientOf(cluster.pgbouncer.primary.url)
      const answers = yield* Effect.forEach(Array.from({ length: 60 }, (_, i) => i), (i) => numbered(client, i), {
        concurrency: 16
      })
      expect(answers.map((a) => a.n)).toEqual(Array.from({ length: 60 }, (_, i) => i))
      yield* Effect.sleep("500 millis")
      yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) => numbered(client, i), { concurrency: 16 })
      expect(client.poolStatus().pipelined).toBe(0)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive(
    "taking them: the lane's first statement finds a server process other than its startup's, and no lane serves",
    () =>
      Effect.gen(function*() {
        const pooler = yield* ownPooler({ defaultPoolSize: 2, ignoreStartupParameters: IGNORE_FASTORM })
        const { client } = yield* clientOf(pooler.url)
        for (let round = 0; round < 3; round++) {
          const answers = yield* Effect.forEach(
            Array.from({ length: 60 }, (_, i) => i),
            (i) => numbered(client, i),
            { concurrency: 16 }
          )
          expect(answers.map((a) => a.n)).toEqual(Array.from({ length: 60 }, (_, i) => i))
          yield* Effect.sleep("300 millis")
        }
        expect(client.poolStatus().pipelined).toBe(0)
      }).pipe(Effect.provide(Reactivity.layer))
  )
})
