/**
 * A node's URL may set its own bounds (libpq's `statement_timeout`); `FastOrm.layer` gives every other node the
 * router's, so the most specific setting wins and nothing the URL says is dropped.
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import { loadCluster } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import { FastOrm } from "../src/index.js"

const cluster = loadCluster()

const show = (sql: { unsafe: (s: string) => Effect.Effect<ReadonlyArray<any>, any> }) =>
  Effect.map(sql.unsafe("SHOW statement_timeout"), (rows) => String(Object.values(rows[0] as object)[0]))

describe("FastOrm.layer and a node URL's own bounds", () => {
  it.scopedLive("the write URL's statement_timeout holds on the primary; the replicas get readWrite's", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        expect(yield* show(yield* WriteConnection)).toBe("2500ms")
        expect(yield* show(yield* ReadConnection)).toBe("7s")
      })
      yield* Effect.scoped(Effect.provide(
        program,
        FastOrm.layer({
          name: `url-bounds-${process.pid}`,
          write: { url: `${cluster.postgres.primary.url}?statement_timeout=2500`, name: "primary" },
          read: cluster.postgres.replicas.map((r, i) => ({ url: r.url, name: `replica-${i + 1}` })),
          readWrite: { statementTimeout: "7 seconds" },
          pool: { poolSize: 1, maxOverflow: 1 }
        })
      ))
    }))
})
