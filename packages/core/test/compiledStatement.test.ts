/**
 * CompiledStatement without a server: a hand-made @effect/sql client over fake connections that record where each
 * statement ran and which spans were open around it.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import * as Statement from "@effect/sql/Statement"
import { describe, expect, it } from "@effect/vitest"
import { recordingTracer } from "@fastorm/test-support"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as CompiledStatement from "../src/CompiledStatement.js"
import { ReadConnection, WriteConnection } from "../src/Connections.js"
import * as Model from "../src/Model.js"
import * as Repository from "../src/Repository.js"

/** One statement as a fake connection saw it. */
interface Call {
  readonly connection: string
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
  /** The spans open around the statement, innermost first. */
  readonly spans: ReadonlyArray<Tracer.Span>
}

const openSpans: Effect.Effect<ReadonlyArray<Tracer.Span>> = Effect.map(Effect.option(Effect.currentSpan), (span) => {
  const out: Array<Tracer.Span> = []
  let current: Tracer.AnySpan | undefined = Option.getOrUndefined(span)
  while (current !== undefined && current._tag === "Span") {
    out.push(current)
    current = Option.getOrUndefined(current.parent)
  }
  return out
})

const spanNames = (call: Call | undefined) => (call?.spans ?? []).map((s) => s.name)

/** A connection that records every statement and answers `rows`. */
const fakeConnection = (
  name: string,
  calls: Array<Call>,
  rows: ReadonlyArray<Record<string, unknown>> = [{ connection: name }]
): Connection => {
  const run = (sql: string, params: ReadonlyArray<unknown>) =>
    Effect.flatMap(openSpans, (spans) =>
      Effect.sync(() => {
        calls.push({ connection: name, sql, params, spans })
        return rows
      }))
  return {
    execute: (sql, params, transformRows) =>
      Effect.map(run(sql, params), (r) => transformRows ? transformRows(r as Array<any>) : r),
    executeRaw: (sql, params) => run(sql, params),
    executeValues: (sql, params) => Effect.map(run(sql, params), (r) => r.map((row) => Object.values(row))),
    executeUnprepared: (sql, params, transformRows) =>
      Effect.map(run(sql, params), (r) => transformRows ? transformRows(r as Array<any>) : r),
    executeStream: (sql, params) => Stream.fromIterableEffect(run(sql, params))
  }
}

/** A prepared connection: `executePrepared` is recorded under its own name. */
const fakePreparedConnection = (name: string, calls: Array<Call>): CompiledStatement.PreparedConnection => ({
  ...fakeConnection(name, calls),
  executePrepared: (statement, params) =>
    fakeConnection(`${name}:prepared:${statement.name}`, calls).execute(
      statement.sql,
      params,
      undefined
    )
})

/** A SQLite-dialect client whose statements run on `connection` (and transactions on `transaction`). */
const fakeClient = (connection: Connection, transaction: Connection = connection) =>
  SqlClient.make({
    acquirer: Effect.succeed(connection),
    transactionAcquirer: Effect.succeed(transaction),
    compiler: Statement.makeCompilerSqlite(),
    spanAttributes: [["test.client", "fake"]]
  }).pipe(Effect.provide(Reactivity.layer))

/** `client` with every `unsafe` call counted. */
const spyUnsafe = (client: SqlClient.SqlClient, unsafeCalls: Array<string>): SqlClient.SqlClient =>
  new Proxy(client, {
    get: (target, property) => {
      if (property !== "unsafe") return Reflect.get(target, property)
      return (sql: string, params?: ReadonlyArray<unknown>) => {
        unsafeCalls.push(sql)
        return target.unsafe(sql, params)
      }
    }
  })

const builtInTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

let unique = 0
/** A statement text no other test uses (names are per text, process-wide). */
const freshSql = (label: string) => `SELECT ${++unique} AS n /* ${label} */ WHERE 1 = ?`

describe("CompiledStatement.make", () => {
  it("returns the same object for the same text and different names for different texts", () => {
    const sqlA = freshSql("a")
    const sqlB = freshSql("b")
    const a = CompiledStatement.make(sqlA)
    const again = CompiledStatement.make(sqlA)
    const b = CompiledStatement.make(sqlB)
    expect(again).toBe(a)
    expect(a.sql).toBe(sqlA)
    expect(b.sql).toBe(sqlB)
    expect(a.name).toMatch(/^fastorm_\d+$/)
    expect(b.name).toMatch(/^fastorm_\d+$/)
    expect(b.name).not.toBe(a.name)
    expect(CompiledStatement.make(sqlB)).toBe(b)
  })
})

describe("CompiledStatement.run", () => {
  it.effect("falls back to client.unsafe for a client without a runner", () =>
    Effect.gen(function*() {
      const calls: Array<Call> = []
      const unsafeCalls: Array<string> = []
      const client = spyUnsafe(yield* fakeClient(fakeConnection("pooled", calls)), unsafeCalls)
      expect(CompiledStatement.runnerOf(client)).toBeUndefined()
      const statement = CompiledStatement.make(freshSql("fallback"))
      const rows = yield* CompiledStatement.run(client, statement, [1])
      expect(rows).toEqual([{ connection: "pooled" }])
      expect(unsafeCalls).toEqual([statement.sql])
      expect(calls.map((c) => [c.connection, c.sql, c.params])).toEqual([["pooled", statement.sql, [1]]])
    }))

  it.effect("uses the client's runner when it has one, and never client.unsafe", () =>
    Effect.gen(function*() {
      const calls: Array<Call> = []
      const unsafeCalls: Array<string> = []
      const ran: Array<[CompiledStatement.CompiledStatement, ReadonlyArray<unknown>]> = []
      const base = yield* fakeClient(fakeConnection("pooled", calls))
      Object.assign(base, {
        [CompiledStatement.RunnerTypeId]: ((statement, params) =>
          Effect.sync(() => {
            ran.push([statement, params])
            return [{ from: "runner" }]
          })) satisfies CompiledStatement.Run
      })
      const client = spyUnsafe(base, unsafeCalls)
      const statement = CompiledStatement.make(freshSql("runner"))
      expect(yield* CompiledStatement.run(client, statement, [2])).toEqual([{ from: "runner" }])
      expect(ran).toEqual([[statement, [2]]])
      expect(ran[0]![0]).toBe(statement)
      expect(unsafeCalls).toEqual([])
      expect(calls).toEqual([])
    }))
})

describe("CompiledStatement.makeRunner", () => {
  const setup = () => {
    const calls: Array<Call> = []
    const fallbacks: Array<string> = []
    const runner = CompiledStatement.makeRunner(
      fakeConnection("pooled", calls),
      (statement) =>
        Effect.sync(() => {
          fallbacks.push(statement.sql)
          return [{ connection: "fallback" }]
        }),
      [["test.node", "node-1"]]
    )
    return { calls, fallbacks, runner }
  }

  it.effect("runs on its connection", () =>
    Effect.gen(function*() {
      const { calls, fallbacks, runner } = setup()
      const statement = CompiledStatement.make(freshSql("direct"))
      expect(yield* runner(statement, ["x"])).toEqual([{ connection: "pooled" }])
      expect(calls.map((c) => [c.connection, c.sql, c.params])).toEqual([["pooled", statement.sql, ["x"]]])
      expect(fallbacks).toEqual([])
    }))

  it.effect("runs as a prepared statement on a prepared connection", () =>
    Effect.gen(function*() {
      const calls: Array<Call> = []
      const connection = fakePreparedConnection("pooled", calls)
      expect(CompiledStatement.isPreparedConnection(connection)).toBe(true)
      expect(CompiledStatement.isPreparedConnection(fakeConnection("plain", calls))).toBe(false)
      const runner = CompiledStatement.makeRunner(connection, () => Effect.die("no fallback"), [])
      const statement = CompiledStatement.make(freshSql("prepared"))
      yield* runner(statement, [3])
      expect(calls.map((c) => [c.connection, c.sql, c.params])).toEqual([
        [`pooled:prepared:${statement.name}`, statement.sql, [3]]
      ])
    }))

  it.effect("runs on the transaction's connection when SqlClient.TransactionConnection is provided", () =>
    Effect.gen(function*() {
      const { calls, fallbacks, runner } = setup()
      const transactionCalls: Array<Call> = []
      const statement = CompiledStatement.make(freshSql("transaction"))
      const rows = yield* runner(statement, [4]).pipe(
        Effect.provideService(SqlClient.TransactionConnection, [fakeConnection("tx", transactionCalls), 0] as const)
      )
      expect(rows).toEqual([{ connection: "tx" }])
      expect(transactionCalls.map((c) => [c.connection, c.sql, c.params])).toEqual([["tx", statement.sql, [4]]])
      expect(calls).toEqual([])
      expect(fallbacks).toEqual([])
    }))

  it.effect("inside client.withTransaction, runs on the connection the transaction reserved", () =>
    Effect.gen(function*() {
      const pooledCalls: Array<Call> = []
      const transactionCalls: Array<Call> = []
      const pooled = fakeConnection("pooled", pooledCalls)
      const client = yield* fakeClient(pooled, fakeConnection("reserved", transactionCalls))
      const runner = CompiledStatement.makeRunner(pooled, (s, p) => client.unsafe(s.sql, p), [])
      const statement = CompiledStatement.make(freshSql("withTransaction"))
      const rows = yield* client.withTransaction(runner(statement, [5]))
      expect(rows).toEqual([{ connection: "reserved" }])
      expect(transactionCalls.map((c) => c.sql)).toEqual(["BEGIN", statement.sql, "COMMIT"])
      expect(pooledCalls).toEqual([])
    }))

  it.effect("calls the fallback under Statement.withTransformer (even inside a transaction)", () =>
    Effect.gen(function*() {
      const { calls, fallbacks, runner } = setup()
      const statement = CompiledStatement.make(freshSql("transformer"))
      const transformed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Statement.withTransformer(effect, (self) => Effect.succeed(self))
      expect(yield* transformed(runner(statement, [6]))).toEqual([{ connection: "fallback" }])
      const transactionCalls: Array<Call> = []
      yield* transformed(runner(statement, [6])).pipe(
        Effect.provideService(SqlClient.TransactionConnection, [fakeConnection("tx", transactionCalls), 0] as const)
      )
      expect(fallbacks).toEqual([statement.sql, statement.sql])
      expect(calls).toEqual([])
      expect(transactionCalls).toEqual([])
    }))

  it.effect("a fallback through client.unsafe applies the transformer", () =>
    Effect.gen(function*() {
      const calls: Array<Call> = []
      const pooled = fakeConnection("pooled", calls)
      const client = yield* fakeClient(pooled)
      const runner = CompiledStatement.makeRunner(pooled, (s, p) => client.unsafe(s.sql, p), [])
      const statement = CompiledStatement.make(freshSql("transformed"))
      const seen: Array<string> = []
      yield* runner(statement, [7]).pipe(
        Statement.withTransformer((self, sql) => {
          seen.push(self.compile()[0])
          return Effect.succeed(sql`${self} /* transformed */`)
        })
      )
      expect(seen).toEqual([statement.sql])
      expect(calls.map((c) => c.sql)).toEqual([`${statement.sql} /* transformed */`])
    }))
})

describe("CompiledStatement spans", () => {
  const setup = () => {
    const calls: Array<Call> = []
    const runner = CompiledStatement.makeRunner(fakeConnection("pooled", calls), () => Effect.die("no fallback"), [
      ["test.node", "node-1"]
    ])
    return { calls, runner }
  }

  it.effect("with a tracer other than the built-in one, a direct run opens a sql.execute span", () =>
    Effect.gen(function*() {
      const { calls, runner } = setup()
      const { spans, tracer } = recordingTracer()
      const statement = CompiledStatement.make(freshSql("traced"))
      yield* runner(statement, [1]).pipe(Effect.withSpan("outer"), Effect.withTracer(tracer))
      expect(spans.map((s) => s.name)).toEqual(["outer", "sql.execute"])
      const span = spans[1]!
      expect(span.kind).toBe("client")
      expect(span.attributes.get("db.query.text")).toBe(statement.sql)
      expect(span.attributes.get("db.operation.name")).toBe("execute")
      expect(span.attributes.get("test.node")).toBe("node-1")
      expect(Option.getOrUndefined(span.parent)).toBe(spans[0])
      // The statement ran inside it.
      expect(calls[0]!.spans[0]).toBe(span)
      expect(span.status._tag).toBe("Ended")
    }))

  it.effect("under the built-in tracer no span is opened", () =>
    Effect.gen(function*() {
      const { calls, runner } = setup()
      const statement = CompiledStatement.make(freshSql("untraced"))
      // The test environment's own tracer, then the built-in one set explicitly.
      yield* runner(statement, [1]).pipe(Effect.withSpan("outer"))
      yield* runner(statement, [1]).pipe(Effect.withSpan("outer"), Effect.withTracer(builtInTracer))
      expect(calls.map(spanNames)).toEqual([["outer"], ["outer"]])
    }))

  it.effect("with tracing disabled no span is opened, whatever the tracer", () =>
    Effect.gen(function*() {
      const { calls, runner } = setup()
      const { spans, tracer } = recordingTracer()
      const statement = CompiledStatement.make(freshSql("disabled"))
      yield* runner(statement, [1]).pipe(Effect.withTracerEnabled(false), Effect.withTracer(tracer))
      expect(spans).toEqual([])
      expect(calls.map(spanNames)).toEqual([[]])
    }))

  it.effect("with StatementSpans \"always\" a span is opened under the built-in tracer", () =>
    Effect.gen(function*() {
      const { calls, runner } = setup()
      const statement = CompiledStatement.make(freshSql("always"))
      yield* runner(statement, [1]).pipe(
        Effect.withSpan("outer"),
        Effect.withTracer(builtInTracer),
        Effect.provideService(CompiledStatement.StatementSpans, "always")
      )
      expect(calls.map(spanNames)).toEqual([["sql.execute", "outer"]])
      expect(calls[0]!.spans[0]!.attributes.get("db.query.text")).toBe(statement.sql)
    }))

  it.effect("isTracing: built-in tracer no, custom tracer yes, disabled no, StatementSpans always yes", () =>
    Effect.gen(function*() {
      const { tracer } = recordingTracer()
      const tracing = Effect.withFiberRuntime<boolean>((fiber) => Effect.succeed(CompiledStatement.isTracing(fiber)))
      expect(yield* tracing.pipe(Effect.withTracer(builtInTracer))).toBe(false)
      expect(yield* tracing.pipe(Effect.withTracer(tracer))).toBe(true)
      expect(yield* tracing.pipe(Effect.withTracerEnabled(false), Effect.withTracer(tracer))).toBe(false)
      expect(
        yield* tracing.pipe(
          Effect.withTracer(builtInTracer),
          Effect.provideService(CompiledStatement.StatementSpans, "always")
        )
      ).toBe(true)
    }))
})

class Thing extends Model.Class<Thing>("Thing")({
  id: Schema.Int,
  name: Schema.String
}) {}

const Things = Repository.make(Thing, { table: "things", idColumn: "id" })
const findSql = `SELECT * FROM "things" WHERE "id" = ? LIMIT 1`

describe("Repository.find", () => {
  it.effect("goes through the client's runner, one compiled statement for every call", () =>
    Effect.gen(function*() {
      const calls: Array<Call> = []
      const unsafeCalls: Array<string> = []
      const ran: Array<[CompiledStatement.CompiledStatement, ReadonlyArray<unknown>]> = []
      const base = yield* fakeClient(fakeConnection("pooled", calls))
      Object.assign(base, {
        [CompiledStatement.RunnerTypeId]: ((statement, params) =>
          Effect.sync(() => {
            ran.push([statement, params])
            return params[0] === 7 ? [{ id: 7, name: "seven" }] : []
          })) satisfies CompiledStatement.Run
      })
      const client = spyUnsafe(base, unsafeCalls)
      const found = yield* Things.find(7).pipe(Effect.provideService(ReadConnection, client))
      expect(Option.map(found, (t) => t.name)).toEqual(Option.some("seven"))
      expect(Option.isNone(yield* Things.find(8).pipe(Effect.provideService(ReadConnection, client)))).toBe(true)
      expect(ran.map(([s, p]) => [s.sql, p])).toEqual([[findSql, [7]], [findSql, [8]]])
      expect(ran[1]![0]).toBe(ran[0]![0])
      expect(ran[0]![0]).toBe(CompiledStatement.make(findSql))
      expect(unsafeCalls).toEqual([])
      expect(calls).toEqual([])
    }))

  it.effect("with forceWrite, goes through the write client's runner", () =>
    Effect.gen(function*() {
      const ran: Array<string> = []
      const write = yield* fakeClient(fakeConnection("write", []))
      Object.assign(write, {
        [CompiledStatement.RunnerTypeId]: ((statement) =>
          Effect.sync(() => {
            ran.push(`write:${statement.sql}`)
            return [{ id: 1, name: "one" }]
          })) satisfies CompiledStatement.Run
      })
      const read = yield* fakeClient(fakeConnection("read", []))
      Object.assign(read, {
        [CompiledStatement.RunnerTypeId]: ((statement) =>
          Effect.sync(() => {
            ran.push(`read:${statement.sql}`)
            return []
          })) satisfies CompiledStatement.Run
      })
      const found = yield* Things.find(1, { forceWrite: true }).pipe(
        Effect.provideService(WriteConnection, write),
        Effect.provideService(ReadConnection, read)
      )
      expect(Option.map(found, (t) => t.name)).toEqual(Option.some("one"))
      expect(ran).toEqual([`write:${findSql}`])
    }))

  it.effect("on a client without a runner, goes through client.unsafe", () =>
    Effect.gen(function*() {
      const calls: Array<Call> = []
      const unsafeCalls: Array<string> = []
      const client = spyUnsafe(
        yield* fakeClient(fakeConnection("pooled", calls, [{ id: 9, name: "nine" }])),
        unsafeCalls
      )
      const found = yield* Things.find(9).pipe(Effect.provideService(ReadConnection, client))
      expect(Option.map(found, (t) => t.name)).toEqual(Option.some("nine"))
      expect(unsafeCalls).toEqual([findSql])
      expect(calls.map((c) => [c.connection, c.sql, c.params])).toEqual([["pooled", findSql, [9]]])
    }))
})
