/**
 * The bench's charts, as Vega-Lite specifications rendered to SVG in Node (`vega.View(...).toSVG()`), written to
 * bench/results/ and shown by BENCHMARKS.md: FastORM's throughput over the best peer's per workload and database, and
 * client CPU per returned row against rows returned for each stack.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import * as vega from "vega"
import { compile } from "vega-lite"
import type { WorkerResult } from "./worker.js"
import { WORKLOADS } from "./workloads.js"
import { cpuPerRow, ratios, THROUGHPUT_TARGET } from "./workloadVerdicts.js"

const render = async (spec: Record<string, unknown>): Promise<string> => {
  const view = new vega.View(vega.parse(compile(spec as any).spec), { renderer: "none" })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"

/** FastORM's throughput ÷ the best peer's, one bar per workload, grouped by database, with the 1.2× line. */
export const ratioChart = (results: ReadonlyArray<WorkerResult>) =>
  render({
    $schema: SCHEMA,
    title: "FastORM throughput ÷ best peer (Drizzle, TypeORM, Sequelize); target ≥ 1.2×",
    data: { values: ratios(results) },
    facet: { row: { field: "db", type: "nominal", title: null } },
    spec: {
      width: 560,
      height: 220,
      layer: [
        {
          mark: { type: "bar" },
          encoding: {
            x: { field: "workload", type: "nominal", sort: [...WORKLOADS], title: null, axis: { labelAngle: -35 } },
            y: { field: "ratio", type: "quantitative", title: "q/s ÷ best peer (stream: rows/s)" },
            color: {
              condition: { test: `datum.ratio >= ${THROUGHPUT_TARGET}`, value: "#4c9a2a" },
              value: "#d1495b"
            },
            tooltip: [{ field: "peer" }, { field: "ratio", format: ".2f" }]
          }
        },
        {
          mark: { type: "rule", strokeDash: [4, 3], color: "#333" },
          encoding: { y: { datum: THROUGHPUT_TARGET } }
        },
        {
          mark: { type: "text", dy: -6, fontSize: 9 },
          encoding: {
            x: { field: "workload", type: "nominal", sort: [...WORKLOADS] },
            y: { field: "ratio", type: "quantitative" },
            text: { field: "ratio", type: "quantitative", format: ".2f" }
          }
        }
      ]
    },
    resolve: { scale: { x: "independent" } }
  })

/** Client CPU per returned row (log scale) against rows returned, one line per stack, one panel per database. */
export const cpuChart = (results: ReadonlyArray<WorkerResult>) =>
  render({
    $schema: SCHEMA,
    title: "Client CPU per returned row (µs) vs rows returned",
    data: { values: cpuPerRow(results) },
    facet: { column: { field: "db", type: "nominal", title: null } },
    spec: {
      width: 260,
      height: 240,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "rows", type: "quantitative", scale: { type: "log" }, title: "rows returned" },
        y: { field: "cpuUsPerRow", type: "quantitative", scale: { type: "log" }, title: "µs CPU per row" },
        color: {
          field: "target",
          type: "nominal",
          title: null,
          legend: { orient: "bottom", columns: 2, labelLimit: 400 }
        }
      }
    }
  })

/** Writes both charts into `dir`; returns the files' names. */
export const writeCharts = async (dir: string, results: ReadonlyArray<WorkerResult>): Promise<Array<string>> => {
  const files: Array<[string, string]> = [
    ["throughput-ratio.svg", await ratioChart(results)],
    ["cpu-per-row.svg", await cpuChart(results)]
  ]
  for (const [name, svg] of files) writeFileSync(join(dir, name), svg)
  return files.map(([name]) => name)
}
