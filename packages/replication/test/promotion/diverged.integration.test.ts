/**
 * A replica that diverged in a promotion never serves a session read. The app runs throughout and first sees both
 * replicas replicating from the primary. replica-1 stops replicating, the primary takes
 * more writes that replica-2 replays, the primary is killed and replica-1 promoted: replica-2 is now ahead on the old
 * history (PostgreSQL's old timeline; MariaDB's GTID sequence numbers of the old primary) and cannot follow the new
 * primary. A session's write on the new primary gets a position (an LSN, a sequence number) that replica-2's replay
 * position looks like it covers, though replica-2 does not hold the write: the session must read it from the primary.
 * The clusters are private to this file (started and removed by it): a promotion changes them for good.
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import { ClusterStatus } from "@fastorm/health"
import {
  adminQuery,
  appQuery,
  killNode,
  type NodeInfo,
  waitReplicated,
  waitUntil,
  waitUntilAsync
} from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { ConnectionRouter, FastOrm, SessionToken } from "../../src/index.js"
import { type Dialect, privateClusters } from "../support/privateClusters.js"

const nodesOf = privateClusters()

/** What differs between the dialects: the SQL of each step. */
const steps = {
  postgres: {
    table: "CREATE TABLE diverge_t (id SERIAL PRIMARY KEY, v TEXT NOT NULL)",
    // PostgreSQL 13+ re-reads primary_conninfo on reload: an empty one stops the WAL receiver.
    detach: ["ALTER SYSTEM SET primary_conninfo = ''", "SELECT pg_reload_conf()"],
    receiving: "SELECT count(*)::int AS n FROM pg_stat_wal_receiver",
    // One statement of about a megabyte of WAL: replica-2 ends far ahead of replica-1 in LSN terms.
    ahead: ["INSERT INTO diverge_t (v) SELECT repeat('x', 100) FROM generate_series(1, 5000)"],
    promote: ["SELECT pg_promote(true, 30)"],
    replayed: "SELECT pg_last_wal_replay_lsn()::text AS p",
    write: "INSERT INTO diverge_t (v) VALUES ($1)",
    read: "SELECT inet_server_port() AS port, (SELECT count(*)::int FROM diverge_t WHERE v = $1) AS n"
  },
  mariadb: {
    table: "CREATE TABLE diverge_t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(128) NOT NULL)",
    detach: ["STOP SLAVE"],
    receiving: "SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO'",
    // Fifty transactions, fifty GTIDs: replica-2's sequence number ends fifty past replica-1's.
    ahead: Array.from({ length: 50 }, () => "INSERT INTO diverge_t (v) VALUES (REPEAT('x', 100))"),
    promote: ["RESET SLAVE ALL", "SET GLOBAL read_only = 0"],
    replayed: "SELECT @@gtid_slave_pos AS p",
    write: "INSERT INTO diverge_t (v) VALUES (?)",
    read: "SELECT @@port AS port, (SELECT count(*) FROM diverge_t WHERE v = ?) AS n"
  }
} as const

const app = (dialect: Dialect) =>
  FastOrm.layer({
    name: `diverged-${dialect}`,
    nodes: [nodesOf(dialect).primary, ...nodesOf(dialect).replicas].map((n) => ({ url: n.url, name: n.name })),
    readWrite: { statementTimeout: "2 seconds", connectTimeout: "1 second", sessionWaitTimeout: "200 millis" },
    health: { interval: "200 millis", timeout: "1 second", failureThreshold: 2, backoffCap: "1 second" }
  })

/** Leaves replica-2 ahead of replica-1 on the old primary's history, kills the primary and promotes replica-1. */
const diverge = async (dialect: Dialect): Promise<{ readonly promoted: NodeInfo; readonly diverged: NodeInfo }> => {
  const cluster = nodesOf(dialect)
  const [promoted, diverged] = cluster.replicas as [NodeInfo, NodeInfo]
  const sql = steps[dialect]
  await appQuery(cluster.primary, sql.table)
  await waitReplicated(cluster)
  for (const statement of sql.detach) await adminQuery(promoted, statement)
  await waitUntilAsync(
    () => adminQuery<{ n: unknown }>(promoted, sql.receiving),
    (rows) => Number(rows[0]?.n) === 0,
    { what: `${promoted.name} to stop replicating`, timeoutMs: 10_000 }
  )
  for (const statement of sql.ahead) await appQuery(cluster.primary, statement)
  await waitReplicated(cluster, { replicas: [diverged] })
  await killNode(cluster.primary)
  for (const statement of sql.promote) await adminQuery(promoted, statement)
  return { promoted, diverged }
}

const portOf = (node: NodeInfo) => node.port

describe.each(["postgres", "mariadb"] as const)("a replica diverged in a promotion, on %s", (dialect) => {
  it.scopedLive(
    "serves no session read: the session's write on the new primary is read there, never missed",
    () =>
      Effect.gen(function*() {
        const sql = steps[dialect]
        yield* Effect.gen(function*() {
          const router = yield* ConnectionRouter.ConnectionRouter
          const status = yield* ClusterStatus.ClusterStatus
          const cluster = nodesOf(dialect)
          // The app sees the cluster whole first: both replicas replicating from the primary (what the router keeps
          // as each replica's upstream).
          yield* waitUntil(
            status.snapshot,
            (nodes) =>
              cluster.replicas.every((r) => nodes.some((n) => n.name === r.name && n.replicating === true)) &&
              nodes.some((n) => n.name === cluster.primary.name && n.routing === "primary"),
            { what: "the app to see both replicas replicating from the primary", timeoutMs: 15_000 }
          )
          const { diverged, promoted } = yield* Effect.promise(() => diverge(dialect))
          yield* waitUntil(router.currentPrimary, (p) => p === promoted.name, {
            what: `the app to name ${promoted.name} the primary`,
            timeoutMs: 15_000
          })
          const write = yield* WriteConnection
          const read = yield* ReadConnection
          const served: Array<number> = []
          for (let i = 0; i < 20; i++) {
            const value = `session-${dialect}-${i}`
            const rows = yield* Effect.gen(function*() {
              yield* write.unsafe(sql.write, [value])
              const token = Option.getOrThrow(yield* SessionToken.get(`diverged-${dialect}`))
              // The premise: replica-2's replay position looks like it covers the write, which it does not hold.
              const replayed = yield* Effect.promise(() => adminQuery<{ p: unknown }>(diverged, sql.replayed))
              expect(SessionToken.covers(String(replayed[0]?.p), token)).toBe(true)
              return yield* read.unsafe<{ port: unknown; n: unknown }>(sql.read, [value])
            }).pipe(Effect.locally(SessionToken.currentTokens, {}))
            expect(Number(rows[0]!.n)).toBe(1)
            served.push(Number(rows[0]!.port))
          }
          expect(served.filter((port) => port === portOf(diverged))).toEqual([])
        }).pipe(Effect.provide(app(dialect)))
      }),
    120_000
  )
})
