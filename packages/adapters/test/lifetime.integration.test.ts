/**
 * `maxLifetime` on the real servers: a pooled connection older than the lifetime is closed (idle: by the pool; busy:
 * when released), its server session ends, and the next statement runs on a new one.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import type { NodeInfo } from "@fastorm/test-support"
import { admin, loadCluster, LOADED_MACHINE_SLACK_MS, poolOnly, waitUntil } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster = loadCluster()
const LIFETIME_MS = 1_000

interface Dialect {
  readonly label: string
  readonly node: NodeInfo
  /** The server's id of the session that runs the statement, after `sleepSeconds` of work. */
  readonly sessionSql: (sleepSeconds: number) => string
  /** Counts the sessions with that id still open on the server. */
  readonly openSql: string
}

const dialects: ReadonlyArray<Dialect> = [
  {
    label: "PostgreSQL",
    node: cluster.postgres.primary,
    sessionSql: (s) => `SELECT pg_backend_pid() AS id, pg_sleep(${s}) AS slept`,
    openSql: "SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1"
  },
  {
    label: "MariaDB",
    node: cluster.mariadb.primary,
    sessionSql: (s) => `SELECT CONNECTION_ID() AS id, SLEEP(${s}) AS slept`,
    openSql: "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?"
  }
]

for (const dialect of dialects) {
  describe(`maxLifetime on ${dialect.label}`, () => {
    const client = Effect.flatMap(
      DatabaseAdapterFactory.create(dialect.node.url, {
        config: { poolSize: 1, maxOverflow: 0, maxLifetime: `${LIFETIME_MS} millis`, ...poolOnly(dialect.node.kind) }
      }),
      (adapter) => adapter.makeClient()
    )
    const sessionOf = (c: Effect.Effect.Success<typeof client>, sleepSeconds = 0) =>
      Effect.map(c.unsafe<{ id: number }>(dialect.sessionSql(sleepSeconds)), (rows) => Number(rows[0]!.id))
    const stillOpen = (id: number) =>
      Effect.map(admin<{ n: number }>(dialect.node, dialect.openSql, [id]), (rows) => Number(rows[0]!.n))

    it.scopedLive("an idle connection past its lifetime is closed, and the next statement gets a new session", () =>
      Effect.gen(function*() {
        const c = yield* client
        const started = Date.now()
        const first = yield* sessionOf(c)
        // Within the lifetime the one pooled connection serves again.
        expect(yield* sessionOf(c)).toBe(first)
        yield* waitUntil(sessionOf(c), (id) => id !== first, {
          what: `a new ${dialect.label} session after the lifetime`,
          // The lifetime, the pool's sweep (a tenth of it for mysql2), and a loaded machine's slack.
          timeoutMs: LIFETIME_MS + 100 + LOADED_MACHINE_SLACK_MS,
          intervalMs: 50
        })
        // Never before the lifetime: the first session was opened after `started`.
        expect(Date.now() - started).toBeGreaterThanOrEqual(LIFETIME_MS - 5)
        yield* waitUntil(stillOpen(first), (n) => n === 0, {
          what: `the expired ${dialect.label} session ${first} to end on the server`,
          timeoutMs: LOADED_MACHINE_SLACK_MS
        })
      }).pipe(Effect.provide(Reactivity.layer)))

    it.scopedLive("a connection that outlives its lifetime while busy is closed when released", () =>
      Effect.gen(function*() {
        const c = yield* client
        const busy = yield* sessionOf(c, (LIFETIME_MS + 300) / 1000)
        const next = yield* sessionOf(c)
        expect(next).not.toBe(busy)
        yield* waitUntil(stillOpen(busy), (n) => n === 0, {
          what: `the expired ${dialect.label} session ${busy} to end on the server`,
          timeoutMs: LOADED_MACHINE_SLACK_MS
        })
        // The replacement is a fresh connection with a lifetime of its own: it serves again at once.
        expect(yield* sessionOf(c)).toBe(next)
      }).pipe(Effect.provide(Reactivity.layer)))
  })
}
