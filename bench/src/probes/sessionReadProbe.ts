/**
 * The latency of a read right after its session's write (read-your-writes), one caller at a time: FastORM's `update`
 * of a row, then its `find`, each timed. The read waits for its position (read on the primary) and for a replica to
 * replay it; this probe shows what those cost a session, round trip by round trip (BENCHMARKS.md, "Each lever").
 *
 *   FASTORM_CLUSTER_FILE=... DB=postgres N=2000 ROUNDS=3 node bench/build/src/probes/sessionReadProbe.js
 */
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { fastOrmLayer, fastOrmOps } from "../fastOrmTargets.js"
import { seed } from "../seed.js"
import { dialectOf } from "../targetBase.js"
import { probeNodes } from "./probeNodes.js"

const n = Number(process.env["N"] ?? 2000)
const rounds = Number(process.env["ROUNDS"] ?? 3)
const rows = 10_000

const { db, nodes } = probeNodes()
await seed(dialectOf(db), nodes, rows, false)
const runtime = ManagedRuntime.make(fastOrmLayer(nodes))

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

/** `count` pairs of a write and its session's read of the row; each read's latency in µs. */
const pairs = (count: number) =>
  Effect.gen(function*() {
    const reads: Array<number> = []
    const writes: Array<number> = []
    for (let i = 0; i < count; i++) {
      const id = 1 + (i * 7919) % rows
      const w0 = performance.now()
      yield* fastOrmOps.update(id, i)
      const r0 = performance.now()
      const user = yield* fastOrmOps.find(id)
      const r1 = performance.now()
      if (Option.isNone(user) || user.value.score !== i) throw new Error(`row ${id}: stale read`)
      writes.push((r0 - w0) * 1000)
      reads.push((r1 - r0) * 1000)
    }
    return { reads, writes }
  })

await runtime.runPromise(pairs(300))
for (let round = 0; round < rounds; round++) {
  const c0 = process.cpuUsage()
  const { reads, writes } = await runtime.runPromise(pairs(n))
  const c = process.cpuUsage(c0)
  reads.sort((a, b) => a - b)
  writes.sort((a, b) => a - b)
  console.log(
    `session read after write (${db}): read p50 ${quantile(reads, 0.5).toFixed(0)} µs p90 ${
      quantile(reads, 0.9).toFixed(0)
    } µs; write p50 ${quantile(writes, 0.5).toFixed(0)} µs; client CPU per pair ${
      ((c.user + c.system) / n).toFixed(0)
    } µs`
  )
}
await runtime.dispose()
