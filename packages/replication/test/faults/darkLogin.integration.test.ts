/**
 * A replica whose new connections go dark right after their login, on PostgreSQL and MariaDB: the connection's first
 * statement (PostgreSQL's check of its server process, MariaDB's session settings) gets no answer. The connect's bound
 * ends it as a fault of the node, so the read runs elsewhere instead of failing (ARCHITECTURE.md, "Errors"). Figures are
 * printed with the `[dark-login]` prefix.
 */
import { describe, expect, it } from "@effect/vitest"
import { FaultProxy, LOADED_MACHINE_SLACK_MS } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Backend } from "./support.js"
import { backends, CONNECT_TIMEOUT_MS, ensureTable, ormLayer, readKv, runId } from "./support.js"

/**
 * The client chunks of a login: PostgreSQL's app user logs in with SCRAM (startup packet, SASL initial response, SASL
 * response); MariaDB's handshake response is one.
 */
const loginChunks = (b: Backend) => b.name === "postgres" ? 3 : 1

for (const b of backends) {
  describe(`a replica dark after the login on ${b.name}`, () => {
    it.scopedLive(
      "a read whose new connection gets no answer to its first statement runs on another node, within its bound",
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => ensureTable(b))
          const proxies = yield* Effect.forEach(b.nodes.replicas, (r) => FaultProxy.forNode(r))
          // Before any connection is opened: every new one logs in, then nothing passes either way.
          yield* Effect.forEach(proxies, (p) => p.setMode(FaultProxy.blackholeAfter(loginChunks(b))))
          const started = performance.now()
          // When the read ended, inside the layer: the rest is the layer's close.
          let readMs = Number.NaN
          const read = yield* Effect.either(readKv(b, runId("dark"))).pipe(
            Effect.ensuring(Effect.sync(() => readMs = Math.round(performance.now() - started))),
            Effect.provide(ormLayer(b, { read: proxies.map((p, i) => p.url(b.nodes.replicas[i]!)) }))
          )
          const tookMs = Math.round(performance.now() - started)
          const dropped = yield* Effect.forEach(proxies, (p) => Effect.map(p.stats, (s) => s.dropped.toServer))
          console.log(
            `[dark-login ${b.name}] ${
              Either.isRight(read) ? `served by ${read.right.node}` : `failed: ${String(read.left)}`
            } in ${tookMs} ms (start and read ${readMs} ms, the layer's close ${
              tookMs - readMs
            }); bytes lost per replica ${dropped.join(", ")}`
          )
          // A replica was tried (a statement after its login was lost), and the primary served the read.
          expect(dropped.some((n) => n > 0)).toBe(true)
          expect(Either.getOrThrow(Either.map(read, (r) => r.node))).toBe(b.nodes.primary.name)
          // Each replica at most its connect's bound, then the primary.
          expect(tookMs).toBeLessThan(2 * CONNECT_TIMEOUT_MS + LOADED_MACHINE_SLACK_MS)
          // The close does not wait for a replica's connection that never got set up (forced, it would take 2 s).
          expect(tookMs - readMs).toBeLessThan(LOADED_MACHINE_SLACK_MS)
        }),
      30_000
    )
  })
}
