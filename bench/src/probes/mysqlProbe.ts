// A probe (not part of npm run bench): which way of calling mysql2 costs what per statement, inside Effect.async.
// Run: FASTORM_CLUSTER_FILE=... node bench/build/src/probes/mysqlProbe.js
import { loadCluster } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Mysql from "mysql2"
import { compare } from "./measure.js"

const url = loadCluster().mariadb.replicas[0]!.url
const findSql = "SELECT * FROM `bench_users` WHERE `id` = ? LIMIT 1"
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
  await compare(variants)
  pool.end()
}
main()
