/**
 * FastORM's own failover (`failover: { mode: "promote" }`), on PostgreSQL and MariaDB, with two app instances racing:
 * this test's own layer and a second process with the same configuration, both writing. The primary is killed; the
 * replicas confirm they lost it; one replica is promoted, exactly once, the other re-pointed at it; no write that
 * either instance saw acknowledged is lost. The clusters here are private to this file (started and removed by it):
 * a promotion changes them for good.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  adminQuery,
  appQuery,
  type ClusterNodes,
  History,
  killNode,
  type NodeInfo,
  waitReplicated,
  waitUntil,
  waitUntilAsync
} from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { ConnectionRouter, FastOrm } from "../../src/index.js"
import { report } from "../support/cluster.js"
import { type Dialect, privateClusters } from "../support/privateClusters.js"
import { startLoad, verdictsOf } from "./load.js"

const nodesOf = privateClusters()

const all = (c: ClusterNodes): ReadonlyArray<NodeInfo> => [c.primary, ...c.replicas]
const AFTER = "2 seconds"

const failoverConfig = (dialect: Dialect) => {
  const c = nodesOf(dialect)
  return {
    nodes: all(c).map((n) => ({ url: n.url, name: n.name })),
    adminUrl: c.primary.adminUrl
  }
}

const app = (dialect: Dialect) => {
  const { adminUrl, nodes } = failoverConfig(dialect)
  return FastOrm.layer({
    name: `failover-${dialect}`,
    nodes,
    readWrite: { statementTimeout: "2 seconds", connectTimeout: "1 second", sessionWaitTimeout: "200 millis" },
    health: { interval: "200 millis", timeout: "1 second", failureThreshold: 2, backoffCap: "1 second" },
    pool: { poolSize: 2, maxOverflow: 4 },
    failover: { mode: "promote", adminUrl, after: AFTER }
  })
}

/**
 * The second instance: the same configuration in its own process. `ready` once it acknowledged a first write, `done`
 * with every write it saw acknowledged, once it exits.
 */
const secondInstance = (dialect: Dialect, key: string, ms: number) => {
  let ready!: () => void
  const started = new Promise<void>((resolve) => {
    ready = resolve
  })
  const done = new Promise<ReadonlyArray<{ readonly v: string; readonly port: number }>>((resolve, reject) => {
    const { adminUrl, nodes } = failoverConfig(dialect)
    const child = spawn(
      process.execPath,
      ["--conditions=@fastorm/source", "--import", "tsx", fileURLToPath(new URL("./failoverApp.ts", import.meta.url))],
      {
        env: {
          ...process.env,
          FAILOVER_APP_NODES: JSON.stringify(nodes),
          FAILOVER_APP_ADMIN_URL: adminUrl,
          FAILOVER_APP_DIALECT: dialect,
          FAILOVER_APP_KEY: key,
          FAILOVER_APP_MS: String(ms),
          FAILOVER_APP_AFTER: AFTER
        },
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let out = ""
    let err = ""
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes("{\"v\"")) ready()
    })
    child.stderr.on("data", (chunk: Buffer) => err += chunk.toString())
    child.on("error", reject)
    child.on("exit", (code) =>
      code === 0
        ? resolve(out.split("\n").filter((l) => l.startsWith("{\"v\"")).map((l) => JSON.parse(l)))
        : reject(new Error(`the second instance exited with ${code}: ${err.slice(-2000)}`)))
  })
  // Observed at once: a failure is reported by the test that awaits it, never as an unhandled rejection.
  done.catch(() => undefined)
  return { started, done }
}

const writable = async (node: NodeInfo, dialect: Dialect): Promise<boolean> => {
  try {
    const rows = await adminQuery<{ w: unknown }>(
      node,
      dialect === "postgres" ? "SELECT NOT pg_is_in_recovery() AS w" : "SELECT @@read_only = 0 AS w"
    )
    return rows[0]?.w === true || Number(rows[0]?.w) === 1
  } catch {
    return false
  }
}

/** The follower replicates from `primary`: by the server's word (PG: streaming from its port; MariaDB: Master_Port). */
const followsFrom = async (follower: NodeInfo, primary: NodeInfo, dialect: Dialect): Promise<boolean> => {
  if (dialect === "postgres") {
    const rows = await adminQuery<{ port: unknown; status: string }>(
      follower,
      "SELECT sender_port AS port, status FROM pg_stat_wal_receiver"
    )
    return rows[0]?.status === "streaming" && Number(rows[0]?.port) === primary.port
  }
  const rows = await adminQuery<Record<string, unknown>>(follower, "SHOW SLAVE STATUS")
  return Number(rows[0]?.Master_Port) === primary.port && rows[0]?.Slave_IO_Running === "Yes"
}

const synchronous = async (c: ClusterNodes, dialect: Dialect): Promise<void> => {
  if (dialect === "postgres") {
    await adminQuery(c.primary, "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (*)'")
    await adminQuery(c.primary, "SELECT pg_reload_conf()")
    return
  }
  await adminQuery(c.primary, "SET GLOBAL rpl_semi_sync_master_timeout = 10000")
  await adminQuery(c.primary, "SET GLOBAL rpl_semi_sync_master_enabled = ON")
  for (const replica of c.replicas) {
    await adminQuery(replica, "SET GLOBAL rpl_semi_sync_slave_enabled = ON")
    await adminQuery(replica, "STOP SLAVE IO_THREAD")
    await adminQuery(replica, "START SLAVE IO_THREAD")
  }
  await waitReplicated(c)
}

for (const dialect of ["postgres", "mariadb"] as const) {
  describe(`FastORM's own failover on ${dialect}, two app instances racing`, () => {
    it.scopedLive(
      "the primary killed: exactly one promotion, the other replica re-pointed, nothing acknowledged lost",
      () =>
        Effect.gen(function*() {
          const c = nodesOf(dialect)
          const nodeOf = (port: unknown) => all(c).find((n) => n.port === Number(port))?.name ?? `port-${port}`
          yield* Effect.promise(() =>
            appQuery(
              c.primary,
              dialect === "postgres"
                ? "CREATE TABLE IF NOT EXISTS promo_kv (id SERIAL PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL)"
                : "CREATE TABLE IF NOT EXISTS promo_kv (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(64) NOT NULL, v VARCHAR(64) NOT NULL)"
            )
          )
          yield* Effect.promise(() => waitReplicated(c))
          // An acknowledged write survives the primary's death only if a replica had it: synchronous replication
          // (PostgreSQL: one standby flushed it; MariaDB: semi-synchronous, one replica received it).
          yield* Effect.promise(() => synchronous(c, dialect))
          const router = yield* ConnectionRouter.ConnectionRouter
          yield* waitUntil(router.currentPrimary, (p) => p === c.primary.name, {
            what: "the app to name the primary",
            timeoutMs: 10_000
          })
          const secondKey = `second-${dialect}-${Date.now().toString(36)}`
          const second = secondInstance(dialect, secondKey, 25_000)
          // Both instances run before the primary dies (an instance that starts during the outage has no primary).
          yield* Effect.promise(() => Promise.race([second.started, second.done.then(() => undefined)]))
          const load = yield* startLoad(`failover-${dialect}`, nodeOf, dialect)
          yield* waitUntil(Effect.sync(() => load.ackedWrites()), (n) => n >= 30, {
            what: "30 acknowledged writes",
            timeoutMs: 20_000
          })
          const t0 = performance.now()
          yield* Effect.promise(() => killNode(c.primary))
          const promoted = yield* waitUntil(router.currentPrimary, (p) => p !== undefined && p !== c.primary.name, {
            what: "a promoted replica named the primary",
            timeoutMs: 30_000
          }).pipe(Effect.zipRight(router.currentPrimary))
          const promotedMs = Math.round(performance.now() - t0)
          const newPrimary = c.replicas.find((r) => r.name === promoted)!
          const follower = c.replicas.find((r) => r.name !== promoted)!
          yield* Effect.sleep("3 seconds")
          yield* load.stop
          const secondAcked = yield* Effect.promise(() => second.done)
          // The follower replays from the new primary (re-pointed by whichever instance promoted).
          yield* Effect.promise(() =>
            waitUntilAsync(() => followsFrom(follower, newPrimary, dialect), (ok) => ok, {
              what: `${follower.name} to replicate from ${newPrimary.name}`,
              timeoutMs: 15_000
            })
          )
          const writableNodes = []
          for (const node of c.replicas) {
            if (yield* Effect.promise(() => writable(node, dialect))) writableNodes.push(node.name)
          }
          const rows = yield* Effect.promise(() =>
            appQuery<{ k: string; v: string }>(
              newPrimary,
              dialect === "postgres"
                ? "SELECT k, v FROM promo_kv WHERE k = ANY($1)"
                : `SELECT k, v FROM promo_kv WHERE k IN (${[...load.keys, secondKey].map(() => "?").join(", ")})`,
              dialect === "postgres" ? [[...load.keys, secondKey]] : [...load.keys, secondKey]
            )
          )
          const final = History.finalStateOf(rows.map((r) => ({ key: r.k, value: r.v })))
          const secondLost = secondAcked.filter((w) => !(final.get(secondKey)?.has(w.v) ?? false))
          const verdicts = verdictsOf(load, final)
          const figures = {
            killed: c.primary.name,
            promoted,
            promotedMsAfterKill: promotedMs,
            writable: writableNodes,
            secondInstanceAcked: secondAcked.length,
            secondInstanceLost: secondLost.length,
            ...load.figures()
          }
          yield* report(`${dialect} failover by FastORM, two instances`, figures)
          expect(History.report(verdicts)).not.toMatch(/^FAIL/m)
          // Exactly one promotion: one writable node, the one both instances follow.
          expect(writableNodes).toEqual([promoted])
          expect(secondLost).toEqual([])
          expect(secondAcked.filter((w) => w.port === newPrimary.port).length).toBeGreaterThan(0)
          expect(figures.writesBy[promoted!] ?? 0).toBeGreaterThan(0)
        }).pipe(Effect.provide(app(dialect))),
      120_000
    )
  })
}
