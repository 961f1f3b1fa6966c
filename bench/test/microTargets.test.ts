/**
 * Every target of the micro benchmark (`npm run bench:micro`) runs over its fake driver: a change to a service the
 * router needs (a monitor method it starts calling) must show here, not the next time someone measures.
 */
import { describe, expect, it } from "@effect/vitest"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { runRound, targets } from "../src/microTargets.js"

describe("micro benchmark targets", () => {
  for (const [name, target] of Object.entries(targets)) {
    it(`${name}: a round of operations runs and reports its CPU per operation`, async () => {
      const runtime = ManagedRuntime.make(target.layer as Layer.Layer<any>)
      try {
        const cpuUs = await runRound(runtime, target.op, 5)
        expect(Number.isFinite(cpuUs)).toBe(true)
        expect(cpuUs).toBeGreaterThan(0)
      } finally {
        await runtime.dispose()
      }
    })
  }
})
