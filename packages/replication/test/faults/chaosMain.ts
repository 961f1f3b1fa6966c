/**
 * `npm run chaos`: starts fresh PostgreSQL and MariaDB clusters, runs the chaos soak on both at once for
 * `CHAOS_MINUTES` (default 5; `CHAOS_SECONDS` for short runs), prints the table, stops the clusters, and exits 1 if
 * any checker verdict is not clean. `CHAOS_SEED` replays a run's fault schedule; `CHAOS_ONLY=postgres|mariadb` runs one.
 */
import { CLUSTER_FILE_ENV, startClusters, stopClusters } from "@fastorm/test-support"
import * as Effect from "effect/Effect"

const seconds = process.env.CHAOS_SECONDS !== undefined
  ? Number(process.env.CHAOS_SECONDS)
  : Number(process.env.CHAOS_MINUTES ?? 5) * 60
if (!(seconds > 0)) throw new Error("CHAOS_MINUTES / CHAOS_SECONDS must be a positive number")
const seed = process.env.CHAOS_SEED === undefined ? undefined : Number(process.env.CHAOS_SEED)

const t0 = Date.now()
const info = await startClusters({ log: (line) => console.log(line) })
let exitCode = 1
try {
  // The scenario helpers read the cluster from this file when they are first imported.
  process.env[CLUSTER_FILE_ENV] = info.file
  const { runChaos, table } = await import("./chaos.js")
  const { backends } = await import("./kv.js")
  const chosen = backends.filter((b) => process.env.CHAOS_ONLY === undefined || b.name === process.env.CHAOS_ONLY)
  console.log(`chaos: ${seconds} s on ${chosen.map((b) => b.name).join(" and ")}, clusters up in ${Date.now() - t0} ms`)
  const results = await Effect.runPromise(
    Effect.scoped(
      Effect.forEach(
        chosen,
        (b, i) =>
          runChaos(b, {
            durationMs: seconds * 1_000,
            seed: seed === undefined ? undefined : seed + i,
            log: (line) => console.log(line)
          }),
        { concurrency: "unbounded" }
      )
    )
  )
  console.log(`\nchaos soak, ${seconds} s per database\n${table(results)}`)
  exitCode = results.every((r) => r.clean) ? 0 : 1
  console.log(exitCode === 0 ? "\nevery verdict clean" : "\nSOME VERDICT IS NOT CLEAN")
} finally {
  await stopClusters(info)
}
process.exit(exitCode)
