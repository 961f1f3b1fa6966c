/**
 * Helpers for the integration tests: admin queries on cluster nodes, bounded polling, probe timing.
 */
import type { NodeInfo } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Mysql from "mysql2/promise"
import Pg from "pg"
import type { ProbeFactory } from "../../src/Probe.js"
import * as Probe from "../../src/Probe.js"

/** Runs one statement as the node's admin user (postgres / root) on a fresh connection. */
export const admin = async <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = []
): Promise<Array<R>> => {
  if (node.kind === "postgres") {
    const client = new Pg.Client({ connectionString: node.adminUrl, connectionTimeoutMillis: 5_000 })
    client.on("error", () => {})
    await client.connect()
    try {
      return (await client.query(sql, params as Array<unknown>)).rows as Array<R>
    } finally {
      await client.end()
    }
  }
  const conn = await Mysql.createConnection({ uri: node.adminUrl, connectTimeout: 5_000 })
  try {
    const [rows] = await conn.query(sql, params as Array<any>)
    return rows as Array<R>
  } finally {
    await conn.end()
  }
}

/** Polls `read` every 10 ms until `ok`; fails after `limitMs`. Returns the elapsed milliseconds. */
export const waitFor = <A, E>(read: Effect.Effect<A, E>, ok: (a: A) => boolean, limitMs: number, what = "condition") =>
  Effect.gen(function*() {
    const start = Date.now()
    let last: A | undefined
    for (;;) {
      last = yield* read
      if (ok(last)) return Date.now() - start
      if (Date.now() - start > limitMs) {
        return yield* Effect.dieMessage(`${what} not met within ${limitMs} ms; last: ${JSON.stringify(last)}`)
      }
      yield* Effect.sleep("10 millis")
    }
  })

/** Runs a promise-returning fault control as an Effect. */
export const control = (f: () => Promise<unknown>) => Effect.promise(f).pipe(Effect.asVoid)

/** The default probe, wrapped to record how long every run took (to its answer, failure or interruption). */
export const timedProbe = (): { readonly factory: ProbeFactory; readonly durations: Map<string, Array<number>> } => {
  const durations = new Map<string, Array<number>>()
  const factory: ProbeFactory = (node, settings) =>
    Effect.map(Probe.fromAdapter(node, settings), (probe) => ({
      run: Effect.suspend(() => {
        const start = performance.now()
        return probe.run.pipe(Effect.ensuring(Effect.sync(() => {
          const list = durations.get(node.name) ?? []
          list.push(performance.now() - start)
          durations.set(node.name, list)
        })))
      })
    }))
  return { factory, durations }
}
