/**
 * The `sql.execute` span of a template statement. @effect/sql opens it with `Effect.useSpan`, which does not make it
 * the current span, so without this the router's attributes and its retry spans would land beside the statement's
 * span instead of on it. `FastOrm.layer` installs an observing statement transformer (it returns every statement
 * unchanged: @effect/sql hands transformers the statement's span) that leaves the span in a FiberRef; the router
 * takes it from there when the statement reaches it (README, "Tracing").
 */
import * as Statement from "@effect/sql/Statement"
import { CompiledStatement } from "@fastorm/core"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"

const captured = FiberRef.unsafeMake<Tracer.Span | undefined>(undefined)

const observe: Statement.Statement.Transformer = Object.assign(
  (self: Statement.Statement<unknown>, _sql: unknown, _refs: unknown, span: Tracer.Span) =>
    Effect.as(FiberRef.set(captured, span), self),
  { [CompiledStatement.ObservingTransformer]: true }
) as Statement.Statement.Transformer

/** Installs the capture for the layer's users, unless the application has a transformer of its own (it stays). */
export const layer: Layer.Layer<never> = Layer.scopedDiscard(
  Effect.flatMap(
    FiberRef.get(Statement.currentTransformer),
    (current) =>
      current._tag === "Some" && current.value !== observe
        ? Effect.void
        : Effect.locallyScoped(Statement.currentTransformer, Option.some(observe))
  )
)

/**
 * Runs `effect` under the span of the template statement the fiber is running, taking it (a later statement of the
 * fiber never sees it); as it is when the statement has none, or the span found is not a running `sql.execute` (a
 * statement of another client left it behind).
 */
export const under = <A, E, R>(fiber: Fiber.RuntimeFiber<any, any>, effect: Effect.Effect<A, E, R>) => {
  const span = fiber.getFiberRef(captured)
  if (span === undefined) return effect
  const cleared = Effect.zipRight(FiberRef.set(captured, undefined), effect)
  return span.status._tag === "Started" && span.name === "sql.execute" ? Effect.withParentSpan(cleared, span) : cleared
}
