/**
 * Fault scenarios on the live PostgreSQL and MariaDB clusters, each with a workload recorded into a History and
 * checked at the end; every scenario ends with the servers' app sessions and the proxies' connections back to their
 * baseline. Figures are printed with the `[scenario]` prefix.
 */
import { describe, expect, it } from "@effect/vitest"
import { Database, WriteConnection } from "@fastorm/core"
import {
  FaultProxy,
  History,
  LOADED_MACHINE_SLACK_MS,
  replicaWriteAttempts,
  terminateSessions,
  untilRunning,
  waitReplicated,
  waitUntil
} from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { ConnectionRouter, RouterError, SessionToken } from "../../src/index.js"
import type { Backend } from "./support.js"
import {
  backends,
  CONNECT_TIMEOUT_MS,
  copiesOf,
  ensureTable,
  expectClean,
  expectProxyDrained,
  expectSessionsBack,
  finalState,
  KV_TABLE,
  nodeByPort,
  ormLayer,
  readKv,
  runId,
  sessionBaseline,
  STATEMENT_TIMEOUT_MS,
  workload,
  workloadKeys
} from "./support.js"

/** Read deadline: a replica timing out, the retry on the next candidate, a connect, plus a loaded machine's slack. */
const READ_DEADLINE_MS = 2 * STATEMENT_TIMEOUT_MS + CONNECT_TIMEOUT_MS + LOADED_MACHINE_SLACK_MS

const replicaAttempts = (b: Backend) =>
  Effect.promise(() =>
    Promise.all(b.nodes.replicas.map(async (r) => [r.name, await replicaWriteAttempts(r)] as const)).then((e) =>
      Object.fromEntries(e) as Record<string, number>
    )
  )

const delta = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]))

for (const b of backends) {
  describe(`faults on ${b.name}`, () => {
    it.scopedLive(
      "a replica blackholed in the middle of a long read: the read ends on another node, nothing hangs",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          const baseline = yield* Effect.promise(() => sessionBaseline(b))
          const proxies = yield* Effect.forEach(b.nodes.replicas, (r) => FaultProxy.forNode(r))
          const [victim] = proxies as [FaultProxy.FaultProxy, FaultProxy.FaultProxy]
          const history = History.make()
          const prefix = runId("bh")
          const attemptsBefore = yield* replicaAttempts(b)
          const figures = yield* Effect.gen(function*() {
            const router = yield* ConnectionRouter.ConnectionRouter
            // Both replicas serve before the fault.
            for (let i = 0; i < 4; i++) yield* readKv(b, `${prefix}-warm`)
            yield* router.resetStats
            const longReads = Effect.forEach(
              [0, 1, 2, 3],
              (i) =>
                History.record(
                  history,
                  { session: `${prefix}-long${i}`, kind: "read", key: `${prefix}-long`, deadlineMs: READ_DEADLINE_MS },
                  Effect.flatMap(
                    ConnectionRouter.ConnectionRouter,
                    (r) => RouterError.refine(r.read.unsafe<{ port: unknown }>(b.sleepSql(1.5)))
                  ).pipe(
                    Effect.map((rows) => ({ node: nodeByPort(b, rows[0]!.port), observed: [] }))
                  )
                ),
              { concurrency: "unbounded" }
            )
            const longFiber = yield* Effect.fork(longReads)
            const load = yield* Effect.fork(workload(b, {
              history,
              prefix,
              sessions: 4,
              opsPerSession: 30,
              deadlineMs: READ_DEADLINE_MS,
              thinkMs: 20
            }))
            // In the middle of the long read: the victim replica is running it.
            const victimNode = b.nodes.replicas[0]!
            const waitedForRead = yield* untilRunning(victimNode, b.name === "postgres" ? "pg_sleep(" : "SLEEP(")
            const blackholedAt = performance.now()
            yield* victim.setMode(FaultProxy.blackhole)
            yield* Fiber.join(longFiber)
            yield* Fiber.join(load)
            const stats = yield* router.stats
            yield* victim.setMode(FaultProxy.pass)
            return { waitedForRead, blackholedAt, stats }
          }).pipe(
            Effect.ensuring(Effect.orDie(victim.setMode(FaultProxy.pass))),
            Effect.provide(ormLayer(b, { read: proxies.map((p) => p.url(b.nodes.replicas[proxies.indexOf(p)]!)) }))
          )
          const attemptsAfter = yield* replicaAttempts(b)
          const longOps = history.ops.filter((op) => op.session.includes("-long"))
          const final = yield* Effect.promise(() => finalState(b, workloadKeys(prefix, 4)))
          const verdicts = History.checkAll(history, {
            final,
            replicaWrites: {
              replicas: b.nodes.replicas.map((r) => r.name),
              routeStats: figures.stats,
              replicaWriteAttempts: delta(attemptsAfter, attemptsBefore)
            }
          })
          const summary = expectClean(`blackhole-mid-read ${b.name}`, verdicts, history)
          const readsOnVictimAfter = history.ops.filter((op) =>
            op.kind === "read" && op.status === "ok" && op.node === b.nodes.replicas[0]!.name &&
            op.invokedAt > figures.blackholedAt + 1_000
          ).length
          console.log(
            `[blackhole-mid-read ${b.name}] long reads: ${
              longOps.map((op) => `${op.status}@${op.node}:${Math.round(op.completedAt! - op.invokedAt)}ms`).join(" ")
            }; reads on the victim from 1 s after the blackhole: ${readsOnVictimAfter}; routed ${
              JSON.stringify(figures.stats.byNodeAndReason)
            }`
          )
          expect(longOps.every((op) =>
            op.status === "ok"
          )).toBe(true)
          expect(summary.byStatus["read:failed"] ?? 0).toBe(0)
          expect(readsOnVictimAfter).toBe(0)
          const sessionsMs = yield* expectSessionsBack(b, baseline)
          const drainedMs = yield* Effect.forEach(proxies, (p) => expectProxyDrained(p))
          console.log(`[blackhole-mid-read ${b.name}] baseline back in ${sessionsMs} ms, proxies drained ${drainedMs}`)
        }),
      60_000
    )

    it.scopedLive(
      "connection lost during COMMIT: outcome unknown, never retried, either outcome accepted, the session position unknown",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          const baseline = yield* Effect.promise(() => sessionBaseline(b))
          const proxy = yield* FaultProxy.forNode(b.nodes.primary)
          const history = History.make()
          const prefix = runId("commit")
          const key = `${prefix}-k`
          const commitOnce = (variant: "request" | "answer", i: number) =>
            History.record(
              history,
              {
                session: `${prefix}-${variant}`,
                kind: "write",
                key,
                value: `${prefix}-${variant}-${i}`,
                deadlineMs: 5_000
              },
              Database.transaction(Effect.gen(function*() {
                const write = yield* WriteConnection
                yield* write.unsafe(`INSERT INTO ${KV_TABLE} (k, v) VALUES (${b.p(1)}, ${b.p(2)})`, [
                  key,
                  `${prefix}-${variant}-${i}`
                ])
                // From here on the proxy holds bytes of the chosen direction; the COMMIT (or its answer) is reset
                // while it is held.
                const before = (yield* proxy.stats).pending
                yield* proxy.setMode(
                  FaultProxy.latency(variant === "request" ? { toServer: 3_000 } : { toClient: 3_000 })
                )
                yield* Effect.forkDaemon(
                  waitUntil(
                    Effect.map(proxy.stats, (s) =>
                      s.pending[variant === "request" ? "toServer" : "toClient"] >
                        before[variant === "request" ? "toServer" : "toClient"]),
                    (ok) => ok,
                    { what: "the COMMIT bytes to be held", timeoutMs: 5_000 }
                  ).pipe(Effect.zipRight(proxy.setMode(FaultProxy.reset)))
                )
              })).pipe(
                Effect.as({ node: b.nodes.primary.name }),
                Effect.ensuring(Effect.orDie(proxy.setMode(FaultProxy.pass)))
              )
            )
          // Each in a session of its own, which the lost COMMIT leaves with an unknown position (its reads go to the
          // primary until its next write): the write may exist, and no replica can be shown to have it.
          const positions: Array<Option.Option<SessionToken.Position>> = []
          const inSession = (variant: "request" | "answer", i: number) =>
            Effect.zipRight(commitOnce(variant, i), SessionToken.get(`faults-${b.name}`)).pipe(
              Effect.map((position) => positions.push(position)),
              Effect.locally(SessionToken.currentTokens, {})
            )
          yield* Effect.gen(function*() {
            for (let i = 0; i < 4; i++) yield* inSession("request", i)
            for (let i = 0; i < 4; i++) yield* inSession("answer", i)
          }).pipe(Effect.provide(ormLayer(b, { write: proxy.url(b.nodes.primary) })))
          expect(positions).toEqual(Array.from({ length: 8 }, () => Option.some(SessionToken.unknownPosition)))
          const final = yield* Effect.promise(() => finalState(b, [key]))
          const copies = yield* Effect.promise(() =>
            Promise.all(history.ops.map(async (op) => [op.value!, await copiesOf(b, op.value!)] as const))
          )
          const verdicts = History.checkAll(history, { final })
          expectClean(`commit-lost ${b.name}`, verdicts, history)
          const byVariant = (v: string) => history.ops.filter((op) => op.session.endsWith(v))
          const applied = (v: string) => byVariant(v).filter((op) => final.get(key)?.has(op.value!) ?? false).length
          console.log(
            `[commit-lost ${b.name}] outcomes ${
              history.ops.map((op) => `${op.status}/${op.error ?? "-"}:${Math.round(op.completedAt! - op.invokedAt)}ms`)
                .join(" ")
            }; applied: request-lost ${applied("request")}/4, answer-lost ${applied("answer")}/4`
          )
          // Every one of them is an unknown outcome (not a failure, not a success), and none was applied twice.
          for (const op of history.ops) expect([op.status, op.error]).toEqual(["unknown", "TransactionOutcomeUnknown"])
          for (const [, n] of copies) expect(n).toBeLessThanOrEqual(1)
          // A COMMIT that never reached the server was not applied; one whose answer was lost was.
          expect(applied("request")).toBe(0)
          expect(applied("answer")).toBeGreaterThan(0)
          yield* expectSessionsBack(b, baseline)
          yield* expectProxyDrained(proxy)
        }),
      60_000
    )

    it.scopedLive(
      "idle pooled connections killed server-side: no read fails, the process survives",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          const baseline = yield* Effect.promise(() => sessionBaseline(b))
          const history = History.make()
          const prefix = runId("idle")
          const killed: Array<number> = []
          yield* Effect.gen(function*() {
            const router = yield* ConnectionRouter.ConnectionRouter
            // Fill the pools of every node.
            yield* workload(b, {
              history: History.make(),
              prefix: `${prefix}-warm`,
              sessions: 6,
              opsPerSession: 6,
              deadlineMs: READ_DEADLINE_MS
            })
            for (let round = 0; round < 3; round++) {
              for (const node of [b.nodes.primary, ...b.nodes.replicas]) {
                killed.push(yield* Effect.promise(() => terminateSessions(node, { idleOnly: true })))
              }
              yield* workload(b, {
                history,
                prefix,
                sessions: 4,
                opsPerSession: 20,
                writeRatio: 0.3,
                deadlineMs: READ_DEADLINE_MS
              })
            }
            const stats = yield* router.stats
            const verdicts = History.checkAll(history, {
              final: yield* Effect.promise(() => finalState(b, workloadKeys(prefix, 4))),
              replicaWrites: { replicas: b.nodes.replicas.map((r) => r.name), routeStats: stats }
            })
            const summary = expectClean(`idle-killed ${b.name}`, verdicts, history)
            console.log(
              `[idle-killed ${b.name}] sessions killed per round/node ${killed.join(",")}; routed ${
                JSON.stringify(stats.byReason)
              }`
            )
            expect(killed.reduce((a, n) => a + n, 0)).toBeGreaterThan(0)
            expect(summary.byStatus["read:failed"] ?? 0).toBe(0)
            expect(summary.byStatus["read:unknown"] ?? 0).toBe(0)
          }).pipe(Effect.provide(ormLayer(b)))
          const backMs = yield* expectSessionsBack(b, baseline)
          console.log(`[idle-killed ${b.name}] sessions back to baseline in ${backMs} ms`)
        }),
      60_000
    )

    it.scopedLive(
      "writes attempted through the read path run once, on the primary, and never reach a replica",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          const baseline = yield* Effect.promise(() => sessionBaseline(b))
          const prefix = runId("rw")
          const before = yield* replicaAttempts(b)
          const p = b.p
          const statements: ReadonlyArray<readonly [string, string, ReadonlyArray<unknown>]> = [
            ["insert", `INSERT INTO ${KV_TABLE} (k, v) VALUES (${p(1)}, ${p(2)})`, [prefix, `${prefix}-insert`]],
            [
              "commented insert",
              `/* SELECT */ -- SELECT\n insert into ${KV_TABLE} (k, v) VALUES (${p(1)}, ${p(2)})`,
              [prefix, `${prefix}-commented`]
            ],
            [
              "parenthesised select-shaped insert",
              `INSERT INTO ${KV_TABLE} (k, v) SELECT ${p(1)}, ${p(2)}`,
              [prefix, `${prefix}-insert-select`]
            ],
            ["update", `UPDATE ${KV_TABLE} SET v = ${p(1)} WHERE v = ${p(2)}`, [
              `${prefix}-updated`,
              `${prefix}-insert`
            ]],
            ["locking read", `SELECT v FROM ${KV_TABLE} WHERE k = ${p(1)} FOR UPDATE`, [prefix]],
            ["delete", `DELETE FROM ${KV_TABLE} WHERE v = ${p(1)}`, [`${prefix}-commented`]],
            ...(b.name === "postgres"
              ? [
                [
                  "data-modifying CTE",
                  `WITH w AS (INSERT INTO ${KV_TABLE} (k, v) VALUES ($1, $2) RETURNING v) SELECT v FROM w`,
                  [prefix, `${prefix}-cte`]
                ] as const
              ]
              : [])
          ]
          const stats = yield* Effect.gen(function*() {
            const router = yield* ConnectionRouter.ConnectionRouter
            yield* router.resetStats
            for (const [what, sql, params] of statements) {
              const result = yield* Effect.either(
                Effect.flatMap(ConnectionRouter.ConnectionRouter, (r) => RouterError.refine(r.read.unsafe(sql, params)))
              )
              expect(Either.isRight(result), `${what}: ${String(Either.isLeft(result) ? result.left : "")}`).toBe(true)
            }
            return yield* router.stats
          }).pipe(Effect.provide(ormLayer(b)))
          const final = yield* Effect.promise(() => finalState(b, [prefix]))
          const values = [...(final.get(prefix) ?? [])].sort()
          const after = yield* replicaAttempts(b)
          console.log(
            `[write-via-read ${b.name}] routed ${JSON.stringify(stats.byNodeAndReason)}; rows ${values.join(",")}; ` +
              `replica write attempts ${JSON.stringify(delta(after, before))}`
          )
          expect(values).toEqual(
            [`${prefix}-insert-select`, `${prefix}-updated`, ...(b.name === "postgres" ? [`${prefix}-cte`] : [])].sort()
          )
          const verdict = History.noWriteOnReplica(History.make(), {
            replicas: b.nodes.replicas.map((r) => r.name),
            routeStats: stats,
            replicaWriteAttempts: delta(after, before)
          })
          expect(verdict.violations.map((v) => v.message)).toEqual([])
          for (const r of b.nodes.replicas) expect(stats.byNode[r.name] ?? 0).toBe(0)
          yield* Effect.promise(() => waitReplicated(b.nodes))
          yield* expectSessionsBack(b, baseline)
        }),
      60_000
    )
  })
}
