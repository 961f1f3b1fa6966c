/**
 * Streams are bounded like statements (ARCHITECTURE.md, "Deadlines"): on each network adapter, a pull that waits for
 * rows from a server that stopped answering (frozen: its sockets stay open) fails once the statement deadline passes,
 * and a stream stopped early on such a server ends within it too; the connection is closed, not given back, and the
 * pool serves on once the server answers again. Without the bound both waits last until the server wakes up.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import type { NodeInfo } from "@fastorm/test-support"
import { control, freezeNode, loadCluster, LOADED_MACHINE_SLACK_MS, unfreezeNode } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { DatabaseAdapterFactory } from "../src/index.js"

const cluster = loadCluster()
// Faults only ever on replica-2: other test files share these servers.
const backends: ReadonlyArray<{ readonly name: string; readonly node: NodeInfo; readonly rows: string }> = [
  {
    name: "PostgreSQL",
    node: cluster.postgres.replicas[1]!,
    rows: "SELECT g FROM generate_series(1, 5000000) AS g"
  },
  { name: "MariaDB", node: cluster.mariadb.replicas[1]!, rows: "SELECT seq FROM seq_1_to_5000000" }
]

// The node's statement timeout; the client's deadline is 100 ms past it.
const TIMEOUT_MS = 1_000
const DEADLINE_MS = TIMEOUT_MS + 100

const clientOf = (url: string) =>
  Effect.flatMap(
    DatabaseAdapterFactory.create(url, { config: { statementTimeout: `${TIMEOUT_MS} millis`, poolSize: 2 } }),
    (adapter) => adapter.makeClient({ readOnly: true })
  )

/** Runs `use` with the node frozen, and thaws it whatever happens. */
const whileFrozen = <A, E, R>(node: NodeInfo, use: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(control(() => freezeNode(node)), () => use, () => control(() => unfreezeNode(node)))

for (const backend of backends) {
  describe(`streams on ${backend.name} within the statement deadline`, () => {
    it.scopedLive(
      "a pull waiting on a frozen server fails past the deadline; the pool serves on after it thaws",
      () =>
        Effect.gen(function*() {
          const client = yield* clientOf(backend.node.url)
          const pull = yield* Stream.toPull(client.unsafe(backend.rows).stream)
          const first = yield* pull
          expect(first.length).toBeGreaterThan(0)
          const { ms, outcome, rows } = yield* whileFrozen(
            backend.node,
            Effect.gen(function*() {
              const started = performance.now()
              let rows = 0
              // The rows already on their way (socket buffers) come first; then the pull waits.
              for (;;) {
                const next = yield* Effect.either(pull)
                if (next._tag === "Left") return { ms: performance.now() - started, outcome: next.left, rows }
                rows += next.right.length
              }
            })
          )
          console.log(`${backend.name}: stream failed ${ms.toFixed(0)} ms after the freeze, ${rows} rows after it`)
          expect(rows).toBeLessThan(5_000_000)
          const error = Option.getOrUndefined(outcome)
          expect(error).toBeInstanceOf(SqlError)
          expect(error?.message).toMatch(/^No answer from .* within 1100 ms$/)
          expect((error?.cause as { code?: string }).code).toBe("ETIMEDOUT")
          expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50)
          expect(ms).toBeLessThan(DEADLINE_MS + 2 * LOADED_MACHINE_SLACK_MS)
          // The server answers again: the next statement gets a connection (not the one the stream left).
          const rows2 = yield* client.unsafe("SELECT 1 AS one")
          expect(rows2.map((row: any) => Number(row.one))).toEqual([1])
        }).pipe(Effect.provide(Reactivity.layer)),
      30_000
    )

    it.scopedLive("a stream stopped early on a frozen server ends within the deadline", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(backend.node.url)
        const scope = yield* Scope.make()
        const pull = yield* Stream.toPull(client.unsafe(backend.rows).stream).pipe(Scope.extend(scope))
        expect((yield* pull).length).toBeGreaterThan(0)
        const ms = yield* whileFrozen(
          backend.node,
          Effect.suspend(() => {
            const started = performance.now()
            return Effect.map(Scope.close(scope, Exit.void), () => performance.now() - started)
          })
        )
        console.log(`${backend.name}: stream stopped on a frozen server, closed in ${ms.toFixed(0)} ms`)
        expect(ms).toBeLessThan(DEADLINE_MS + LOADED_MACHINE_SLACK_MS)
        const rows = yield* client.unsafe("SELECT 2 AS two")
        expect(rows.map((row: any) => Number(row.two))).toEqual([2])
      }).pipe(Effect.provide(Reactivity.layer)), 30_000)
  })
}

describe("a PostgreSQL stream interrupted while a read waits", () => {
  it.scopedLive(
    "leaves its transaction usable: the cursor's close follows the read on the same connection",
    () =>
      Effect.gen(function*() {
        const client = yield* Effect.flatMap(
          DatabaseAdapterFactory.create(cluster.postgres.replicas[0]!.url),
          (adapter) => adapter.makeClient({ readOnly: true })
        )
        const [before, after] = yield* client.withTransaction(Effect.gen(function*() {
          const pid = client.unsafe<{ pid: number }>("SELECT pg_backend_pid() AS pid")
          const first = Number((yield* pid)[0]!.pid)
          // Each row takes 0.3 s: the first read (512 rows) is still waiting when the stream is interrupted.
          const slow = yield* Effect.fork(
            Stream.runDrain(client.unsafe("SELECT g, pg_sleep(0.3) FROM generate_series(1, 3) AS g").stream)
          )
          yield* Effect.sleep("150 millis")
          yield* Fiber.interrupt(slow)
          return [first, Number((yield* pid)[0]!.pid)] as const
        }))
        expect(after).toBe(before)
      }).pipe(Effect.provide(Reactivity.layer)),
    30_000
  )
})
