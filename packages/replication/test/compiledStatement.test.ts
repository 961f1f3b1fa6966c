/**
 * Repositories' compiled statements on the router's direct runners (no @effect/sql Statement): routed like any other
 * statement, on the transaction's connection inside a transaction, retried on another replica after a connection
 * failure, and traced when a tracer listens: the statement's `sql.execute` span carries the route, a retry has a
 * `fastorm.route` span of its own; a query's stream through the router's stream runner, placed the same way. Driven
 * through `FastOrmTest.layer`.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Statement from "@effect/sql/Statement"
import { describe, expect, it } from "@effect/vitest"
import {
  CompiledStatement,
  CompiledStream,
  Database,
  Model,
  ReadConnection,
  Repository,
  WriteConnection
} from "@fastorm/core"
import { recordingTracer } from "@fastorm/test-support"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import { ConnectionRouter, FastOrmTest } from "../src/index.js"

class Item extends Model.Class<Item>("Item")({
  id: Model.Generated(Schema.Int),
  label: Schema.String,
  status: Schema.String
}) {}

const Items = Repository.make(Item, { table: "items", idColumn: "id" })
const findSql = "SELECT * FROM \"items\" WHERE \"id\" = ? LIMIT 1"

/** Creates the table and two rows on the primary, then forgets those statements. */
const seed = Effect.gen(function*() {
  const write = yield* WriteConnection
  yield* write`CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, status TEXT NOT NULL)`
  yield* Items.create({ label: "a", status: "active" })
  yield* Items.create({ label: "b", status: "idle" })
  yield* FastOrmTest.clear
})

const routed = (log: ReadonlyArray<FastOrmTest.RoutedStatement>) => log.map((s) => `${s.node}:${s.reason}:${s.outcome}`)

interface Calls {
  /** Compiled statements run through the clients' direct runners. */
  readonly direct: Array<string>
  /** Statements built through `client.unsafe`. */
  readonly unsafe: Array<string>
}

/** The client with its runner and `unsafe` watched; everything else is the router's own client. */
const watch = (client: SqlClient.SqlClient, calls: Calls): SqlClient.SqlClient => {
  const runner = CompiledStatement.runnerOf(client)
  return new Proxy(client, {
    get: (target, property) => {
      if (property === CompiledStatement.RunnerTypeId && runner !== undefined) {
        return ((statement, params) => {
          calls.direct.push(statement.sql)
          return runner(statement, params)
        }) satisfies CompiledStatement.Run
      }
      if (property === "unsafe") {
        return (sql: string, params?: ReadonlyArray<unknown>) => {
          calls.unsafe.push(sql)
          return target.unsafe(sql, params)
        }
      }
      return Reflect.get(target, property)
    }
  })
}

/** Runs `effect` with the router's clients watched (see `watch`). */
const watched = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const calls: Calls = { direct: [], unsafe: [] }
    const read = yield* ReadConnection
    const write = yield* WriteConnection
    expect(CompiledStatement.runnerOf(read)).toBeTypeOf("function")
    expect(CompiledStatement.runnerOf(write)).toBeTypeOf("function")
    const result = yield* effect.pipe(
      Effect.provideService(ReadConnection, watch(read, calls)),
      Effect.provideService(WriteConnection, watch(write, calls))
    )
    return { result, calls }
  })

const labelOf = (found: Option.Option<Item>) => Option.map(found, (i) => i.label)

describe("Repository.find through the router's direct runners", () => {
  it.effect("an ordinary find runs on the replicas in turn, reason ordinary", () =>
    Effect.gen(function*() {
      yield* seed
      const { calls, result } = yield* watched(Effect.all([Items.find(1), Items.find(2), Items.find(1)]))
      expect(result.map(labelOf)).toEqual([Option.some("a"), Option.some("b"), Option.some("a")])
      expect(calls).toEqual({ direct: [findSql, findSql, findSql], unsafe: [] })
      const log = yield* FastOrmTest.statements
      expect(routed(log)).toEqual(["replica-1:ordinary:ok", "replica-2:ordinary:ok", "replica-1:ordinary:ok"])
      expect(log.map((s) => [s.role, s.sql, s.params])).toEqual([
        ["replica", findSql, [1]],
        ["replica", findSql, [2]],
        ["replica", findSql, [1]]
      ])
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("with { forceWrite: true } it runs on the primary, reason forceWrite", () =>
    Effect.gen(function*() {
      yield* seed
      const { calls, result } = yield* watched(Items.find(2, { forceWrite: true }))
      expect(labelOf(result)).toEqual(Option.some("b"))
      expect(calls).toEqual({ direct: [findSql], unsafe: [] })
      expect(routed(yield* FastOrmTest.statements)).toEqual(["primary:forceWrite:ok"])
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("inside Database.transaction it runs on the transaction's connection and sees its writes", () =>
    Effect.gen(function*() {
      yield* seed
      const { calls, result } = yield* watched(Database.transaction(Effect.gen(function*() {
        const write = yield* WriteConnection
        yield* write`UPDATE items SET label = 'changed' WHERE id = 2`
        const own = yield* Items.find(2)
        const forced = yield* Items.find(1, { forceWrite: true })
        return { own, forced }
      })))
      expect(labelOf(result.own)).toEqual(Option.some("changed"))
      expect(labelOf(result.forced)).toEqual(Option.some("a"))
      expect(calls.direct).toEqual([findSql, findSql])
      const log = yield* FastOrmTest.statements
      expect(routed(log)).toEqual([
        "primary:transaction:ok",
        "primary:transaction:ok",
        "primary:transaction:ok",
        "primary:transaction:ok",
        "primary:transaction:ok"
      ])
      expect(log.map((s) => s.sql?.split(" ")[0])).toEqual(["BEGIN", "UPDATE", "SELECT", "SELECT", "COMMIT"])
      expect(new Set(log.map((s) => s.connection)).size).toBe(1)
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("when replica-1 refuses connections the find is retried on replica-2", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.fail("replica-1", "connection")
      const { calls, result } = yield* watched(Items.find(1))
      expect(labelOf(result)).toEqual(Option.some("a"))
      expect(calls).toEqual({ direct: [findSql], unsafe: [] })
      const log = yield* FastOrmTest.statements
      expect(routed(log)).toEqual(["replica-1:ordinary:failed", "replica-2:retry:ok"])
      expect(log[0]!.error).toBe("ECONNREFUSED")
      expect(log[1]!.sql).toBe(findSql)
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("when both replicas fail the find falls back to the primary", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.fail("replica-1", "connection")
      yield* FastOrmTest.fail("replica-2", "reset")
      const { calls, result } = yield* watched(Items.find(2))
      expect(labelOf(result)).toEqual(Option.some("b"))
      expect(calls.direct).toEqual([findSql])
      expect(routed(yield* FastOrmTest.statements)).toEqual([
        "replica-1:ordinary:failed",
        "replica-2:retry:failed",
        "primary:fallback:ok"
      ])
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("under a statement transformer it takes the ordinary path (the transformer applies), still routed", () =>
    Effect.gen(function*() {
      yield* seed
      const seen: Array<string> = []
      const found = yield* Items.find(1).pipe(
        Statement.withTransformer((self) => {
          seen.push(self.compile()[0])
          return Effect.succeed(self)
        })
      )
      expect(labelOf(found)).toEqual(Option.some("a"))
      expect(seen).toEqual([findSql])
      expect(routed(yield* FastOrmTest.statements)).toEqual(["replica-1:ordinary:ok"])
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("with a tracer listening, a find opens one sql.execute span that carries its route", () =>
    Effect.gen(function*() {
      yield* seed
      const { spans, tracer } = recordingTracer()
      const found = yield* Items.find(2).pipe(Effect.withSpan("request"), Effect.withTracer(tracer))
      expect(labelOf(found)).toEqual(Option.some("b"))
      expect(spans.map((s) => s.name)).toEqual(["request", "sql.execute"])
      const [request, execute] = spans as [Tracer.Span, Tracer.Span]
      expect(Option.getOrUndefined(execute.parent)).toBe(request)
      expect(execute.kind).toBe("client")
      expect(execute.status._tag).toBe("Ended")
      expect(Object.fromEntries(execute.attributes)).toEqual({
        "db.operation.name": "execute",
        "db.query.text": findSql,
        "db.system.name": "sqlite",
        "fastorm.cluster": "test",
        "fastorm.node": "replica-1",
        "fastorm.reason": "ordinary"
      })
      expect(routed(yield* FastOrmTest.statements)).toEqual(["replica-1:ordinary:ok"])
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("a forced find's span says primary / forceWrite", () =>
    Effect.gen(function*() {
      yield* seed
      const { spans, tracer } = recordingTracer()
      yield* Items.find(1, { forceWrite: true }).pipe(Effect.withTracer(tracer))
      expect(spans.map((s) => [s.name, s.attributes.get("fastorm.node"), s.attributes.get("fastorm.reason")])).toEqual([
        ["sql.execute", "primary", "forceWrite"]
      ])
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("a retried find: the retry gets a fastorm.route span of its own under sql.execute", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.fail("replica-1", "connection")
      const { spans, tracer } = recordingTracer()
      const found = yield* Items.find(1).pipe(Effect.withTracer(tracer))
      expect(labelOf(found)).toEqual(Option.some("a"))
      expect(spans.map((s) => s.name)).toEqual(["sql.execute", "fastorm.route"])
      const [execute, route] = spans as [Tracer.Span, Tracer.Span]
      expect(Option.getOrUndefined(route.parent)).toBe(execute)
      expect(route.kind).toBe("internal")
      expect(route.attributes.get("fastorm.reason")).toBe("retry")
      expect(route.attributes.get("fastorm.node")).toBe("replica-2")
      expect(route.attributes.get("fastorm.cluster")).toBe("test")
      expect(route.status._tag === "Ended" && route.status.exit._tag).toBe("Success")
      expect(execute.status._tag === "Ended" && execute.status.exit._tag).toBe("Success")
      // The statement's span keeps the first, failed attempt: the trace shows both.
      expect(execute.attributes.get("fastorm.node")).toBe("replica-1")
      expect(execute.attributes.get("fastorm.reason")).toBe("ordinary")
      expect(routed(yield* FastOrmTest.statements)).toEqual(["replica-1:ordinary:failed", "replica-2:retry:ok"])
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("a find that fails on both replicas: each attempt after the first, the fallback too, has its own span", () =>
    Effect.gen(function*() {
      yield* seed
      yield* FastOrmTest.fail("replica-1", "connection")
      yield* FastOrmTest.fail("replica-2", "reset")
      const { spans, tracer } = recordingTracer()
      const found = yield* Items.find(1).pipe(Effect.withTracer(tracer))
      expect(labelOf(found)).toEqual(Option.some("a"))
      expect(spans.map((s) => [s.name, s.attributes.get("fastorm.node"), s.attributes.get("fastorm.reason")])).toEqual([
        ["sql.execute", "replica-1", "ordinary"],
        ["fastorm.route", "replica-2", "retry"],
        ["fastorm.route", "primary", "fallback"]
      ])
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("with tracing disabled no span is opened, and the route is still counted", () =>
    Effect.gen(function*() {
      yield* seed
      const router = yield* ConnectionRouter.ConnectionRouter
      const { spans, tracer } = recordingTracer()
      const found = yield* Items.find(2).pipe(Effect.withTracerEnabled(false), Effect.withTracer(tracer))
      expect(labelOf(found)).toEqual(Option.some("b"))
      expect(spans).toEqual([])
      expect((yield* router.stats).byNodeAndReason).toEqual({ "replica-1|ordinary": 1 })
      expect((yield* FastOrmTest.statements).map((s) => [s.node, s.sql])).toEqual([["replica-1", findSql]])
    }).pipe(Effect.provide(FastOrmTest.layer())))
})

/** The client with its stream runner and `unsafe` watched: the SQL of each stream and of each built statement. */
const watchStreams = (client: SqlClient.SqlClient, streams: Array<string>, unsafe: Array<string>) => {
  const runner = CompiledStream.streamRunnerOf(client)!
  return new Proxy(client, {
    get: (target, property) => {
      if (property === CompiledStream.StreamRunnerTypeId) {
        return ((statement, params) => {
          streams.push(statement.sql)
          return runner(statement, params)
        }) satisfies CompiledStream.StreamRun
      }
      if (property === "unsafe") {
        return (sql: string, params?: ReadonlyArray<unknown>) => {
          unsafe.push(sql)
          return target.unsafe(sql, params)
        }
      }
      return Reflect.get(target, property)
    }
  })
}

describe("a query's stream through the router's stream runner", () => {
  const streamSql = "SELECT * FROM \"items\" ORDER BY \"id\" ASC"
  const labels = Effect.map(
    Stream.runCollect(Items.query().orderBy("id").stream()),
    (items) => Chunk.toReadonlyArray(items).map((item) => item.label)
  )
  const watchedStreams = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const streams: Array<string> = []
      const unsafe: Array<string> = []
      const read = yield* ReadConnection
      const write = yield* WriteConnection
      const result = yield* effect.pipe(
        Effect.provideService(ReadConnection, watchStreams(read, streams, unsafe)),
        Effect.provideService(WriteConnection, watchStreams(write, streams, unsafe))
      )
      return { result, streams, unsafe }
    })

  it.effect("is placed on a replica like any read, with no @effect/sql statement", () =>
    Effect.gen(function*() {
      yield* seed
      const { result, streams, unsafe } = yield* watchedStreams(labels)
      expect(result).toEqual(["a", "b"])
      expect(streams).toEqual([streamSql])
      expect(unsafe).toEqual([])
      expect(routed(yield* FastOrmTest.statements)).toEqual(["replica-1:stream:ok"])
    }).pipe(Effect.provide(FastOrmTest.layer())))

  it.effect("inside Database.transaction it streams on the transaction's connection and sees its writes", () =>
    Effect.gen(function*() {
      yield* seed
      const { result, streams } = yield* watchedStreams(Database.transaction(Effect.zipRight(
        Effect.flatMap(WriteConnection, (write) => write`UPDATE items SET label = 'changed' WHERE id = 2`),
        labels
      )))
      expect(result).toEqual(["a", "changed"])
      expect(streams).toEqual([streamSql])
      const log = yield* FastOrmTest.statements
      // BEGIN, UPDATE, the stream (the test log names a stream's placement so), COMMIT: one connection.
      expect(routed(log)).toEqual([
        "primary:transaction:ok",
        "primary:transaction:ok",
        "primary:stream:ok",
        "primary:transaction:ok"
      ])
      expect(new Set(log.map((s) => s.connection)).size).toBe(1)
    }).pipe(Effect.provide(FastOrmTest.layer())))
})
