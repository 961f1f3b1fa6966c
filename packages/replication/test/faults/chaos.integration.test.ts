/**
 * The short chaos soak (issue 6) on the shared test clusters, PostgreSQL and MariaDB: random faults every 1-2 s on
 * random nodes under a mixed workload through `FastOrm.layer`, then the History checker; every verdict must be clean.
 * The long soak is `npm run chaos` (fresh clusters, `CHAOS_MINUTES`, default 5).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { runChaos, table } from "./chaos.js"
import { backends } from "./support.js"

const SECONDS = Number(process.env.CHAOS_TEST_SECONDS ?? 30)

for (const b of backends) {
  describe(`chaos on ${b.name}`, () => {
    it.scopedLive(
      `${SECONDS} s of random faults under a mixed load: every checker verdict clean`,
      () =>
        Effect.gen(function*() {
          const seed = process.env.CHAOS_SEED === undefined ? undefined : Number(process.env.CHAOS_SEED)
          const result = yield* runChaos(b, {
            durationMs: SECONDS * 1_000,
            gapMs: [500, 1_500],
            holdMs: [700, 2_000],
            seed,
            log: (line) => console.log(`[chaos] ${line}`)
          })
          console.log(`[chaos ${b.name}]\n${table([result])}`)
          expect(result.faults.length).toBeGreaterThanOrEqual(SECONDS / 5)
          expect(result.summary.total).toBeGreaterThan(100)
          expect(result.verdicts.filter((v) => !v.valid).map((v) => v.check)).toEqual([])
        }),
      (SECONDS + 90) * 1_000
    )
  })
}
