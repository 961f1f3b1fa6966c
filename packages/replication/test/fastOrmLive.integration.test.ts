/**
 * `FastOrmLive` from a real environment: the variables set in this worker's `process.env`, read by
 * `ConfigProvider.fromEnv`, start the layer on the test clusters with every section applied.
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import type { ClusterNodes } from "@fastorm/test-support"
import { admin, loadCluster } from "@fastorm/test-support"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { ConnectionRouter, FastOrmLive } from "../src/index.js"

const cluster = loadCluster()

interface Backend {
  readonly label: string
  readonly nodes: ClusterNodes
  /** The session's statement bound as the server reports it, for FASTORM_READ_WRITE_STATEMENT_TIMEOUT = 7 s. */
  readonly statementTimeoutSql: string
  readonly statementTimeout: unknown
  readonly createTable: string
}

const table = `live_env_${process.pid}`
const backends: ReadonlyArray<Backend> = [
  {
    label: "PostgreSQL",
    nodes: cluster.postgres,
    statementTimeoutSql: "SHOW statement_timeout",
    statementTimeout: "7s",
    createTable: `CREATE TABLE ${table} (id SERIAL PRIMARY KEY, label TEXT NOT NULL)`
  },
  {
    label: "MariaDB",
    nodes: cluster.mariadb,
    statementTimeoutSql: "SELECT @@SESSION.max_statement_time AS t",
    statementTimeout: 7,
    createTable: `CREATE TABLE ${table} (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(100) NOT NULL)`
  }
]

/** Sets the variables in `process.env` for the scope, and puts back what was there. */
const environment = (vars: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const saved = Object.keys(vars).map((key) => [key, process.env[key]] as const)
      Object.assign(process.env, vars)
      return saved
    }),
    (saved) =>
      Effect.sync(() => {
        for (const [key, value] of saved) {
          if (value === undefined) delete process.env[key]
          else process.env[key] = value
        }
      })
  )

for (const b of backends) {
  describe(`FastOrmLive on ${b.label}`, () => {
    it.scopedLive("starts from process.env with the nodes, readWrite, health and pool variables applied", () =>
      Effect.gen(function*() {
        const appName = `fastorm-live-env-${process.pid}`
        yield* environment({
          FASTORM_NAME: `live-${b.label}`,
          FASTORM_WRITE_URL: b.nodes.primary.url,
          FASTORM_WRITE_NAME: "main",
          FASTORM_READ_URLS: b.nodes.replicas.map((r) => r.url).join(", "),
          FASTORM_READ_NAMES: "east,west",
          FASTORM_READ_WRITE_CONSISTENCY: "session",
          FASTORM_READ_WRITE_STATEMENT_TIMEOUT: "7 seconds",
          FASTORM_HEALTH_INTERVAL: "200 millis",
          FASTORM_POOL_SIZE: "1",
          FASTORM_POOL_MAX_OVERFLOW: "2",
          FASTORM_POOL_MAX_LIFETIME: "5 minutes",
          ...(b.label === "PostgreSQL"
            ? { FASTORM_POOL_APPLICATION_NAME: appName, FASTORM_POOL_PIPELINED_CONNECTIONS: "1" }
            : {})
        })
        const program = Effect.gen(function*() {
          const router = yield* ConnectionRouter.ConnectionRouter
          expect([router.cluster, router.primary, router.replicas]).toEqual([`live-${b.label}`, "main", [
            "east",
            "west"
          ]])
          const write = yield* WriteConnection
          const read = yield* ReadConnection
          yield* write.unsafe(b.createTable)
          yield* write.unsafe(`INSERT INTO ${table} (label) VALUES ('from-env')`)
          // Session consistency: the read sees the session's own write, on a replica that has it or the primary.
          const rows = yield* read.unsafe<{ label: string }>(`SELECT label FROM ${table}`)
          expect(rows.map((r) => r.label)).toEqual(["from-env"])
          const [bound] = yield* write.unsafe<Record<string, unknown>>(b.statementTimeoutSql)
          expect(Object.values(bound!)[0]).toEqual(b.statementTimeout)
          if (b.label === "PostgreSQL") {
            const sessions = yield* admin<{ n: number }>(
              b.nodes.primary,
              "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
              [appName]
            )
            // The pool's application name from FASTORM_POOL_APPLICATION_NAME, at most 1 + 2 connections and the one
            // pipelined connection of FASTORM_POOL_PIPELINED_CONNECTIONS.
            expect(sessions[0]!.n).toBeGreaterThanOrEqual(1)
            expect(sessions[0]!.n).toBeLessThanOrEqual(4)
          }
          yield* write.unsafe(`DROP TABLE ${table}`)
        })
        yield* Effect.scoped(Effect.provide(program, FastOrmLive)).pipe(
          Effect.withConfigProvider(ConfigProvider.fromEnv())
        )
      }))
  })
}
