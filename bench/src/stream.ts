/**
 * `npm run bench:stream`: the memory of `query.stream()` over 1 000 000 rows on each database, through
 * `FastOrm.layer` as an application runs it (replicas, routing). Starts its own clusters; prints, per database, the
 * rows streamed, the time, and the process's resident memory before the stream and at its peak (sampled every
 * 20 ms), and the JavaScript heap's growth. BENCH_STREAM_ROWS changes the row count, BENCH_STREAM_DBS (e.g.
 * "postgres,sqlite") the databases.
 */
import { Model, Repository, Schema, WriteConnection } from "@fastorm/core"
import { FastOrm } from "@fastorm/replication"
import type { ClusterNodes } from "@fastorm/test-support"
import { startClusters, stopClusters, waitReplicated } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const ROWS = Number(process.env["BENCH_STREAM_ROWS"] ?? 1_000_000)
const TABLE = "bench_stream_rows"

class Row extends Model.Class<Row>("Row")({
  id: Model.Generated(Schema.Int),
  label: Schema.String,
  filler: Schema.String,
  n: Schema.Int
}) {}
const Rows = Repository.make(Row, { table: TABLE, idColumn: "id" })

const fill = {
  postgres: [
    `DROP TABLE IF EXISTS ${TABLE}`,
    `CREATE TABLE ${TABLE} (id SERIAL PRIMARY KEY, label TEXT NOT NULL, filler TEXT NOT NULL, n INT NOT NULL)`,
    `INSERT INTO ${TABLE} (label, filler, n) SELECT 'row-' || g, repeat('x', 100), g FROM generate_series(1, ${ROWS}) g`
  ],
  mariadb: [
    `DROP TABLE IF EXISTS ${TABLE}`,
    `CREATE TABLE ${TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(32) NOT NULL, filler VARCHAR(100) NOT NULL, n INT NOT NULL) ENGINE=InnoDB`,
    `INSERT INTO ${TABLE} (label, filler, n) SELECT CONCAT('row-', seq), REPEAT('x', 100), seq FROM seq_1_to_${ROWS}`
  ],
  sqlite: [
    `DROP TABLE IF EXISTS ${TABLE}`,
    `CREATE TABLE ${TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, filler TEXT NOT NULL, n INTEGER NOT NULL)`,
    `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${ROWS}) ` +
    `INSERT INTO ${TABLE} (label, filler, n) SELECT 'row-' || x, substr(hex(zeroblob(50)), 1, 100), x FROM c`
  ]
} as const

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024)

const gc = () => (globalThis as { gc?: () => void }).gc?.()

/** Streams every row, counting them and checking their order; resident memory sampled meanwhile. */
const measure = (name: keyof typeof fill, nodes: ClusterNodes | undefined) =>
  Effect.gen(function*() {
    const write = yield* WriteConnection
    for (const statement of fill[name]) yield* write.unsafe(statement)
    if (nodes !== undefined) yield* Effect.promise(() => waitReplicated(nodes, { timeoutMs: 120_000 }))
    gc()
    const before = process.memoryUsage()
    let peak = before.rss
    let heapPeak = before.heapUsed
    const timer = setInterval(() => {
      const now = process.memoryUsage()
      peak = Math.max(peak, now.rss)
      heapPeak = Math.max(heapPeak, now.heapUsed)
    }, 20)
    const started = Date.now()
    let count = 0
    let ordered = true
    // What the stream holds on to, not garbage awaiting collection: the heap after a full collection, every 10 %.
    let retained = 0
    yield* Stream.runForEach(Rows.query().orderBy("id").stream(), (row) =>
      Effect.sync(() => {
        count++
        if (row.n !== count) ordered = false
        if (count % Math.max(1, Math.floor(ROWS / 10)) === 0) {
          gc()
          retained = Math.max(retained, process.memoryUsage().heapUsed - before.heapUsed)
        }
      }))
    const ms = Date.now() - started
    clearInterval(timer)
    peak = Math.max(peak, process.memoryUsage().rss)
    const figures = {
      database: name,
      rows: count,
      ordered,
      seconds: Number((ms / 1000).toFixed(1)),
      rowsPerSecond: Math.round(count / (ms / 1000)),
      rssBeforeMB: mb(before.rss),
      rssPeakMB: mb(peak),
      rssGrowthMB: mb(peak - before.rss),
      heapGrowthMB: mb(heapPeak - before.heapUsed),
      heapRetainedMB: mb(retained)
    }
    console.log(`[stream] ${JSON.stringify(figures)}`)
    yield* write.unsafe(`DROP TABLE ${TABLE}`)
    return figures
  })

const main = async () => {
  const cluster = await startClusters()
  const dir = mkdtempSync(join(tmpdir(), "fastorm-stream-"))
  try {
    const results = []
    const only = process.env["BENCH_STREAM_DBS"]?.split(",")
    for (const name of ["postgres", "mariadb"] as const) {
      if (only !== undefined && !only.includes(name)) continue
      const nodes = cluster[name]
      const layer = FastOrm.layer({
        write: nodes.primary.url,
        read: nodes.replicas.map((r) => r.url),
        // The fill is one long statement.
        readWrite: { statementTimeout: "5 minutes" }
      })
      results.push(await Effect.runPromise(Effect.provide(measure(name, nodes), layer)))
    }
    if (only === undefined || only.includes("sqlite")) {
      const file = join(dir, "stream.db")
      const sqlite = FastOrm.layer({ write: `sqlite:///${file}`, read: [`sqlite:///${file}`] })
      results.push(await Effect.runPromise(Effect.provide(measure("sqlite", undefined), sqlite)))
    }
    console.log(
      results.map((r) =>
        `${r.database}: ${r.rows} rows in ${r.seconds} s, RSS ${r.rssBeforeMB} MB -> peak ${r.rssPeakMB} MB ` +
        `(+${r.rssGrowthMB} MB), heap retained mid-stream +${r.heapRetainedMB} MB`
      ).join("\n")
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
    await stopClusters()
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
