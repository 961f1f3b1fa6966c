/**
 * Every routed statement is one `sql.execute` span carrying its route; a template statement's retry or fallback is a
 * child span of it (README, "Tracing"). The OpenTelemetry SDK's own test is in the HTTP package.
 */
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import { recordingTracer } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import { FastOrmTest } from "../src/index.js"

const seed = Effect.gen(function*() {
  const write = yield* WriteConnection
  yield* write`CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL)`
  yield* write`INSERT INTO items (label) VALUES ('a')`
  yield* FastOrmTest.clear
})

const readOne = Effect.flatMap(ReadConnection, (sql) => sql`SELECT label FROM items WHERE id = ${1}`)

const parentOf = (span: Tracer.Span) => Option.getOrUndefined(span.parent)

describe("spans of template statements", () => {
  it.effect("one sql.execute span per statement, carrying node, reason, cluster and the database system", () =>
    Effect.gen(function*() {
      yield* seed
      const { spans, tracer } = recordingTracer()
      yield* readOne.pipe(Effect.withSpan("request"), Effect.withTracer(tracer))
      expect(spans.map((s) => s.name)).toEqual(["request", "sql.execute"])
      const [request, execute] = spans as [Tracer.Span, Tracer.Span]
      expect(parentOf(execute)).toBe(request)
      expect(Object.fromEntries(execute.attributes)).toMatchObject({
        "fastorm.node": "replica-1",
        "fastorm.reason": "ordinary",
        "fastorm.cluster": "test",
        "db.system.name": "sqlite"
      })
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("a retry and a fallback are child spans of the statement's span", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.fail("replica-1", "connection")
      yield* FastOrmTest.fail("replica-2", "reset")
      const { spans, tracer } = recordingTracer()
      yield* readOne.pipe(Effect.withSpan("request"), Effect.withTracer(tracer))
      expect(spans.map((s) => s.name)).toEqual(["request", "sql.execute", "fastorm.route", "fastorm.route"])
      const [, execute, retry, fallback] = spans as [Tracer.Span, Tracer.Span, Tracer.Span, Tracer.Span]
      expect(execute.attributes.get("fastorm.reason")).toBe("ordinary")
      expect([parentOf(retry), retry.attributes.get("fastorm.node"), retry.attributes.get("fastorm.reason")])
        .toEqual([execute, "replica-2", "retry"])
      expect([parentOf(fallback), fallback.attributes.get("fastorm.node"), fallback.attributes.get("fastorm.reason")])
        .toEqual([execute, "primary", "fallback"])
      expect(retry.status._tag === "Ended" && retry.status.exit._tag).toBe("Failure")
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("a later statement never takes an earlier statement's span", () =>
    Effect.gen(function*() {
      yield* seed
      const { spans, tracer } = recordingTracer()
      yield* Effect.all([readOne, readOne]).pipe(Effect.withSpan("request"), Effect.withTracer(tracer))
      const executes = spans.filter((s) => s.name === "sql.execute")
      expect(executes).toHaveLength(2)
      expect(executes.map((s) => s.attributes.get("fastorm.node"))).toEqual(["replica-1", "replica-2"])
      expect(spans.filter((s) => s.name === "fastorm.route")).toEqual([])
    }).pipe(Effect.provide(FastOrmTest.layer())))
})
