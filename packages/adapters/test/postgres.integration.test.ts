import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import type { ClusterInfo } from "@fastorm/test-support"
import { loadCluster, LOADED_MACHINE_SLACK_MS, markedSleep, newKeepAliveTimers } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { readFileSync } from "node:fs"
import { DatabaseAdapterFactory, type PostgreSQLAdapter } from "../src/index.js"

const cluster: ClusterInfo = loadCluster()
const primaryUrl = cluster.postgres.primary.url
const replicaUrl = cluster.postgres.replicas[0]!.url

const pgAdapter = (url: string, options: Parameters<typeof DatabaseAdapterFactory.create>[1] = {}) =>
  Effect.map(DatabaseAdapterFactory.create(url, options), (adapter) => adapter as PostgreSQLAdapter.PostgreSQLAdapter)

const show = (client: { unsafe: (sql: string) => Effect.Effect<ReadonlyArray<any>, any> }, name: string) =>
  Effect.map(client.unsafe(`SHOW ${name}`), (rows) => String(Object.values(rows[0] as object)[0]))

describe("PostgreSQL adapter on the live cluster", () => {
  it.scopedLive("applies every optimal setting to the server session", () =>
    Effect.gen(function*() {
      const adapter = yield* pgAdapter(primaryUrl)
      const client = yield* adapter.makeClient({ verify: true })
      expect(yield* show(client, "jit")).toBe("off")
      expect(yield* show(client, "statement_timeout")).toBe("30s")
      expect(yield* show(client, "lock_timeout")).toBe("10s")
      expect(yield* show(client, "idle_in_transaction_session_timeout")).toBe("1min")
      expect(yield* show(client, "application_name")).toBe("fastorm")
      expect(yield* show(client, "default_transaction_read_only")).toBe("off")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("user overrides win over URL options, which win over the defaults", () =>
    Effect.gen(function*() {
      const adapter = yield* pgAdapter(`${primaryUrl}?application_name=from-url&statement_timeout=2500`, {
        config: { statementTimeout: "1500 millis", jit: true }
      })
      const client = yield* adapter.makeClient()
      expect(yield* show(client, "statement_timeout")).toBe("1500ms")
      expect(yield* show(client, "application_name")).toBe("from-url")
      expect(yield* show(client, "jit")).toBe("on")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("the URL's libpq session options reach the server session", () =>
    Effect.gen(function*() {
      const adapter = yield* pgAdapter(
        `${primaryUrl}?lock_timeout=1234&idle_in_transaction_session_timeout=4321&fallback_application_name=fb`
      )
      const client = yield* adapter.makeClient()
      expect(yield* show(client, "lock_timeout")).toBe("1234ms")
      expect(yield* show(client, "idle_in_transaction_session_timeout")).toBe("4321ms")
      expect(yield* show(client, "application_name")).toBe("fb")
      // libpq's options carry the same settings, each where FastORM puts it.
      const viaOptions = yield* Effect.flatMap(
        pgAdapter(
          `${primaryUrl}?options=-c%20lock_timeout%3D3s%20-c%20jit%3Don%20-c%20application_name%3Dvia%5C%20opts`
        ),
        (a) => a.makeClient()
      )
      expect(yield* show(viaOptions, "lock_timeout")).toBe("3s")
      expect(yield* show(viaOptions, "jit")).toBe("on")
      expect(yield* show(viaOptions, "application_name")).toBe("via opts")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("searchPath, from the config or the URL, is every session's search_path: unqualified names find its schema", () =>
    Effect.gen(function*() {
      const schema = `sp_${process.pid}_${Date.now()}`
      const admin = yield* Effect.flatMap(pgAdapter(cluster.postgres.primary.adminUrl), (a) => a.makeClient())
      yield* Effect.acquireRelease(
        admin.unsafe(
          `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.things (id int PRIMARY KEY, name text); ` +
            `INSERT INTO ${schema}.things VALUES (1, 'in ${schema}'); GRANT USAGE ON SCHEMA ${schema} TO app; ` +
            `GRANT SELECT ON ${schema}.things TO app`
        ),
        () => Effect.orDie(admin.unsafe(`DROP SCHEMA ${schema} CASCADE`))
      )
      const fromConfig = yield* Effect.flatMap(
        pgAdapter(primaryUrl, { config: { searchPath: `${schema}, public` } }),
        (a) => a.makeClient({ verify: true })
      )
      expect(yield* show(fromConfig, "search_path")).toBe(`${schema},public`)
      const fromUrl = yield* Effect.flatMap(pgAdapter(`${primaryUrl}?search_path=${schema}`), (a) => a.makeClient())
      for (const client of [fromConfig, fromUrl]) {
        // Both the simple protocol and a parameterised (extended protocol) statement resolve the name there.
        expect(yield* client.unsafe("SELECT name FROM things")).toEqual([{ name: `in ${schema}` }])
        expect(yield* client.unsafe("SELECT name FROM things WHERE id = $1", [1])).toEqual([{ name: `in ${schema}` }])
      }
      // Without one, the role's own search path: the table is not found.
      const plain = yield* Effect.flatMap(pgAdapter(primaryUrl), (a) => a.makeClient())
      const missing = yield* Effect.flip(plain.unsafe("SELECT name FROM things"))
      expect((missing.cause as { code?: string }).code).toBe("42P01")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("serverSettings, from the config and the URL's options, reach every session beside FastORM's own", () =>
    Effect.gen(function*() {
      const client = yield* Effect.flatMap(
        pgAdapter(`${replicaUrl}?options=-c%20work_mem%3D4MB%20-c%20geqo%3Doff`, {
          config: {
            serverSettings: {
              WORK_MEM: "64MB",
              default_transaction_isolation: "repeatable read",
              "app.tenant": "acme corp"
            }
          }
        }),
        (a) => a.makeClient({ readOnly: true, verify: true })
      )
      // The layer's value wins by name over the URL's; the URL's other setting stays.
      expect(yield* show(client, "work_mem")).toBe("64MB")
      expect(yield* show(client, "geqo")).toBe("off")
      expect(yield* show(client, "default_transaction_isolation")).toBe("repeatable read")
      expect(yield* client.unsafe("SELECT current_setting('app.tenant') AS t")).toEqual([{ t: "acme corp" }])
      // FastORM's own startup options are still there.
      expect(yield* show(client, "jit")).toBe("off")
      expect(yield* show(client, "default_transaction_read_only")).toBe("on")
      // Without them, the server's defaults.
      const plain = yield* Effect.flatMap(pgAdapter(replicaUrl), (a) => a.makeClient({ readOnly: true }))
      expect(yield* show(plain, "work_mem")).toBe("4MB")
      expect(yield* show(plain, "default_transaction_isolation")).toBe("read committed")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a server setting's value the server refuses fails the connection with the server's words", () =>
    Effect.gen(function*() {
      const failed = yield* Effect.flip(Effect.flatMap(
        pgAdapter(primaryUrl, { config: { serverSettings: { work_mem: "lots" } } }),
        (a) => a.makeClient({ verify: true })
      ))
      expect(failed._tag).toBe("ConnectionFailed")
      expect(failed.message).toContain("work_mem")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("keepAliveInitialDelay (or the URL's keepalives_idle, in seconds) reaches the sockets' keep-alive timer", () =>
    Effect.gen(function*() {
      const node = cluster.postgres.replicas[1]!
      for (
        const [url, config, low, high] of [
          [node.url, { keepAliveInitialDelay: "45 seconds" }, 30, 45],
          [`${node.url}?keepalives_idle=40`, {}, 25, 40]
        ] as const
      ) {
        const seconds = yield* Effect.scoped(newKeepAliveTimers(
          node.port,
          Effect.flatMap(
            pgAdapter(url, { config: { ...config, poolSize: 1, maxOverflow: 0 } }),
            (a) => Effect.zipRight(a.makeClient({ readOnly: true, verify: true }), Effect.void)
          )
        ))
        expect(seconds.length).toBeGreaterThan(0)
        for (const s of seconds) expect(s).toBeGreaterThan(low)
        for (const s of seconds) expect(s).toBeLessThanOrEqual(high)
      }
      // Without it, the system's idle time (tcp_keepalive_time, 2 hours by default).
      const system = Number(readFileSync("/proc/sys/net/ipv4/tcp_keepalive_time", "utf8"))
      const seconds = yield* Effect.scoped(newKeepAliveTimers(
        node.port,
        Effect.flatMap(
          pgAdapter(node.url, { config: { poolSize: 1, maxOverflow: 0 } }),
          (a) => Effect.zipRight(a.makeClient({ readOnly: true, verify: true }), Effect.void)
        )
      ))
      expect(seconds.length).toBeGreaterThan(0)
      for (const s of seconds) expect(s).toBeGreaterThan(system - 15)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a read-only client on a replica runs read-only sessions and the replica refuses writes", () =>
    Effect.gen(function*() {
      const adapter = yield* pgAdapter(replicaUrl)
      const client = yield* adapter.makeClient({ readOnly: true, verify: true })
      expect(yield* show(client, "default_transaction_read_only")).toBe("on")
      const [row] = yield* client<{ r: boolean }>`SELECT pg_is_in_recovery() AS r`
      expect(row!.r).toBe(true)
      const error = yield* Effect.flip(client`CREATE TABLE should_not_exist (id int)`)
      expect((error.cause as { code?: string }).code).toBe("25006")
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("the pool opens at most poolSize + maxOverflow connections", () =>
    Effect.gen(function*() {
      const name = `fastorm-pool-${process.pid}`
      const adapter = yield* pgAdapter(primaryUrl, { config: { poolSize: 2, maxOverflow: 1, applicationName: name } })
      const client = yield* adapter.makeClient()
      const pids = yield* Effect.forEach(
        Array.from({ length: 9 }),
        () =>
          Effect.map(client<{ pid: number }>`SELECT pg_backend_pid() AS pid, pg_sleep(0.1)`, (rows) => rows[0]!.pid),
        { concurrency: 9 }
      )
      expect(new Set(pids).size).toBe(3)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("waiting for a pooled connection is bounded by connectTimeout", () =>
    Effect.gen(function*() {
      const adapter = yield* pgAdapter(primaryUrl, {
        config: { poolSize: 1, maxOverflow: 0, connectTimeout: "300 millis", pipelinedConnections: 0 }
      })
      const client = yield* adapter.makeClient({ verify: true })
      // Busy far longer than connectTimeout + slack: a wait not bounded by connectTimeout would outlast the bound.
      const sleep = markedSleep(cluster.postgres.primary, 3)
      const busy = yield* Effect.fork(client.unsafe(sleep.sql))
      yield* sleep.running
      const started = Date.now()
      const error = yield* Effect.flip(client`SELECT 1 AS one`)
      const waited = Date.now() - started
      expect(error._tag).toBe("SqlError")
      expect(String((error.cause as Error).message)).toContain("timeout")
      expect(waited).toBeGreaterThanOrEqual(250)
      // connectTimeout (300 ms) plus a loaded machine's slack; an unbounded wait would last until the 3 s sleep ends.
      expect(waited).toBeLessThan(300 + LOADED_MACHINE_SLACK_MS)
      yield* busy.await
      const [row] = yield* client<{ one: number }>`SELECT 1 AS one`
      expect(row!.one).toBe(1)
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("detects PostgreSQL 15 and the features of the static table", () =>
    Effect.gen(function*() {
      const adapter = yield* pgAdapter(primaryUrl)
      const client = yield* adapter.makeClient()
      const detected = yield* adapter.detectFeatures(client)
      expect(detected.version.product).toBe("postgresql")
      expect(detected.version.major).toBe(15)
      expect(detected.features).toEqual({
        supportsJsonFields: true,
        supportsArrayFields: true,
        supportsFullTextSearch: true,
        supportsWindowFunctions: true,
        supportsCte: true,
        supportsUpsert: true,
        supportsReturning: true,
        supportsPartialIndexes: true,
        supportsConcurrentIndexes: true,
        supportsSchemas: true
      })
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive("a node that does not answer fails verification with a typed error, no password in it", () =>
    Effect.gen(function*() {
      // Port 9 (discard) has no listener on these machines: the connection is refused at once.
      const url = `postgres://app:S3cr3t-canary@127.0.0.1:9/fastorm`
      const adapter = yield* pgAdapter(url, { config: { connectTimeout: "2 seconds" } })
      const started = Date.now()
      const error = yield* Effect.flip(adapter.makeClient({ verify: true }))
      expect(error._tag).toBe("ConnectionFailed")
      // Refused at once; at worst connectTimeout (2 s) plus a loaded machine's slack, never a driver's unbounded wait.
      expect(Date.now() - started).toBeLessThan(2_000 + LOADED_MACHINE_SLACK_MS)
      expect(JSON.stringify(error) + String(error) + error.message).not.toContain("S3cr3t-canary")
      expect(Redacted.value(adapter.buildConnectionUrl())).toContain("S3cr3t-canary")
    }).pipe(Effect.provide(Reactivity.layer)))
})
