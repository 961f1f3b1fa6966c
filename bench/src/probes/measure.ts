/**
 * The probes' measurement: 16 fibers each running `OPS` statements, client CPU per statement (median of 3 runs after
 * a warm-up), and interleaved rounds over several variants with the median per variant; and the raw drivers' probes'
 * run of `n` promised statements over 16 callers (`callersRun`).
 */
import * as Effect from "effect/Effect"
import { machineBusyUs } from "../machineCpu.js"

const CALLERS = 16
const OPS = 3000

/** Client CPU µs per statement of `op`: the median of 3 runs after one warm-up run. */
export const cpuPerStatement = async (op: (id: number) => Effect.Effect<unknown, unknown>): Promise<number> => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < OPS; i++) yield* op(1 + ((i * 7919) % 10000))
  })
  const all = Effect.all(Array.from({ length: CALLERS }, () => loop), { concurrency: "unbounded", discard: true })
  await Effect.runPromise(all)
  const samples: Array<number> = []
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage()
    await Effect.runPromise(all)
    const c = process.cpuUsage(c0)
    samples.push((c.user + c.system) / (CALLERS * OPS))
  }
  samples.sort((a, b) => a - b)
  return samples[1]!
}

/** Runs every variant `rounds` times in a rotating order and prints each one's median. */
export const compare = async (
  variants: ReadonlyArray<readonly [string, (id: number) => Effect.Effect<unknown, unknown>]>,
  rounds = 5
): Promise<void> => {
  const results = variants.map(() => [] as Array<number>)
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (k + r) % variants.length
      results[i]!.push(await cpuPerStatement(variants[i]![1]))
    }
  }
  variants.forEach(([name], i) => {
    const sorted = [...results[i]!].sort((a, b) => a - b)
    console.log("MEDIAN", name.padEnd(44), sorted[Math.floor(rounds / 2)]!.toFixed(1), "µs CPU/q")
  })
}

/**
 * `n` statements over 16 callers, each awaiting its own before the next (`statement(i)`), after a warm-up of
 * `warmup` of them: throughput per second, client CPU µs and the whole machine's busy CPU µs per statement.
 */
export const callersRun = async (
  n: number,
  warmup: number,
  statement: (i: number) => Promise<unknown>
): Promise<readonly [number, number, number]> => {
  let next = 0
  const loop = async () => {
    while (next < n) await statement(next++)
  }
  next = n - warmup
  await Promise.all(Array.from({ length: CALLERS }, loop))
  next = 0
  const cpu0 = process.cpuUsage()
  const machine0 = machineBusyUs()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: CALLERS }, loop))
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return [n / ms * 1000, (cpu.user + cpu.system) / n, (machineBusyUs() - machine0) / n] as const
}
