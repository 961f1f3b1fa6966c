/**
 * A probe (not part of npm run bench) of what pipelining could give on PostgreSQL, with the raw driver alone: 16
 * callers over a pool of 16 connections, one statement per connection at a time (what every stack in the bench does,
 * FastORM included), against the same callers over 1, 2 or 4 connections in pg's pipeline mode, each statement sent
 * without waiting for those before it (round robin). Insert on the primary, point read on a replica; each variant run
 * in turn, three rounds, medians of throughput, client CPU and the whole machine's CPU per statement.
 *
 *   FASTORM_CLUSTER_FILE=... DB=postgres|pgbouncer N=8000 node bench/build/src/probes/pipelineProbe.js
 */
import Pg from "pg"
import { PG_SQL } from "../rawTargets.js"
import { seed } from "../seed.js"
import { callersRun } from "./measure.js"
import { probeNodes } from "./probeNodes.js"

const { nodes } = probeNodes()
const CALLERS = 16
const N = Number(process.env["N"] ?? 8000)
const ROUNDS = 3

/** One way of running statements, and its end. */
interface Runner {
  readonly query: (text: string, values: Array<unknown>) => Promise<unknown>
  readonly end: () => Promise<unknown>
}

const pooled = (url: string): Runner => {
  const pool = new Pg.Pool({ connectionString: url, max: CALLERS })
  return { query: (text, values) => pool.query(text, values), end: () => pool.end() }
}

const pipelined = async (url: string, connections: number): Promise<Runner> => {
  const clients: Array<Pg.Client> = []
  for (let i = 0; i < connections; i++) {
    const client = new Pg.Client({ connectionString: url, pipeline: true } as Pg.ClientConfig)
    await client.connect()
    clients.push(client)
  }
  let next = 0
  return {
    query: (text, values) => clients[next++ % connections]!.query(text, values),
    end: () => Promise.all(clients.map((c) => c.end()))
  }
}

const WORKLOADS = {
  insert: {
    url: nodes.primary.url,
    text: PG_SQL.insert,
    values: (i: number): Array<unknown> => [`pipe ${i}`, `pipe${i}@example.com`, "active", i % 100]
  },
  "point-read": {
    url: nodes.replicas[0]!.url,
    text: PG_SQL.find,
    values: (i: number): Array<unknown> => [1 + ((i * 7919) % 10_000)]
  }
} as const

const VARIANTS: ReadonlyArray<readonly [string, (url: string) => Promise<Runner> | Runner]> = [
  ["pool of 16", pooled],
  ["pipelined x1", (url) => pipelined(url, 1)],
  ["pipelined x2", (url) => pipelined(url, 2)],
  ["pipelined x4", (url) => pipelined(url, 4)]
]

/** Throughput, client CPU µs and machine CPU µs per statement of one variant's run (after a quarter as warm-up). */
const measure = (runner: Runner, workload: (typeof WORKLOADS)[keyof typeof WORKLOADS]) =>
  callersRun(N, Math.floor(N / 4), (i) => runner.query(workload.text, workload.values(i)))

await seed("postgres", nodes, 10_000, false)
for (const [name, workload] of Object.entries(WORKLOADS)) {
  const samples = VARIANTS.map(() => [] as Array<readonly [number, number, number]>)
  for (let round = 0; round < ROUNDS; round++) {
    for (let v = 0; v < VARIANTS.length; v++) {
      const runner = await VARIANTS[v]![1](workload.url)
      samples[v]!.push(await measure(runner, workload))
      await runner.end()
    }
  }
  const median = (v: number, k: 0 | 1 | 2) => samples[v]!.map((s) => s[k]).sort((a, b) => a - b)[1]!
  VARIANTS.forEach(([variant], v) => {
    console.log(
      `${name.padEnd(10)} ${variant.padEnd(12)} ${median(v, 0).toFixed(0).padStart(6)} q/s (${
        (median(v, 0) / median(0, 0)).toFixed(2)
      }x) client ${median(v, 1).toFixed(0)} µs machine ${median(v, 2).toFixed(0)} µs per statement`
    )
  })
}
