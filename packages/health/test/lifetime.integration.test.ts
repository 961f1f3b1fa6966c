/**
 * The probes' dedicated connections follow the node's `maxLifetime` too: past it, the probe closes its session and
 * opens a new one, and the old session ends on the server.
 */
import { describe, expect, it } from "@effect/vitest"
import { DatabaseAdapterFactory } from "@fastorm/adapters"
import type { NodeInfo } from "@fastorm/test-support"
import { admin, loadCluster, LOADED_MACHINE_SLACK_MS, waitUntil } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as HealthMonitor from "../src/HealthMonitor.js"

const cluster = loadCluster()
const LIFETIME_MS = 1_000

interface Dialect {
  readonly label: string
  readonly node: NodeInfo
  /** The ids of the monitor's probe sessions on the node (`$1`/`?`: the PostgreSQL application name). */
  readonly sessionsSql: string
}

const appName = `fastorm-health-lifetime-${process.pid}`
const dialects: ReadonlyArray<Dialect> = [
  {
    label: "PostgreSQL",
    node: cluster.postgres.replicas[0]!,
    sessionsSql: `SELECT pid AS id FROM pg_stat_activity WHERE application_name = '${appName}'`
  },
  {
    label: "MariaDB",
    node: cluster.mariadb.replicas[0]!,
    // The probe connects without a database; nothing else in this test does. Test files run one at a time.
    sessionsSql: "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = 'app' AND DB IS NULL"
  }
]

for (const dialect of dialects) {
  describe(`HealthMonitor on ${dialect.label}`, () => {
    it.scopedLive("the probe's connection is replaced once it is older than the node's maxLifetime", () =>
      Effect.gen(function*() {
        const sessions = Effect.map(
          admin<{ id: number }>(dialect.node, dialect.sessionsSql),
          (rows) => rows.map((r) => Number(r.id))
        )
        const before = new Set(yield* sessions)
        // The probe's first session opens after this, so it cannot be replaced sooner than LIFETIME_MS after it.
        const started = Date.now()
        const adapter = yield* DatabaseAdapterFactory.create(dialect.node.url, {
          name: "replica",
          config: { maxLifetime: `${LIFETIME_MS} millis` }
        })
        yield* HealthMonitor.make({
          nodes: [{ name: "replica", role: "replica", adapter }],
          interval: "100 millis",
          applicationName: appName
        })
        const ours = Effect.map(sessions, (ids) => ids.filter((id) => !before.has(id)))
        const [first] = yield* Effect.zipRight(
          waitUntil(ours, (ids) => ids.length === 1, { what: "the probe's first session", timeoutMs: 5_000 }),
          ours
        )
        // Probes 100 ms apart go on in the same session until it has lived LIFETIME_MS, then in a new one.
        yield* waitUntil(ours, (ids) => ids.length === 1 && ids[0] !== first, {
          what: `the ${dialect.label} probe session ${first} replaced by a new one`,
          timeoutMs: LIFETIME_MS + 100 + LOADED_MACHINE_SLACK_MS,
          intervalMs: 50
        })
        expect(Date.now() - started).toBeGreaterThanOrEqual(LIFETIME_MS - 5)
      }))
  })
}
