/**
 * Compiled statements streamed in batches (`CompiledStream`) on each adapter's node client: asked for arrays,
 * PostgreSQL (pg-cursor's array row mode) and SQLite (better-sqlite3's raw rows) hand over arrays marked with their
 * columns, a batch per read; MariaDB streams its objects (mysql2's array rows cost it as much as objects, measured in
 * BENCHMARKS.md, lever 27); every row arrives once, in order, outside a transaction and inside one.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement, CompiledStream } from "@fastorm/core"
import type { ClusterInfo } from "@fastorm/test-support"
import { loadCluster } from "@fastorm/test-support"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DatabaseAdapterFactory } from "../src/index.js"

// Throws when the cluster is not running: this file fails, it never skips.
const cluster: ClusterInfo = loadCluster()
const ROWS = 1200
const table = `fastorm_batches_${process.pid}`

const sqliteDir = mkdtempSync(join(tmpdir(), "fastorm-batches-"))
process.on("exit", () => rmSync(sqliteDir, { recursive: true, force: true }))

/** Each adapter's primary, what a batch of its stream holds at most, and whether it gives arrays. */
const nodes = {
  postgres: { url: cluster.postgres.primary.url, batch: 512, arrays: true },
  sqlite: { url: `sqlite:///${join(sqliteDir, "batches.db")}`, batch: 256, arrays: true },
  mariadb: { url: cluster.mariadb.primary.url, batch: 1024, arrays: false }
} as const
type Node = keyof typeof nodes

/** A node client on `node` with the table `(id, name)` holding rows 1..ROWS, dropped when the scope closes. */
const clientWithRows = (node: Node) =>
  Effect.gen(function*() {
    const adapter = yield* DatabaseAdapterFactory.create(nodes[node].url)
    const client = yield* adapter.makeClient()
    const values = Array.from({ length: ROWS }, (_, i) => `(${i + 1}, 'name ${i + 1}')`).join(", ")
    yield* client.unsafe(`DROP TABLE IF EXISTS ${table}`)
    yield* client.unsafe(`CREATE TABLE ${table} (id int PRIMARY KEY, name varchar(40) NOT NULL)`)
    yield* client.unsafe(`INSERT INTO ${table} (id, name) VALUES ${values}`)
    yield* Effect.addFinalizer(() => Effect.orDie(client.unsafe(`DROP TABLE IF EXISTS ${table}`)))
    return client
  })

const everyRow = CompiledStatement.make(`SELECT id, name FROM ${table} ORDER BY id`)

const batchesOf = (client: SqlClient.SqlClient, statement: CompiledStatement.CompiledStatement) =>
  Effect.map(
    Stream.runCollect(CompiledStream.stream(client, statement, [])),
    (all) => Chunk.toReadonlyArray(all)
  )

/** The ids of `batches`' rows, read by column when a batch is arrays. */
const idsOf = (batches: ReadonlyArray<ReadonlyArray<any>>) =>
  batches.flatMap((batch) => {
    const columns = CompiledStatement.columnsOf(batch)
    const at = columns?.indexOf("id")
    return batch.map((row) => Number(at === undefined ? row.id : row[at]))
  })

const expectedIds = Array.from({ length: ROWS }, (_, i) => i + 1)

describe("compiled statements streamed in batches", () => {
  /** The batches of a stream asked for arrays, after checking every row came once, in order, a read per batch. */
  const arrayBatches = (node: Node) =>
    Effect.gen(function*() {
      const client = yield* clientWithRows(node)
      expect(CompiledStream.streamRunnerOf(client)).toBeTypeOf("function")
      const batches = yield* batchesOf(client, CompiledStatement.asArrays(everyRow))
      expect(idsOf(batches)).toEqual(expectedIds)
      expect(batches.length).toBeGreaterThanOrEqual(Math.ceil(ROWS / nodes[node].batch))
      expect(batches.every((batch) => batch.length > 0 && batch.length <= nodes[node].batch)).toBe(true)
      return batches
    })

  it.scopedLive.each(["postgres", "sqlite"] as const)(
    "%s: asked for arrays, arrays marked with their columns, every row once in order",
    (node) =>
      Effect.gen(function*() {
        const batches = yield* arrayBatches(node)
        expect(batches.every((batch) => CompiledStatement.columnsOf(batch)?.join() === "id,name")).toBe(true)
        expect(batches[0]![0]).toEqual([1, "name 1"])
      }).pipe(Effect.provide(Reactivity.layer))
  )

  it.scopedLive("mariadb: asked for arrays, objects (no column marks), every row once in order", () =>
    Effect.gen(function*() {
      const batches = yield* arrayBatches("mariadb")
      expect(batches.every((batch) => CompiledStatement.columnsOf(batch) === undefined)).toBe(true)
      expect(batches[0]![0]).toMatchObject({ id: 1, name: "name 1" })
    }).pipe(Effect.provide(Reactivity.layer)))

  it.scopedLive.each(["postgres", "sqlite", "mariadb"] as const)(
    "%s: not asked for arrays, objects",
    (node) =>
      Effect.gen(function*() {
        const client = yield* clientWithRows(node)
        const batches = yield* batchesOf(client, everyRow)
        expect(idsOf(batches)).toEqual(expectedIds)
        expect(batches.every((batch) => CompiledStatement.columnsOf(batch) === undefined)).toBe(true)
        expect(batches[0]![0]).toMatchObject({ id: 1, name: "name 1" })
      }).pipe(Effect.provide(Reactivity.layer))
  )

  it.scopedLive.each(["postgres", "sqlite", "mariadb"] as const)(
    "%s: inside a transaction, on its connection: its own uncommitted row is streamed",
    (node) =>
      Effect.gen(function*() {
        const client = yield* clientWithRows(node)
        const ids = yield* client.withTransaction(
          Effect.zipRight(
            client.unsafe(`INSERT INTO ${table} (id, name) VALUES (${ROWS + 1}, 'in transaction')`),
            Effect.map(batchesOf(client, CompiledStatement.asArrays(everyRow)), idsOf)
          )
        ).pipe(Effect.andThen((ids) => Effect.as(client.unsafe(`DELETE FROM ${table} WHERE id > ${ROWS}`), ids)))
        expect(ids).toEqual([...expectedIds, ROWS + 1])
      }).pipe(Effect.provide(Reactivity.layer))
  )
})
