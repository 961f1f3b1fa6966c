// A probe (not part of npm run bench): client CPU per point read of FastORM's node client vs Effect.async over the raw driver.
// Run: FASTORM_CLUSTER_FILE=... node bench/build/src/probes/adapterProbe.js [mariadb|postgres]
import * as Reactivity from "@effect/experimental/Reactivity"
import { DatabaseAdapterFactory } from "@fastorm/adapters"
import { CompiledStatement } from "@fastorm/core"
import { loadCluster } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Mysql from "mysql2"
import Pg from "pg"
import { compare } from "./measure.js"

const db = process.argv[2] ?? "mariadb"
const info = loadCluster()
const nodes = db === "postgres" ? info.postgres : info.mariadb
const url = nodes.replicas[0]!.url
const findSql = db === "postgres"
  ? `SELECT * FROM "bench_users" WHERE "id" = $1 LIMIT 1`
  : "SELECT * FROM `bench_users` WHERE `id` = ? LIMIT 1"
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
      yield* Effect.promise(() => compare(variants))
      yield* Effect.promise(() => db === "postgres" ? pool.end() : new Promise((r) => pool.end(r)))
    }).pipe(Effect.provide(Reactivity.layer))
  ))
}
main()
