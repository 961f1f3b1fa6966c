/**
 * A second app instance for the failover race (run as its own process by failover.integration.test.ts): the same
 * `FastOrm.layer({ nodes, failover })` as the test's own, writing unique values in a loop; every acknowledged write
 * is printed as one JSON line `{"v": ..., "port": ...}`, so the test can check that none was lost. It exits after
 * FAILOVER_APP_MS milliseconds.
 */
import { WriteConnection } from "@fastorm/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { FastOrm } from "../../src/index.js"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const nodes = JSON.parse(env("FAILOVER_APP_NODES")) as ReadonlyArray<{ url: string; name: string }>
const postgres = env("FAILOVER_APP_DIALECT") === "postgres"
const insert = postgres
  ? "INSERT INTO promo_kv (k, v) VALUES ($1, $2) RETURNING inet_server_port() AS port"
  : "INSERT INTO promo_kv (k, v) VALUES (?, ?) RETURNING @@port AS port"
const key = env("FAILOVER_APP_KEY")
const deadline = Date.now() + Number(env("FAILOVER_APP_MS"))

const program = Effect.gen(function*() {
  const write = yield* WriteConnection
  for (let i = 0; Date.now() < deadline; i++) {
    const value = `${key}-${i}`
    const rows = yield* Effect.either(write.unsafe<{ port: unknown }>(insert, [key, value]))
    if (rows._tag === "Right") {
      process.stdout.write(`${JSON.stringify({ v: value, port: Number(rows.right[0]?.port) })}\n`)
    }
    yield* Effect.sleep(Duration.millis(10))
  }
}).pipe(
  Effect.provide(FastOrm.layer({
    name: "failover-race",
    nodes,
    readWrite: { statementTimeout: "2 seconds", connectTimeout: "1 second" },
    health: { interval: "200 millis", timeout: "1 second", failureThreshold: 2, backoffCap: "1 second" },
    pool: { poolSize: 2, maxOverflow: 2 },
    failover: {
      mode: "promote",
      adminUrl: env("FAILOVER_APP_ADMIN_URL"),
      after: env("FAILOVER_APP_AFTER") as "2 seconds"
    }
  }))
)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
