/**
 * The router's recorder counts and times each attempt exactly once, whether the caller hands it the running fiber
 * (counted when the attempt is built, no runtime step) or not (counted when it runs), and under a tracer always when
 * it runs, inside the span set around it (ARCHITECTURE.md, "The path of one statement").
 */
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement } from "@fastorm/core"
import { recordingTracer } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Metrics from "../src/internal/metrics.js"
import * as RouteStats from "../src/internal/routeStats.js"

/** Observations of the node's `fastorm_statement_duration_ms` histogram so far (process-wide: compare before/after). */
const durations = (node: string) => Effect.map(Metric.value(Metrics.statementDuration(node)), (state) => state.count)

const currentFiber = Effect.withFiberRuntime<Parameters<RouteStats.Recorder["begin"]>[0]>((fiber) =>
  Effect.succeed(fiber)
)

describe("counting and timing an attempt", () => {
  it.effect("given the fiber and no tracer: counted when built, timed once when it ends, failed or not", () =>
    Effect.gen(function*() {
      const recorder = RouteStats.make("c")
      const fiber = yield* currentFiber
      const before = yield* durations("given-node")
      const ok = recorder.traced("given-node", "ordinary", Effect.succeed(1), fiber)
      expect((yield* recorder.stats).byNodeAndReason).toEqual({ "given-node|ordinary": 1 })
      expect(yield* ok).toBe(1)
      const failed = recorder.traced("given-node", "retry", Effect.fail("boom"), fiber)
      expect(yield* Effect.exit(failed)).toEqual(Exit.fail("boom"))
      expect((yield* recorder.stats).byNodeAndReason).toEqual({ "given-node|ordinary": 1, "given-node|retry": 1 })
      expect((yield* durations("given-node")) - before).toBe(2)
    }))

  it.effect("without the fiber: counted and timed when it runs, not when built", () =>
    Effect.gen(function*() {
      const recorder = RouteStats.make("c")
      const before = yield* durations("lazy-node")
      const attempt = recorder.traced("lazy-node", "ordinary", Effect.succeed(1))
      expect((yield* recorder.stats).byNode).toEqual({})
      yield* attempt
      yield* attempt
      expect((yield* recorder.stats).byNode).toEqual({ "lazy-node": 2 })
      expect((yield* durations("lazy-node")) - before).toBe(2)
    }))

  it.effect("begin counts now and records one duration per call of what it returns", () =>
    Effect.gen(function*() {
      const recorder = RouteStats.make("c")
      const fiber = yield* currentFiber
      const before = yield* durations("begun-node")
      const done = recorder.begin(fiber, "begun-node", "write")
      expect((yield* recorder.stats).byReason).toEqual({ write: 1 })
      expect((yield* durations("begun-node")) - before).toBe(0)
      done()
      expect((yield* durations("begun-node")) - before).toBe(1)
    }))

  it.effect("under a tracer, given the fiber: still counted when it runs, inside the span set around it", () =>
    Effect.gen(function*() {
      const recorder = RouteStats.make("c")
      const { spans, tracer } = recordingTracer()
      const outcome = yield* Effect.gen(function*() {
        const fiber = yield* currentFiber
        expect(CompiledStatement.isTracing(fiber)).toBe(true)
        const attempt = recorder.traced("traced-node", "ordinary", Effect.succeed(1), fiber)
        expect((yield* recorder.stats).byNode).toEqual({})
        return yield* Effect.withSpan(attempt, "sql.execute")
      }).pipe(Effect.withTracer(tracer))
      expect(outcome).toBe(1)
      expect((yield* recorder.stats).byNode).toEqual({ "traced-node": 1 })
      // The route went on the span around the attempt, not on a span of its own.
      expect(spans.map((s) => s.name)).toEqual(["sql.execute"])
      expect(Object.fromEntries(spans[0]!.attributes)).toMatchObject({
        "fastorm.node": "traced-node",
        "fastorm.reason": "ordinary"
      })
    }))
})
