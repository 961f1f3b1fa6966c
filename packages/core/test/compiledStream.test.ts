/**
 * CompiledStream without a server: fake connections that stream batches (arrays marked with their columns) or rows,
 * recording where each stream ran, and a repository's `query().stream()` decoding what they give.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import * as Statement from "@effect/sql/Statement"
import { describe, expect, it } from "@effect/vitest"
import { recordingTracer } from "@fastorm/test-support"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as CompiledStatement from "../src/CompiledStatement.js"
import * as CompiledStream from "../src/CompiledStream.js"
import { ReadConnection } from "../src/Connections.js"
import * as Model from "../src/Model.js"
import * as Repository from "../src/Repository.js"

const columns = ["id", "name"] as const
const arrayBatch = (ids: ReadonlyArray<number>) =>
  CompiledStatement.withColumns(ids.map((id) => [id, `name ${id}`]), columns)
const objectRows = (ids: ReadonlyArray<number>) => ids.map((id) => ({ id, name: `name ${id}` }))

/**
 * A connection whose row stream gives `ids` as objects in chunks of two; with `batches`, it also streams a compiled
 * statement in batches of two, as arrays when the statement asks. `seen` records each stream as `name:kind:sql`.
 */
const fakeConnection = (name: string, seen: Array<string>, ids: ReadonlyArray<number>, batches: boolean) => {
  const pairs = <A>(rows: ReadonlyArray<A>) => Chunk.chunksOf(Chunk.fromIterable(rows), 2)
  const statements = (sql: string) => Effect.die(`no statement expected: ${sql}`)
  const connection: Connection = {
    execute: statements,
    executeRaw: statements,
    executeValues: statements,
    executeUnprepared: statements,
    executeStream: (sql) =>
      Stream.suspend(() => {
        seen.push(`${name}:rows:${sql}`)
        return Stream.flattenChunks(Stream.fromChunk(pairs(objectRows(ids))))
      })
  }
  if (!batches) return connection
  const executeStreamBatches: CompiledStream.BatchConnection["executeStreamBatches"] = (statement) =>
    Stream.suspend(() => {
      seen.push(`${name}:batches:${statement.arrays === true ? "arrays" : "objects"}:${statement.sql}`)
      return Stream.fromIterable(
        Chunk.toReadonlyArray(Chunk.map(pairs(ids), (c) => {
          const part = Chunk.toReadonlyArray(c)
          return statement.arrays === true ? arrayBatch(part) : objectRows(part)
        }))
      )
    })
  return { ...connection, executeStreamBatches }
}

const fakeClient = (connection: Connection) =>
  SqlClient.make({
    acquirer: Effect.succeed(connection),
    compiler: Statement.makeCompilerSqlite(),
    spanAttributes: []
  }).pipe(Effect.provide(Reactivity.layer))

const collect = (batches: CompiledStream.Batches) =>
  Effect.map(Stream.runCollect(batches), (all) => Chunk.toReadonlyArray(all))

let unique = 0
/** A statement no other test uses. */
const fresh = (label: string) => CompiledStatement.make(`SELECT "id", "name" FROM "s${++unique}" /* ${label} */`)

describe("CompiledStream.streamOn", () => {
  it.effect("takes a batch connection's own batches, arrays marked with their columns", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const connection = fakeConnection("pooled", seen, [1, 2, 3], true)
      expect(CompiledStream.isBatchConnection(connection)).toBe(true)
      const statement = CompiledStatement.asArrays(fresh("batches"))
      const batches = yield* collect(CompiledStream.streamOn(connection, statement, []))
      expect(batches).toEqual([arrayBatch([1, 2]), arrayBatch([3])])
      expect(batches.map(CompiledStatement.columnsOf)).toEqual([columns, columns])
      expect(seen).toEqual([`pooled:batches:arrays:${statement.sql}`])
    }))

  it.effect("on any other connection, the row stream's chunks as batches of objects", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const connection = fakeConnection("plain", seen, [1, 2, 3], false)
      expect(CompiledStream.isBatchConnection(connection)).toBe(false)
      const statement = CompiledStatement.asArrays(fresh("rows"))
      const batches = yield* collect(CompiledStream.streamOn(connection, statement, []))
      expect(batches).toEqual([objectRows([1, 2]), objectRows([3])])
      expect(batches.map(CompiledStatement.columnsOf)).toEqual([undefined, undefined])
      expect(seen).toEqual([`plain:rows:${statement.sql}`])
    }))
})

describe("CompiledStream.stream", () => {
  it.effect("a client without a stream runner streams through @effect/sql's statement", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const client = yield* fakeClient(fakeConnection("pooled", seen, [4, 5], true))
      expect(CompiledStream.streamRunnerOf(client)).toBeUndefined()
      const statement = fresh("unsafe")
      expect(yield* collect(CompiledStream.stream(client, statement, []))).toEqual([objectRows([4, 5])])
      expect(seen).toEqual([`pooled:rows:${statement.sql}`])
    }))

  it.effect("a client with a stream runner streams through it", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const connection = fakeConnection("pooled", seen, [6], true)
      const client = yield* fakeClient(connection)
      Object.assign(client, {
        [CompiledStream.StreamRunnerTypeId]: CompiledStream.makeStreamRunner(connection, () => Stream.die("no"), [])
      })
      const statement = CompiledStatement.asArrays(fresh("runner"))
      expect(yield* collect(CompiledStream.stream(client, statement, []))).toEqual([arrayBatch([6])])
      expect(seen).toEqual([`pooled:batches:arrays:${statement.sql}`])
    }))
})

describe("CompiledStream.makeStreamRunner", () => {
  const setup = () => {
    const seen: Array<string> = []
    const fallbacks: Array<string> = []
    const runner = CompiledStream.makeStreamRunner(
      fakeConnection("pooled", seen, [1], true),
      (statement) =>
        Stream.suspend(() => {
          fallbacks.push(statement.sql)
          return Stream.make(objectRows([0]))
        }),
      [["test.node", "node-1"]]
    )
    return { fallbacks, runner, seen }
  }

  it.effect("streams on the transaction's connection when SqlClient.TransactionConnection is provided", () =>
    Effect.gen(function*() {
      const { fallbacks, runner, seen } = setup()
      const statement = CompiledStatement.asArrays(fresh("transaction"))
      const transaction = fakeConnection("tx", seen, [2], false)
      const batches = yield* collect(runner(statement, [])).pipe(
        Effect.provideService(SqlClient.TransactionConnection, [transaction, 0] as const)
      )
      expect(batches).toEqual([objectRows([2])])
      expect(seen).toEqual([`tx:rows:${statement.sql}`])
      expect(fallbacks).toEqual([])
    }))

  it.effect("under Statement.withTransformer, streams through the fallback", () =>
    Effect.gen(function*() {
      const { fallbacks, runner, seen } = setup()
      const statement = fresh("transformer")
      const batches = yield* collect(runner(statement, [])).pipe(
        Statement.withTransformer((self) => Effect.succeed(self))
      )
      expect(batches).toEqual([objectRows([0])])
      expect(fallbacks).toEqual([statement.sql])
      expect(seen).toEqual([])
    }))

  it.effect("opens a sql.execute span over the stream only when a tracer listens", () =>
    Effect.gen(function*() {
      const { runner, seen } = setup()
      const { spans, tracer } = recordingTracer()
      const statement = fresh("traced")
      yield* collect(runner(statement, [])).pipe(Effect.withTracer(tracer))
      expect(spans.map((s) => s.name)).toEqual(["sql.execute"])
      expect(spans[0]!.attributes.get("db.operation.name")).toBe("executeStream")
      expect(spans[0]!.attributes.get("db.query.text")).toBe(statement.sql)
      expect(spans[0]!.attributes.get("test.node")).toBe("node-1")
      expect(spans[0]!.status._tag).toBe("Ended")
      yield* collect(runner(statement, []))
      expect(spans).toHaveLength(1)
      expect(seen).toHaveLength(2)
    }))
})

class Thing extends Model.Class<Thing>("Thing")({
  id: Schema.Int,
  name: Schema.String
}) {}

const Things = Repository.make(Thing, { table: "things", idColumn: "id" })

describe("query().stream() over batches", () => {
  const streamed = (batches: boolean, query: (q: ReturnType<typeof Things.query>) => Stream.Stream<any, any, any>) =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const connection = fakeConnection("pooled", seen, [1, 2, 3], batches)
      const client = yield* fakeClient(connection)
      Object.assign(client, {
        [CompiledStream.StreamRunnerTypeId]: CompiledStream.makeStreamRunner(connection, () => Stream.die("no"), [])
      })
      const rows = yield* Stream.runCollect(query(Things.query().orderBy("id"))).pipe(
        Effect.provideService(ReadConnection, client)
      )
      return { rows: Chunk.toReadonlyArray(rows), seen }
    })

  it.effect("asks for arrays and decodes them into model instances", () =>
    Effect.gen(function*() {
      const { rows, seen } = yield* streamed(true, (q) => q.stream())
      expect(rows.every((row) => row instanceof Thing)).toBe(true)
      expect(rows.map((row) => [row.id, row.name])).toEqual([[1, "name 1"], [2, "name 2"], [3, "name 3"]])
      expect(seen).toEqual([`pooled:batches:arrays:SELECT * FROM "things" ORDER BY "id" ASC`])
    }))

  it.effect("decodes the objects of a connection that streams rows", () =>
    Effect.gen(function*() {
      const { rows, seen } = yield* streamed(false, (q) => q.stream())
      expect(rows.every((row) => row instanceof Thing)).toBe(true)
      expect(rows.map((row) => row.id)).toEqual([1, 2, 3])
      expect(seen).toHaveLength(1)
      expect(seen[0]).toMatch(/^pooled:rows:/)
    }))

  it.effect("decodes a selection's arrays by column", () =>
    Effect.gen(function*() {
      const { rows } = yield* streamed(true, (q) => q.select("name").stream())
      expect(rows).toEqual([{ name: "name 1" }, { name: "name 2" }, { name: "name 3" }])
    }))
})
