/**
 * A probe (not part of npm run bench, no server needed): pg's client CPU for one statement's answer (its row
 * description, one row, its completion) with pg's own result against FastORM's, which keeps the row description's
 * parsers per statement text (adapters `internal/pgFields.ts`, BENCHMARKS.md lever 39). Both arms are fed the same
 * messages, interleaved, for statements of 1, 6 and 12 columns; medians of 7 rounds and their ratio.
 *
 *   node bench/build/src/probes/resultProbe.js
 */
import { createRequire } from "node:module"
import type Pg from "pg"

const require = createRequire(import.meta.url)
const pg = require("pg") as typeof Pg
// An internal module of the adapters package (not exported): the probe reads the built file itself.
const { keptQuery } = await import(
  new URL("../../../../packages/adapters/dist/internal/pgFields.js", import.meta.url)
    .href
) as { keptQuery: (...args: ReadonlyArray<unknown>) => Pg.Query }

const OIDS = [23, 25, 25, 23, 1184, 701]
const TEXTS = ["SELECT a", "INSERT b RETURNING *", "UPDATE c RETURNING *"]
const N = 200_000

interface Handlers {
  readonly _result: { _types: unknown }
  handleRowDescription(msg: unknown): void
  handleDataRow(msg: unknown): void
  handleCommandComplete(msg: unknown, connection: unknown): void
  handleReadyForQuery(connection: unknown): void
}

let rows = 0
const reply = (_: unknown, result: { rows: ReadonlyArray<unknown> }) => {
  rows += result.rows.length
}

/** ns per statement of `columns` columns, answered through `build`'s query. */
const measure = (build: (text: string) => Pg.Query, columns: number): number => {
  const types = new pg.TypeOverrides()
  const names = Array.from({ length: columns }, (_, i) => `c${i}`)
  const values = { fields: names.map((_, i) => (i % 2 === 0 ? "12" : "a text")) }
  const one = (text: string) => {
    const query = build(text) as unknown as Handlers
    query._result._types = types
    // A new message per statement, as pg's parser gives.
    query.handleRowDescription({
      fields: names.map((name, i) => ({ name, dataTypeID: OIDS[i % OIDS.length]!, format: "text" }))
    })
    query.handleDataRow(values)
    query.handleCommandComplete({ text: "SELECT 1" }, {})
    query.handleReadyForQuery({})
  }
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) one(TEXTS[i % TEXTS.length]!)
  return Number(process.hrtime.bigint() - start) / N
}

const arms = [
  ["pg's result", (text: string) => new pg.Query(text, [1], reply)],
  ["kept per statement", (text: string) => keptQuery(pg.Query, text, [1], reply)]
] as const

for (const columns of [1, 6, 12]) {
  const samples = arms.map(() => [] as Array<number>)
  for (const [, build] of arms) measure(build, columns)
  for (let round = 0; round < 7; round++) {
    for (let k = 0; k < arms.length; k++) {
      const i = (k + round) % arms.length
      samples[i]!.push(measure(arms[i]![1], columns))
    }
  }
  const medians = samples.map((s) => [...s].sort((a, b) => a - b)[3]!)
  console.log(
    `${String(columns).padStart(2)} columns: ${
      arms.map(([name], i) => `${name} ${medians[i]!.toFixed(0)} ns`).join(", ")
    }, kept/pg ${(medians[1]! / medians[0]!).toFixed(2)}`
  )
}
if (rows === 0) throw new Error("no statement answered")
