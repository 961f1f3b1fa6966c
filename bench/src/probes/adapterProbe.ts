// A probe (not part of npm run bench): client CPU per point read of FastORM's node client vs Effect.async over the raw driver.
// Run: FASTORM_CLUSTER_FILE=... node --conditions=fastorm-compiled bench/build/src/probes/adapterProbe.js [mariadb|postgres]
import * as Reactivity from "@effect/experimental/Reactivity"
import { DatabaseAdapterFactory } from "@fastorm/adapters"
import { CompiledStatement } from "@fastorm/core"
import { loadCluster } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Mysql from "mysql2"
import Pg from "pg"

const db = process.argv[2] ?? "mariadb"
const info = loadCluster()
const nodes = db === "postgres" ? info.postgres : info.mariadb
const url = nodes.replicas[0]!.url
const findSql = db === "postgres"
  ? `SELECT * FROM "bench_users" WHERE "id" = $1 LIMIT 1`
  : "SELECT * FROM `bench_users` WHERE `id` = ? LIMIT 1"
const CALLERS = 16
const OPS = 3000

const measure = async (name: string, op: (id: number) => Effect.Effect<unknown, unknown>) => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < OPS; i++) yield* op(1 + ((i * 7919) % 10000))
  })
  const all = Effect.all(Array.from({ length: CALLERS }, () => loop), { concurrency: "unbounded", discard: true })
  await Effect.runPromise(all) // warm
  const samples: Array<number> = []
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await Effect.runPromise(all)
    const c = process.cpuUsage(c0)
    const n = CALLERS * OPS
    samples.push((c.user + c.system) / n)
    if (r === 2 && process.env["PROBE_VERBOSE"]) console.log(name, (n / ((performance.now() - t0) / 1000)).toFixed(0))
  }
  samples.sort((a, b) => a - b)
  return samples[1]!
}

const main = async () => {
  const statement = CompiledStatement.make(findSql)
  await Effect.runPromise(Effect.scoped(
    Effect.gen(function*() {
      const adapter = yield* DatabaseAdapterFactory.create(url, {
        name: "r1",
        config: { poolSize: 16, maxOverflow: 0 }
      })
      const client = yield* adapter.makeClient({ readOnly: true })
      const runner = CompiledStatement.runnerOf(client)!
      let pool: any
      let floor: (id: number) => Effect.Effect<unknown, unknown>
      if (db === "postgres") {
        pool = new Pg.Pool({ connectionString: url, max: 16 })
        floor = (id) =>
          Effect.async<unknown, unknown>((resume) => {
            pool.query(findSql, [id], (e: any, r: any) => resume(e ? Effect.fail(e) : Effect.succeed(r.rows)))
          })
      } else {
        pool = Mysql.createPool({ uri: url, connectionLimit: 16, maxIdle: 16, supportBigNumbers: true })
        floor = (id) =>
          Effect.async<unknown, unknown>((resume) => {
            pool.execute(findSql, [id], (e: any, r: any) => resume(e ? Effect.fail(e) : Effect.succeed(r)))
          })
      }
      const variants: Array<[string, (id: number) => Effect.Effect<unknown, unknown>]> = [
        ["Effect.async floor", floor],
        ["adapter connection.execute", (id) => client.connection.execute(findSql, [id], undefined)],
        ["adapter direct runner", (id) => runner(statement, [id])]
      ]
      const results = variants.map(() => [] as Array<number>)
      for (let r = 0; r < 5; r++) {
        for (let k = 0; k < variants.length; k++) {
          const i = (k + r) % variants.length
          results[i]!.push(yield* Effect.promise(() => measure(variants[i]![0], variants[i]![1])))
        }
      }
      variants.forEach(([name], i) => {
        const sorted = [...results[i]!].sort((a, b) => a - b)
        console.log("MEDIAN", name.padEnd(30), sorted[2]!.toFixed(1), "µs CPU/q")
      })
      yield* Effect.promise(() => db === "postgres" ? pool.end() : new Promise((r) => pool.end(r)))
    }).pipe(Effect.provide(Reactivity.layer))
  ))
}
main()
