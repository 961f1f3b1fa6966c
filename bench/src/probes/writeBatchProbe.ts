/**
 * A probe (not part of npm run bench) of what batching writes could give behind a pooler, with the raw driver alone
 * (lever 45): 16 callers updating one row each, one statement per round trip on a pool of 16, against batches of up
 * to 8 writes under one Sync on 2 pooled connections, each write in a transaction of its own ([BEGIN, UPDATE, COMMIT],
 * with the statement bounds as two `SET LOCAL`, or as one `set_config` statement). Each variant in turn, five rounds,
 * medians of throughput, client CPU and the whole machine's CPU per write.
 *
 *   FASTORM_CLUSTER_FILE=... DB=pgbouncer|postgres N=6000 node bench/build/src/probes/writeBatchProbe.js
 */
import Pg from "pg"
import { PG_SQL } from "../rawTargets.js"
import { seed } from "../seed.js"
import { callersRun } from "./measure.js"
import { probeNodes } from "./probeNodes.js"

const { nodes } = probeNodes()
const CALLERS = 16
const N = Number(process.env["N"] ?? 6000)
const ROUNDS = 5
const DEPTH = 8
const CONNECTIONS = 2

/** One write's values (score, id), and its outcome. */
interface Write {
  readonly values: ReadonlyArray<unknown>
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
}

/** pg's connection as a batch writes on it. */
interface Wire {
  readonly stream: { cork?: () => void; uncork?: () => void }
  parse(query: { text: string }): void
  bind(config: { values?: ReadonlyArray<unknown> }): void
  execute(config: object): void
  sync(): void
}

/** A batch as pg's client runs a submittable: each write's statements, one Sync; a write is done at its last answer. */
class WriteBatch {
  callback?: () => void
  private answered = 0
  private error: unknown = undefined
  private readonly per: number
  constructor(private readonly writes: ReadonlyArray<Write>, private readonly opening: ReadonlyArray<string>) {
    this.per = opening.length + 2
  }
  submit(wire: Wire) {
    wire.stream.cork?.()
    for (const write of this.writes) {
      for (const text of this.opening) {
        wire.parse({ text })
        wire.bind({})
        wire.execute({})
      }
      wire.parse({ text: PG_SQL.update })
      wire.bind({ values: write.values.map(String) })
      wire.execute({})
      wire.parse({ text: "COMMIT" })
      wire.bind({})
      wire.execute({})
    }
    wire.sync()
    wire.stream.uncork?.()
    return null
  }
  handleRowDescription() {}
  handleDataRow() {}
  handlePortalSuspended() {}
  handleEmptyQuery() {}
  handleCommandComplete() {
    this.answered++
    if (this.answered % this.per === 0) this.writes[this.answered / this.per - 1]!.resolve()
  }
  handleError(error: unknown) {
    this.error = error
  }
  handleReadyForQuery() {
    if (this.error !== undefined) { for (const write of this.writes) write.reject(this.error) }
    this.callback?.()
  }
}

/** One way of running writes, and its end. */
interface Runner {
  readonly update: (values: ReadonlyArray<unknown>) => Promise<unknown>
  readonly end: () => Promise<unknown>
}

const pooled = (url: string): Runner => {
  const pool = new Pg.Pool({ connectionString: url, max: CALLERS })
  return { update: (values) => pool.query(PG_SQL.update, values as Array<unknown>), end: () => pool.end() }
}

const batched = (opening: ReadonlyArray<string>) => (url: string): Runner => {
  const pool = new Pg.Pool({ connectionString: url, max: CONNECTIONS })
  const queue: Array<Write> = []
  let out = 0
  const pump = () => {
    while (queue.length > 0 && out < CONNECTIONS) {
      out++
      pool.connect((error, client, release) => {
        if (error || client === undefined) throw error
        const next = () => {
          if (queue.length === 0) {
            out--
            return release()
          }
          const batch = new WriteBatch(queue.splice(0, DEPTH), opening)
          batch.callback = next
          client.query(batch as unknown as Pg.QueryConfig)
        }
        next()
      })
    }
  }
  return {
    update: (values) =>
      new Promise<void>((resolve, reject) => {
        queue.push({ values, resolve, reject })
        pump()
      }),
    end: () => pool.end()
  }
}

const VARIANTS: ReadonlyArray<readonly [string, (url: string) => Runner]> = [
  ["pool of 16", pooled],
  ["batched [BEGIN, UPDATE, COMMIT]", batched(["BEGIN"])],
  [
    "batched, two SET LOCAL",
    batched(["BEGIN", "SET LOCAL statement_timeout = 30000", "SET LOCAL lock_timeout = 10000"])
  ],
  [
    "batched, one set_config",
    batched([
      "BEGIN",
      "SELECT set_config('statement_timeout', '30000', true), set_config('lock_timeout', '10000', true)"
    ])
  ]
]

/** Throughput, client CPU µs and machine CPU µs per write of one variant's run (after a warm-up of 1 000). */
const measure = (runner: Runner) => callersRun(N, 1000, (i) => runner.update([i % 100, 1 + ((i * 7919) % 10_000)]))

await seed("postgres", nodes, 10_000, false)
const samples = VARIANTS.map(() => [] as Array<readonly [number, number, number]>)
for (let round = 0; round < ROUNDS; round++) {
  for (let v = 0; v < VARIANTS.length; v++) {
    const runner = VARIANTS[v]![1](nodes.primary.url)
    samples[v]!.push(await measure(runner))
    await runner.end()
  }
}
const median = (v: number, k: 0 | 1 | 2) => samples[v]!.map((s) => s[k]).sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!
VARIANTS.forEach(([variant], v) => {
  console.log(
    `${variant.padEnd(32)} ${median(v, 0).toFixed(0).padStart(6)} q/s (${(median(v, 0) / median(0, 0)).toFixed(2)}x) ` +
      `client ${median(v, 1).toFixed(0)} µs machine ${median(v, 2).toFixed(0)} µs per write`
  )
})
