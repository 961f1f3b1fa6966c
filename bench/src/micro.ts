/**
 * `npm run bench:micro`: client CPU per point read of each FastORM layer over an in-process fake driver (answers on
 * the next turn of the event loop), no server. It isolates what FastORM itself costs per statement, so a change to
 * the router or the repository can be measured in seconds; the database benchmark (`npm run bench`) stays the
 * reference. Rounds are interleaved and the medians printed with their ratio to the raw @effect/sql client.
 */
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { median } from "./harness.js"
import { runRound, targets } from "./microTargets.js"

const main = async () => {
  const rounds = Number(process.env["MICRO_ROUNDS"] ?? 7)
  const perCaller = Number(process.env["MICRO_OPS"] ?? 2000)
  const only = process.env["MICRO_ONLY"]
  const names = Object.keys(targets).filter((name) => only === undefined || only === "" || name.includes(only))
  const runtimes = names.map((name) => ManagedRuntime.make(targets[name]!.layer as Layer.Layer<any>))
  const samples = names.map(() => [] as Array<number>)
  for (let i = 0; i < names.length; i++) await runRound(runtimes[i]!, targets[names[i]!]!.op, perCaller) // warm-up
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const i = (k + r) % names.length
      samples[i]!.push(await runRound(runtimes[i]!, targets[names[i]!]!.op, perCaller))
    }
  }
  const base = median(samples[0]!)
  for (let i = 0; i < names.length; i++) {
    const m = median(samples[i]!)
    console.log(`${names[i]!.padEnd(28)} ${m.toFixed(1).padStart(7)} µs CPU/op  ${(m / base).toFixed(2)}×`)
  }
  await Promise.all(runtimes.map((rt) => rt.dispose()))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
