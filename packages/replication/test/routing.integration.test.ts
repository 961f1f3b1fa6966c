import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Database, ReadConnection, WriteConnection } from "@fastorm/core"
import type { ClusterNodes, NodeInfo } from "@fastorm/test-support"
import { loadCluster, pauseReplay, resumeReplay, waitReplicated } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ConnectionRouter, FastOrm } from "../src/index.js"
import type { ReadWriteConfig } from "../src/index.js"

const cluster = loadCluster()

interface Backend {
  readonly name: "postgres" | "mariadb"
  readonly nodes: ClusterNodes
  /** Which node answered, by the server's own word: its port, and whether it is a replica. */
  readonly whoSql: string
  readonly createTable: string
  readonly table: string
}

const backends: ReadonlyArray<Backend> = [
  {
    name: "postgres",
    nodes: cluster.postgres,
    whoSql: "SELECT inet_server_port() AS port, pg_is_in_recovery() AS replica",
    createTable:
      "CREATE TABLE IF NOT EXISTS repl_items (id SERIAL PRIMARY KEY, label TEXT NOT NULL, created_at TIMESTAMPTZ DEFAULT now())",
    table: "repl_items"
  },
  {
    name: "mariadb",
    nodes: cluster.mariadb,
    whoSql: "SELECT @@port AS port, @@read_only AS replica",
    createTable:
      "CREATE TABLE IF NOT EXISTS repl_items (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(100) NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
    table: "repl_items"
  }
]

const fastOrm = (b: Backend, readWrite: ReadWriteConfig.ReadWriteConfig = {}) =>
  FastOrm.layer({
    name: b.name,
    write: { url: b.nodes.primary.url, name: b.nodes.primary.name },
    read: b.nodes.replicas.map((r) => ({ url: r.url, name: r.name })),
    readWrite: { statementTimeout: "3 seconds", ...readWrite },
    health: { interval: "200 millis", timeout: "1 second", failureThreshold: 2 }
  })

const nodeByPort = (b: Backend, port: number): NodeInfo => {
  const all = [b.nodes.primary, ...b.nodes.replicas]
  const node = all.find((n) => n.port === Number(port))
  if (node === undefined) throw new Error(`no node on port ${port}`)
  return node
}

const who = (b: Backend, client: SqlClient.SqlClient) =>
  Effect.map(client.unsafe<{ port: number; replica: unknown }>(b.whoSql), (rows) => nodeByPort(b, rows[0]!.port))

const sync = (b: Backend) => Effect.promise(() => waitReplicated(b.nodes, { timeoutMs: 20_000 }))

for (const b of backends) {
  describe(`router on ${b.name}`, () => {
    it.scopedLive("ordinary reads spread over both replicas and none runs on the primary", () =>
      Effect.gen(function*() {
        const read = yield* ReadConnection
        const router = yield* ConnectionRouter.ConnectionRouter
        const seen = new Map<string, number>()
        for (let i = 0; i < 60; i++) {
          const node = yield* who(b, read)
          seen.set(node.name, (seen.get(node.name) ?? 0) + 1)
        }
        expect(seen.get(b.nodes.primary.name) ?? 0).toBe(0)
        for (const replica of b.nodes.replicas) {
          expect(seen.get(replica.name) ?? 0).toBe(30)
        }
        const stats = yield* router.stats
        expect(stats.byNode[b.nodes.primary.name] ?? 0).toBe(0)
      }).pipe(Effect.provide(fastOrm(b, { strategy: "roundRobin" }))))

    it.scopedLive("forceWrite reads and every statement of a transaction run on the primary, on one connection", () =>
      Effect.gen(function*() {
        const read = yield* ReadConnection
        const write = yield* WriteConnection
        yield* write.unsafe(b.createTable)
        const forced = yield* Database.forceWrite(who(b, read))
        expect(forced.name).toBe(b.nodes.primary.name)
        const pidSql = b.name === "postgres" ? "SELECT pg_backend_pid() AS pid" : "SELECT CONNECTION_ID() AS pid"
        const pids = yield* Database.transaction(Effect.gen(function*() {
          const out: Array<number> = []
          for (let i = 0; i < 5; i++) {
            const node = yield* who(b, read)
            expect(node.name).toBe(b.nodes.primary.name)
            out.push(Number((yield* read.unsafe<{ pid: number }>(pidSql))[0]!.pid))
            yield* read.unsafe(`INSERT INTO ${b.table} (label) VALUES ('tx-${i}')`)
            out.push(Number((yield* write.unsafe<{ pid: number }>(pidSql))[0]!.pid))
          }
          return out
        }))
        expect(new Set(pids).size).toBe(1)
      }).pipe(Effect.provide(fastOrm(b))))

    it.scopedLive(
      "session consistency with replay paused on both replicas: every read sees its own write",
      () =>
        Effect.gen(function*() {
          const read = yield* ReadConnection
          const write = yield* WriteConnection
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* write.unsafe(b.createTable)
          yield* sync(b)
          yield* Effect.acquireRelease(
            Effect.promise(() => Promise.all(b.nodes.replicas.map(pauseReplay))),
            () => Effect.promise(() => Promise.all(b.nodes.replicas.map(resumeReplay)))
          )
          yield* router.resetStats
          let misses = 0
          for (let i = 0; i < 1000; i++) {
            const label = `paused-${Date.now()}-${i}`
            yield* write.unsafe(
              `INSERT INTO ${b.table} (label) VALUES (?)`.replace("?", b.name === "postgres" ? "$1" : "?"),
              [label]
            )
            const rows = yield* read.unsafe<{ n: number }>(
              `SELECT count(*) AS n FROM ${b.table} WHERE label = ${b.name === "postgres" ? "$1" : "?"}`,
              [label]
            )
            if (Number(rows[0]!.n) !== 1) misses++
          }
          expect(misses).toBe(0)
          const stats = yield* router.stats
          // Replay is paused: no replica can have the rows, so the session's reads went to the primary.
          expect(stats.byNode[b.nodes.primary.name] ?? 0).toBeGreaterThanOrEqual(2000)
        }).pipe(Effect.provide(fastOrm(b, { sessionWaitTimeout: "10 millis" }))),
      120_000
    )

    it.scopedLive(
      "session consistency with replay running: at least 90% of the reads are served by replicas",
      () =>
        Effect.gen(function*() {
          const read = yield* ReadConnection
          const write = yield* WriteConnection
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* write.unsafe(b.createTable)
          yield* sync(b)
          yield* router.resetStats
          let misses = 0
          for (let i = 0; i < 1000; i++) {
            const label = `running-${Date.now()}-${i}`
            yield* write.unsafe(`INSERT INTO ${b.table} (label) VALUES (${b.name === "postgres" ? "$1" : "?"})`, [
              label
            ])
            const rows = yield* read.unsafe<{ n: number }>(
              `SELECT count(*) AS n FROM ${b.table} WHERE label = ${b.name === "postgres" ? "$1" : "?"}`,
              [label]
            )
            if (Number(rows[0]!.n) !== 1) misses++
          }
          expect(misses).toBe(0)
          const stats = yield* router.stats
          const onReplicas = b.nodes.replicas.reduce((sum, r) => sum + (stats.byNode[r.name] ?? 0), 0)
          expect(onReplicas).toBeGreaterThanOrEqual(900)
        }).pipe(Effect.provide(fastOrm(b))),
      120_000
    )

    it.scopedLive("writes through the read connection go to the primary and never reach a replica", () =>
      Effect.gen(function*() {
        const read = yield* ReadConnection
        const write = yield* WriteConnection
        yield* write.unsafe(b.createTable)
        const router = yield* ConnectionRouter.ConnectionRouter
        yield* router.resetStats
        yield* read.unsafe(`INSERT INTO ${b.table} (label) VALUES ('via-read')`)
        yield* read.unsafe(`UPDATE ${b.table} SET label = 'via-read-2' WHERE label = 'via-read'`)
        const stats = yield* router.stats
        expect(stats.byNodeAndReason[`${b.nodes.primary.name}|write`]).toBe(2)
        for (const r of b.nodes.replicas) expect(stats.byNode[r.name] ?? 0).toBe(0)
      }).pipe(Effect.provide(fastOrm(b))))

    it.scopedLive("the plain SqlClient is the primary", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const node = yield* who(b, sql)
        expect(node.name).toBe(b.nodes.primary.name)
      }).pipe(Effect.provide(Layer.fresh(fastOrm(b)))))
  })
}
