/**
 * A PostgreSQL node client behind PgBouncer 1.18 in transaction pooling (README, "Behind a connection pooler"): the
 * startup parameters PgBouncer refuses, where the session settings go instead, prepared statements under each
 * `preparedStatements` setting, and what PgBouncer's own refusals read like. The tests that look at a server
 * session's prepared statements start a PgBouncer of their own with one server connection, so every statement of
 * every client runs in that one session (the cluster's PgBouncers are shared with the other test files).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import type { PgBouncerSettings } from "@fastorm/test-support"
import { APP_PASSWORD, loadCluster, LOADED_MACHINE_SLACK_MS, scopedPgBouncer, waitUntil } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import { join } from "node:path"
import { inspect } from "node:util"
import type { AdapterError, OptimalConfig } from "../src/index.js"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster = loadCluster()
const pooled = cluster.pgbouncer.primary.url

const IGNORE_FASTORM = "extra_float_digits,statement_timeout,lock_timeout,idle_in_transaction_session_timeout,options"

let poolers = 0

/** A PgBouncer of this test's own in front of the primary, stopped with the scope. */
const ownPooler = (settings: PgBouncerSettings, verify = true) =>
  scopedPgBouncer(
    join(cluster.dir, "pgbouncer"),
    `pgb-adapters-${process.pid}-${++poolers}`,
    cluster.postgres.primary,
    settings,
    { verify }
  )

const clientOf = (
  url: string,
  config: OptimalConfig.ConfigOverrides<OptimalConfig.PostgresOptimalConfig> = {}
) =>
  Effect.flatMap(
    DatabaseAdapterFactory.create(url, { name: "primary", config }),
    (adapter) => adapter.makeClient({ verify: true })
  )

const show = (client: SqlClient.SqlClient, name: string) =>
  Effect.map(client.unsafe(`SHOW ${name}`), (rows) => String(Object.values(rows[0] as object)[0]))

/** The named prepared statements over `table` in the server session that runs this statement. */
const preparedOver = (client: SqlClient.SqlClient, table: string) =>
  Effect.map(
    client.unsafe<{ name: string }>("SELECT name FROM pg_prepared_statements WHERE statement LIKE $1 ORDER BY name", [
      `%${table}%`
    ]),
    (rows) => rows.map((r) => r.name)
  )

/** A table with one row, dropped with the scope. */
const withTable = (client: SqlClient.SqlClient) => {
  const table = `pgb_prep_${process.pid}_${Date.now()}`
  return Effect.acquireRelease(
    Effect.as(
      Effect.zipRight(
        client.unsafe(`CREATE TABLE ${table} (id int PRIMARY KEY, name text NOT NULL)`),
        client.unsafe(`INSERT INTO ${table} (id, name) VALUES (1, 'one')`)
      ),
      table
    ),
    (table) => Effect.orDie(client.unsafe(`DROP TABLE IF EXISTS ${table}`))
  )
}

/** `rounds` times, two compiled statements at once (two client connections, one server connection): the outcomes. */
const concurrentFinds = (client: SqlClient.SqlClient, table: string, rounds: number) => {
  const statement = CompiledStatement.make(`SELECT * FROM ${table} WHERE id = $1`)
  return Effect.map(
    Effect.forEach(
      Array.from({ length: rounds }),
      () =>
        Effect.forEach([1, 1], (id) => Effect.either(CompiledStatement.run(client, statement, [id])), {
          concurrency: 2
        })
    ),
    (pairs) =>
      pairs.flat().map((r) =>
        r._tag === "Right" ? "ok" : String((r.left.cause as { code?: unknown } | undefined)?.code ?? r.left.message)
      )
  )
}

const tally = (outcomes: ReadonlyArray<string>) => {
  const out: Record<string, number> = {}
  for (const o of outcomes) out[o] = (out[o] ?? 0) + 1
  return out
}

describe("PostgreSQL client behind PgBouncer (transaction pooling, stock ignore_startup_parameters)", () => {
  it.scopedLive("connects without the refused startup parameters; a transaction gets the timeouts, nothing leaks", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(pooled, { statementTimeout: "7 seconds", lockTimeout: "3 seconds" })
      expect(yield* show(client, "application_name")).toBe("fastorm")
      // Outside a transaction the server connection has the role's settings: nothing of another client's session.
      expect(yield* show(client, "statement_timeout")).toBe("0")
      const inside = yield* client.withTransaction(Effect.all([
        show(client, "statement_timeout"),
        show(client, "lock_timeout"),
        show(client, "idle_in_transaction_session_timeout")
      ]))
      expect(inside).toEqual(["7s", "3s", "1min"])
      // SET LOCAL ended with the transaction, on whichever server connection ran it.
      const after = yield* Effect.forEach(
        Array.from({ length: 8 }),
        () => show(client, "statement_timeout"),
        { concurrency: 8 }
      )
      expect(new Set(after)).toEqual(new Set(["0"]))
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a first statement with parameters carries BEGIN and the timeouts; a failure rolls all back", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(pooled, { statementTimeout: "7 seconds", lockTimeout: "3 seconds" })
      const setting = (name: string) =>
        Effect.map(client.unsafe<{ v: string }>("SELECT current_setting($1) AS v", [name]), (rows) => rows[0]!.v)
      // The first statement has parameters: BEGIN and the SET LOCALs go in front of it, in its round trip.
      const inside = yield* client.withTransaction(
        Effect.all([setting("statement_timeout"), setting("lock_timeout"), show(client, "transaction_isolation")])
      )
      expect(inside).toEqual(["7s", "3s", "read committed"])
      const table = yield* withTable(client)
      const failed = yield* Effect.flip(client.withTransaction(
        Effect.zipRight(
          client.unsafe(`INSERT INTO ${table} (id, name) VALUES ($1, $2)`, [2, "two"]),
          Effect.fail("stop" as const)
        )
      ))
      expect(failed).toBe("stop")
      expect(yield* client.unsafe(`SELECT id FROM ${table} ORDER BY id`)).toEqual([{ id: 1 }])
      expect(yield* setting("statement_timeout")).toBe("0")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a searchPath cannot travel through the pooler: the node refuses to connect, naming it", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(clientOf(pooled, { searchPath: "app, public" }))
      expect(failed._tag).toBe("ConnectionFailed")
      expect(failed.message).toContain(
        "Could not connect to database node \"primary\": the connection pooler refused the startup parameter " +
          "\"search_path\" (08P01)"
      )
      expect(failed.message).toContain("ALTER ROLE app SET search_path")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("serverSettings cannot travel through the pooler either: the node refuses to connect, naming one", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(clientOf(pooled, { serverSettings: { work_mem: "64MB" } }))
      expect(failed._tag).toBe("ConnectionFailed")
      expect(failed.message).toContain("the connection pooler refused the startup parameter \"work_mem\" (08P01)")
      expect(failed.message).toContain("ALTER ROLE app SET work_mem")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("the client-side deadline still bounds a statement the server no longer bounds", () =>
    Effect.gen(function*() {
      const client = yield* clientOf(pooled, { statementTimeout: "300 millis" })
      const started = Date.now()
      const failed = yield* Effect.flip(client.unsafe("SELECT pg_sleep(3)"))
      const ms = Date.now() - started
      // The client's bound (300 ms + 100 ms, then the connection is destroyed), not the server's (57014): behind the
      // pooler the session has no statement_timeout of its own.
      expect(failed.message).toBe("No answer from \"primary\" within 400 ms")
      expect(ms).toBeLessThan(400 + LOADED_MACHINE_SLACK_MS)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("preparedStatements \"auto\": nothing is prepared once the pooler refused the startup parameters", () =>
    Effect.gen(function*() {
      const pooler = yield* ownPooler({ defaultPoolSize: 1 })
      const client = yield* clientOf(pooler.url, { poolSize: 2, maxOverflow: 0 })
      const table = yield* withTable(client)
      const outcomes = yield* concurrentFinds(client, table, 20)
      expect(tally(outcomes)).toEqual({ ok: 40 })
      expect(yield* preparedOver(client, table)).toEqual([])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive(
    "behind a pooler that ignores the startup parameters, \"auto\" heals at the first collision and stops preparing",
    () =>
      Effect.gen(function*() {
        const pooler = yield* ownPooler({ defaultPoolSize: 1, ignoreStartupParameters: IGNORE_FASTORM })
        const client = yield* clientOf(pooler.url, { poolSize: 2, maxOverflow: 0 })
        const table = yield* withTable(client)
        const outcomes = yield* concurrentFinds(client, table, 20)
        expect(tally(outcomes)).toEqual({ ok: 40 })
        // The first client's Parse left its name in the one server session; nothing was prepared after the collision.
        expect((yield* preparedOver(client, table)).length).toBe(1)
      }).pipe(Effect.provide(Reactivity.layer))
  )

  it.scopedLive(
    "there, transactions whose first statement runs prepared heal too: a collision reopens the transaction, unseen",
    () =>
      Effect.gen(function*() {
        const pooler = yield* ownPooler({ defaultPoolSize: 1, ignoreStartupParameters: IGNORE_FASTORM })
        const client = yield* clientOf(pooler.url, { poolSize: 2, maxOverflow: 0 })
        const table = yield* withTable(client)
        const read = CompiledStatement.make(`SELECT * FROM ${table} WHERE id = $1`)
        const write = CompiledStatement.make(`UPDATE ${table} SET name = $1 WHERE id = $2`)
        // Two transactions at once (two client connections, one server connection), each opened by the prepared read,
        // which carries BEGIN: the first Parse on the shared server connection leaves a name the other then meets.
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 20 }),
          (_, round) =>
            Effect.forEach(
              [0, 1],
              (k) =>
                Effect.either(client.withTransaction(Effect.zipRight(
                  CompiledStatement.run(client, read, [1]),
                  CompiledStatement.runCounted(client, write, [`r${round}-${k}`, 1])
                ))),
              { concurrency: 2 }
            )
        )
        const codes = outcomes.flat().map((r) =>
          r._tag === "Right" ? "ok" : String((r.left.cause as { code?: unknown } | undefined)?.code ?? r.left.message)
        )
        expect(tally(codes)).toEqual({ ok: 40 })
        // Every transaction committed its write: the last one's name is there.
        const [row] = yield* CompiledStatement.run(client, read, [1])
        expect(String((row as { name: unknown }).name)).toMatch(/^r19-[01]$/)
        expect((yield* preparedOver(client, table)).length).toBeLessThanOrEqual(1)
      }).pipe(Effect.provide(Reactivity.layer))
  )

  it.scopedLive("an explicit preparedStatements: true is honoured: the collisions reach the caller (42P05)", () =>
    Effect.gen(function*() {
      const pooler = yield* ownPooler({ defaultPoolSize: 1 })
      const client = yield* clientOf(pooler.url, { poolSize: 2, maxOverflow: 0, preparedStatements: true })
      const table = yield* withTable(client)
      // No connection busy or still opening (the table's INSERT went in a batch, whose connection waits a turn before
      // it goes back, and a batch may have asked for a second one): each find of the first pair gets its own client
      // connection, both on the pooler's one server connection.
      yield* waitUntil(
        Effect.sync(() => client.poolStatus()),
        (status) => status.open === status.idle,
        { what: "every pooled connection idle", timeoutMs: 10_000 }
      )
      const counts = tally(yield* concurrentFinds(client, table, 5))
      expect(counts["42P05"] ?? 0).toBeGreaterThan(0)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("an explicit preparedStatements: false prepares nothing, even where nothing was refused", () =>
    Effect.gen(function*() {
      const pooler = yield* ownPooler({ defaultPoolSize: 1, ignoreStartupParameters: IGNORE_FASTORM })
      const client = yield* clientOf(pooler.url, { poolSize: 2, maxOverflow: 0, preparedStatements: false })
      const table = yield* withTable(client)
      expect(tally(yield* concurrentFinds(client, table, 10))).toEqual({ ok: 20 })
      expect(yield* preparedOver(client, table)).toEqual([])
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a pooler with no connection free says so, and it is not a dead node", () =>
    Effect.gen(function*() {
      // Not verified at start: the start's own test connection could still hold the slot when the test begins.
      const pooler = yield* ownPooler({ maxClientConn: 1 }, false)
      // The one client slot, held by an idle connection of another client. PgBouncer frees a slot a moment after its
      // client left (the start's own check, say): take it once it is free, bounded.
      yield* waitUntil(
        Effect.either(clientOf(pooler.url, { poolSize: 1, maxOverflow: 0 })),
        (held) => held._tag === "Right",
        { what: "the pooler's one client slot", timeoutMs: 10_000 }
      )
      const failed = yield* Effect.flip(clientOf(pooler.url))
      expect(failed._tag).toBe("ConnectionFailed")
      const refused = failed as AdapterError.ConnectionFailed
      expect(refused.problem).toBe("other")
      expect(refused.message).toBe(
        "Could not connect to database node \"primary\": the connection pooler has no connection free (08P01): " +
          "no more connections allowed (max_client_conn)"
      )
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a login PgBouncer refuses is an authentication failure, and the password shows nowhere", () =>
    Effect.gen(function*() {
      const canary = "S3cr3t-canary"
      const url = pooled.replace(`:${encodeURIComponent(APP_PASSWORD)}@`, `:${canary}@`)
      expect(url).not.toBe(pooled)
      const failed = yield* Effect.flip(clientOf(url))
      expect(failed._tag).toBe("ConnectionFailed")
      expect((failed as AdapterError.ConnectionFailed).problem).toBe("authentication")
      expect(failed.message).toBe(
        "Could not connect to database node \"primary\": the connection pooler refused the login (08P01): SASL " +
          "authentication failed"
      )
      for (const text of [String(failed), inspect(failed, { depth: 20, showHidden: true }), JSON.stringify(failed)]) {
        expect(text).not.toContain(canary)
      }
    }).pipe(Effect.provide(Reactivity.layer)))
})
