/**
 * Replica selection strategies on the real clusters: the distribution of ordinary reads each one gives, read from the
 * servers' own answers (the port of the node that ran each read).
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection } from "@fastorm/core"
import { DelayProxy, waitUntil } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import type { Backend } from "./support/cluster.js"
import { backends, countBy, fastOrm, report, startLoad, warmUp, whoMany } from "./support/cluster.js"

// The exact distributions below are the strategies' own only while both replicas stay eligible: a monitor that
// tolerates a loaded machine's slow probes (CI once saw 178 of 2 000 reads on the primary with the fault tests'
// 500 ms probe timeout, both replicas briefly UNHEALTHY).
const calm = { interval: "200 millis", timeout: "3 seconds", failureThreshold: 3 } as const

const share = (names: ReadonlyArray<string | undefined>, name: string) =>
  names.filter((n) => n === name).length / names.length

/** The cluster's first replica behind a proxy that delays every chunk by `delayMs` in each direction. */
const slowFirstReplica = (b: Backend, delayMs: number) =>
  Effect.gen(function*() {
    const [slow, fast] = b.nodes.replicas as [typeof b.nodes.replicas[0], typeof b.nodes.replicas[0]]
    const proxy = yield* Effect.acquireRelease(
      Effect.promise(() => DelayProxy.start({ host: slow!.host, port: slow!.port })),
      (p) => Effect.promise(() => p.close())
    )
    proxy.setDelay(delayMs)
    const url = slow!.url.replace(`:${slow!.port}/`, `:${proxy.port}/`)
    if (url === slow!.url) throw new Error("could not point the replica URL at the proxy")
    return { slow: slow!, fast: fast!, replicas: [{ url, name: slow!.name }, { url: fast!.url, name: fast!.name }] }
  })

for (const b of backends()) {
  const [r1, r2] = [b.nodes.replicas[0]!, b.nodes.replicas[1]!]

  describe(`strategies on ${b.name}`, () => {
    it.scopedLive("roundRobin alternates exactly", () =>
      Effect.gen(function*() {
        const read = yield* ReadConnection
        yield* warmUp(b, read)
        const names = yield* whoMany(b, read, 200)
        const repeats = names.filter((n, i) => i > 0 && n === names[i - 1]).length
        yield* report(`${b.name} roundRobin`, { reads: names.length, by: countBy(names), repeats })
        expect(repeats).toBe(0)
        expect(countBy(names)).toEqual({ [r1.name]: 100, [r2.name]: 100 })
      }).pipe(Effect.provide(fastOrm(b, { strategy: "roundRobin" }, undefined, calm))))

    it.scopedLive("weighted 3:1 gives 3:1 within 10% over 2000 reads", () =>
      Effect.gen(function*() {
        const read = yield* ReadConnection
        yield* warmUp(b, read)
        const names = yield* whoMany(b, read, 2000)
        const by = countBy(names)
        const ratio = (by[r1.name] ?? 0) / (by[r2.name] ?? 1)
        yield* report(`${b.name} weighted 3:1`, { reads: names.length, by, ratio })
        expect(by[b.nodes.primary.name] ?? 0).toBe(0)
        expect(ratio).toBeGreaterThanOrEqual(2.7)
        expect(ratio).toBeLessThanOrEqual(3.3)
      }).pipe(Effect.provide(fastOrm(b, { strategy: "weighted" }, [
        { url: r1.url, name: r1.name, weight: 3 },
        { url: r2.url, name: r2.name, weight: 1 }
      ], calm))), 60_000)

    it.scopedLive(
      "random is roughly uniform (each replica 45-55% of 2000 reads) and not a rotation",
      () =>
        Effect.gen(function*() {
          const read = yield* ReadConnection
          yield* warmUp(b, read)
          const names = yield* whoMany(b, read, 2000)
          const repeats = names.filter((n, i) => i > 0 && n === names[i - 1]).length
          yield* report(`${b.name} random`, { reads: names.length, by: countBy(names), repeats })
          expect(share(names, r1.name)).toBeGreaterThanOrEqual(0.45)
          expect(share(names, r2.name)).toBeGreaterThanOrEqual(0.45)
          // A fair coin repeats about half the time; a rotation never does.
          expect(repeats).toBeGreaterThan(800)
          expect(repeats).toBeLessThan(1200)
        }).pipe(Effect.provide(fastOrm(b, { strategy: "random" }, undefined, calm))),
      60_000
    )

    it.scopedLive(
      "leastOutstanding sends most of a concurrent load to the less busy replica",
      () =>
        Effect.gen(function*() {
          const { fast, replicas, slow } = yield* slowFirstReplica(b, 20)
          yield* Effect.gen(function*() {
            const read = yield* ReadConnection
            yield* warmUp(b, read)
            const load = yield* startLoad(b, read, 10)
            yield* Effect.sleep("1500 millis")
            yield* load.stop
            const names = load.samples.map((s) => s.node)
            const figures = {
              reads: names.length,
              by: countBy(names),
              fastShare: share(names, fast.name),
              failed: load.samples.filter((s) => s.error !== undefined).length
            }
            yield* report(`${b.name} leastOutstanding (${slow.name} +40 ms round trip)`, figures)
            expect(figures.failed).toBe(0)
            // Round robin would give each 50%; the slow replica holds its reads longer, so it is busier.
            expect(figures.fastShare).toBeGreaterThanOrEqual(0.8)
            expect(figures.by[slow.name] ?? 0).toBeGreaterThan(0)
          }).pipe(Effect.scoped, Effect.provide(fastOrm(b, { strategy: "leastOutstanding" }, replicas)))
        }),
      60_000
    )

    it.scopedLive(
      "leastLatency sends the reads to the faster replica once the probes measured both",
      () =>
        Effect.gen(function*() {
          const { fast, replicas, slow } = yield* slowFirstReplica(b, 15)
          yield* Effect.gen(function*() {
            const read = yield* ReadConnection
            // Until both are measured the strategy has nothing to prefer: wait for 20 reads in a row on the fast one.
            const settledMs = yield* waitUntil(
              whoMany(b, read, 20),
              (names) => names.every((n) => n === fast.name),
              { what: "20 reads in a row on the faster replica", timeoutMs: 10_000 }
            )
            const names = yield* whoMany(b, read, 300)
            const figures = { settledMs, reads: names.length, by: countBy(names), fastShare: share(names, fast.name) }
            yield* report(`${b.name} leastLatency (${slow.name} +30 ms round trip)`, figures)
            expect(figures.fastShare).toBeGreaterThanOrEqual(0.95)
          }).pipe(Effect.provide(fastOrm(b, { strategy: "leastLatency" }, replicas)))
        }),
      60_000
    )
  })
}
