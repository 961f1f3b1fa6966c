/**
 * Probe timing for the integration tests (admin queries, controls and bounded polling come from test-support).
 */
import * as Effect from "effect/Effect"
import type { ProbeFactory } from "../../src/Probe.js"
import * as Probe from "../../src/Probe.js"

/** The default probe, wrapped to record how long every run took (to its answer, failure or interruption). */
export const timedProbe = (): { readonly factory: ProbeFactory; readonly durations: Map<string, Array<number>> } => {
  const durations = new Map<string, Array<number>>()
  const factory: ProbeFactory = (node, settings) =>
    Effect.map(Probe.fromAdapter(node, settings), (probe) => ({
      run: Effect.suspend(() => {
        const start = performance.now()
        return probe.run.pipe(Effect.ensuring(Effect.sync(() => {
          const list = durations.get(node.name) ?? []
          list.push(performance.now() - start)
          durations.set(node.name, list)
        })))
      })
    }))
  return { factory, durations }
}
