/**
 * Pool exhausted versus server down: two different typed errors, both within the acquire deadline.
 */
import { describe, expect, it } from "@effect/vitest"
import { Database, WriteConnection } from "@fastorm/core"
import { FaultProxy, LOADED_MACHINE_SLACK_MS, waitUntil } from "@fastorm/test-support"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { RouterError } from "../../src/index.js"
import {
  backends,
  CONNECT_TIMEOUT_MS,
  ensureTable,
  expectProxyDrained,
  expectSessionsBack,
  KV_TABLE,
  ormLayer,
  sessionBaseline
} from "./support.js"

for (const b of backends) {
  describe(`pool on ${b.name}`, () => {
    it.scopedLive(
      "pool exhausted and server down fail with two different typed errors within the acquire deadline",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          const baseline = yield* Effect.promise(() => sessionBaseline(b))
          const proxy = yield* FaultProxy.forNode(b.nodes.primary)
          const timed = <A, E, R>(e: Effect.Effect<A, E, R>) =>
            Effect.gen(function*() {
              const t0 = performance.now()
              const exit = yield* Effect.exit(RouterError.refine(e))
              const ms = Math.round(performance.now() - t0)
              const tag = Exit.isSuccess(exit)
                ? "success"
                : Option.match(Cause.failureOption(exit.cause), {
                  onNone: () => `defect: ${String(Cause.squash(exit.cause))}`,
                  onSome: (e) =>
                    `${String((e as { _tag?: unknown })._tag)}${
                      process.env.FAULTS_DEBUG
                        ? ` <- ${String((e as any).cause?.cause?.cause ?? (e as any).cause?.cause)}`
                        : ""
                    }`
                })
              return { ms, tag }
            })
          const insert = Effect.flatMap(
            WriteConnection,
            (w) =>
              w.unsafe(`INSERT INTO ${KV_TABLE} (k, v) VALUES (${b.p(1)}, ${b.p(2)})`, ["pool", `pool-${Date.now()}`])
          )
          const [exhausted, down] = yield* Effect.gen(function*() {
            const release = yield* Deferred.make<void>()
            let holding = 0
            const hold = Database.transaction(
              Effect.flatMap(WriteConnection, (w) => w.unsafe("SELECT 1 AS one")).pipe(
                Effect.zipRight(Effect.sync(() => holding++)),
                Effect.zipRight(Deferred.await(release))
              )
            )
            const holders = yield* Effect.fork(Effect.all([hold, hold], { concurrency: "unbounded" }))
            yield* waitUntil(Effect.sync(() => holding === 2), (ok) => ok, {
              what: "both pooled connections to be held",
              timeoutMs: 5_000
            })
            const exhausted = yield* timed(insert)
            yield* Deferred.succeed(release, undefined)
            yield* Fiber.join(holders)
            yield* proxy.setMode(FaultProxy.reset)
            yield* proxy.setMode(FaultProxy.refuse("close"))
            const down = yield* timed(insert)
            const down2 = yield* timed(insert)
            console.log(`[pool ${b.name}] second write with the server down: ${down2.tag} in ${down2.ms} ms`)
            yield* proxy.setMode(FaultProxy.pass)
            return [exhausted, down] as const
          }).pipe(
            Effect.provide(ormLayer(b, { write: proxy.url(b.nodes.primary), pool: { poolSize: 1, maxOverflow: 1 } }))
          )
          console.log(
            `[pool ${b.name}] exhausted: ${exhausted.tag} in ${exhausted.ms} ms; server down: ${down.tag} in ${down.ms} ms`
          )
          expect(down.tag).toBe("PrimaryUnavailable")
          expect(exhausted.tag).toBe("PoolExhausted")
          // Both end at the acquire deadline (connectTimeout) at the latest, plus a loaded machine's slack; an exhausted
          // pool would otherwise wait for its holders forever.
          expect(exhausted.ms).toBeLessThanOrEqual(CONNECT_TIMEOUT_MS + LOADED_MACHINE_SLACK_MS)
          expect(down.ms).toBeLessThanOrEqual(CONNECT_TIMEOUT_MS + LOADED_MACHINE_SLACK_MS)
          yield* expectSessionsBack(b, baseline)
          yield* expectProxyDrained(proxy)
        }),
      60_000
    )
  })
}
