// A probe (not part of npm run bench): which way of calling mysql2 costs what per statement, inside Effect.async.
// Run: FASTORM_CLUSTER_FILE=... node --conditions=fastorm-compiled bench/build/src/probes/mysqlProbe.js
import { loadCluster } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Mysql from "mysql2"

const url = loadCluster().mariadb.replicas[0]!.url
const findSql = "SELECT * FROM `bench_users` WHERE `id` = ? LIMIT 1"
const CALLERS = 16
const OPS = 3000

const measure = async (name: string, op: (id: number) => Effect.Effect<unknown, unknown>) => {
  const loop = Effect.gen(function*() {
    for (let i = 0; i < OPS; i++) yield* op(1 + ((i * 7919) % 10000))
  })
  const all = Effect.all(Array.from({ length: CALLERS }, () => loop), { concurrency: "unbounded", discard: true })
  await Effect.runPromise(all)
  const samples: Array<number> = []
  for (let r = 0; r < 3; r++) {
    void name
    const c0 = process.cpuUsage()
    await Effect.runPromise(all)
    const c = process.cpuUsage(c0)
    samples.push((c.user + c.system) / (CALLERS * OPS))
  }
  samples.sort((a, b) => a - b)
  return samples[1]!
}

const viaPool = (pool: any) => (id: number) =>
  Effect.async<unknown, unknown>((resume) => {
    pool.execute(findSql, [id], (e: any, r: any) => resume(e ? Effect.fail(e) : Effect.succeed(r)))
  })
const viaConn = (pool: any, mode: "positional" | "object" | "onEnd") => (id: number) =>
  Effect.async<unknown, unknown>((resume) => {
    pool.getConnection((e: any, conn: any) => {
      if (e) return resume(Effect.fail(e))
      if (mode === "onEnd") {
        conn.execute(findSql, [id], (e2: any, r: any) => resume(e2 ? Effect.fail(e2) : Effect.succeed(r))).once(
          "end",
          () => conn.release()
        )
        return
      }
      const cb = (e2: any, r: any) => {
        conn.release()
        resume(e2 ? Effect.fail(e2) : Effect.succeed(r))
      }
      if (mode === "object") conn.execute({ sql: findSql, values: [id], rowsAsArray: false }, cb)
      else conn.execute(findSql, [id], cb)
    })
  })

const main = async () => {
  const pool = Mysql.createPool({ uri: url, connectionLimit: 16, maxIdle: 16, supportBigNumbers: true })
  const variants: Array<[string, (id: number) => Effect.Effect<unknown, unknown>]> = [
    ["pool.execute", viaPool(pool)],
    ["getConnection, positional, release in cb", viaConn(pool, "positional")],
    ["getConnection, object, release in cb", viaConn(pool, "object")],
    ["getConnection, positional, release on end", viaConn(pool, "onEnd")]
  ]
  const results = variants.map(() => [] as Array<number>)
  for (let r = 0; r < 5; r++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (k + r) % variants.length
      results[i]!.push(await measure(variants[i]![0], variants[i]![1]))
    }
  }
  variants.forEach(([name], i) => {
    const s = [...results[i]!].sort((a, b) => a - b)
    console.log("MEDIAN", name.padEnd(44), s[2]!.toFixed(1), "µs CPU/q")
  })
  pool.end()
}
main()
