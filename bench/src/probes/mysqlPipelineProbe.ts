/**
 * A probe (not part of npm run bench) of what pipelining could give on MariaDB with the raw driver alone: 16 callers,
 * one statement per round trip on a pool of 16 (mysql2's own way), against a few connections each with several
 * prepared statements written before the first is answered (the protocol answers commands in order; mysql2 writes a
 * command only when the one before it is answered, so a queued command is started at once here). Each variant in turn,
 * five rounds, medians of throughput, client CPU and the whole machine's CPU per statement.
 *
 *   FASTORM_CLUSTER_FILE=... DB=mariadb N=6000 WORKLOAD=update|count|find node bench/build/src/probes/mysqlPipelineProbe.js
 */
import * as Mysql from "mysql2"
import { MYSQL_SQL } from "../rawTargets.js"
import { seed } from "../seed.js"
import { callersRun } from "./measure.js"
import { probeNodes } from "./probeNodes.js"

const { nodes } = probeNodes()
const N = Number(process.env["N"] ?? 6000)
const ROUNDS = 5
const WORKLOAD = process.env["WORKLOAD"] ?? "update"

/** mysql2's command as the probe starts it ahead. */
interface Command {
  next: ((this: Command, packet: unknown, connection: Wire) => unknown) | null
  readonly constructor: { readonly name: string }
  execute(packet: unknown, connection: Wire): boolean
}
/** The slice of mysql2's connection the probe writes through. */
interface Wire {
  sequenceId: number
  readonly _command: Command | null | undefined
  readonly _commands: { readonly length: number; pop(): Command | undefined; push(c: Command): void }
  readonly stream: { cork?: () => void; uncork?: () => void }
}

/** Starts the `execute` just queued (a cached Prepare, then its Execute) while the connection awaits answers. */
const startAhead = (wire: Wire): boolean => {
  const execute = wire._commands.pop()!
  const prepare = wire._commands.pop()!
  const sequenceId = wire.sequenceId
  // A cached statement: the Prepare writes nothing and hands the statement over.
  if (!prepare.execute(undefined, wire)) throw new Error("statement not prepared on this connection")
  execute.execute(undefined, wire)
  const proceed = execute.next
  execute.next = function(packet, connection) {
    if (packet === undefined) {
      connection.sequenceId = 1
      return proceed
    }
    return proceed === null ? null : proceed.call(this, packet, connection)
  }
  wire._commands.push(execute)
  wire.sequenceId = sequenceId
  return true
}

const statement = (i: number): readonly [string, Array<unknown>] =>
  WORKLOAD === "count"
    ? [MYSQL_SQL.count, [["active", "inactive", "pending"][i % 3]]]
    : WORKLOAD === "find"
    ? [MYSQL_SQL.find, [1 + ((i * 7919) % 10_000)]]
    : [MYSQL_SQL.update, [i % 100, 1 + ((i * 7919) % 10_000)]]

/** One way of running statements, and its end. */
interface Runner {
  readonly run: (sql: string, values: Array<unknown>) => Promise<unknown>
  readonly end: () => Promise<unknown>
}

const url = () => WORKLOAD === "update" ? nodes.primary.url : nodes.replicas[0]!.url

const pooled = (): Runner => {
  const pool = Mysql.createPool({ uri: url(), connectionLimit: 16, maxIdle: 16 })
  return {
    run: (sql, values) =>
      new Promise((resolve, reject) => pool.execute(sql, values as Array<any>, (e, r) => e ? reject(e) : resolve(r))),
    end: () => new Promise((resolve) => pool.end(resolve))
  }
}

const pipelined = (connections: number, depth: number) => async (): Promise<Runner> => {
  const conns = await Promise.all(Array.from({ length: connections }, async () => {
    const conn = Mysql.createConnection({ uri: url() })
    for (const sql of [MYSQL_SQL.update, MYSQL_SQL.count, MYSQL_SQL.find]) {
      await new Promise((resolve, reject) => conn.prepare(sql, (e, s) => e ? reject(e) : resolve(s)))
    }
    return { conn, out: 0 }
  }))
  const queue: Array<() => void> = []
  const send = (c: (typeof conns)[number], sql: string, values: Array<unknown>, resolve: any, reject: any) => {
    c.out++
    const wire = c.conn as unknown as Wire
    const busy = wire._command != null
    if (busy) wire.stream.cork?.()
    c.conn.execute(sql, values as Array<any>, (e, r) => {
      c.out--
      const waiting = queue.shift()
      if (waiting !== undefined) waiting()
      if (e) reject(e)
      else resolve(r)
    })
    if (busy) {
      startAhead(wire)
      wire.stream.uncork?.()
    }
  }
  const pick = () => {
    let best = conns[0]!
    for (const c of conns) if (c.out < best.out) best = c
    return best.out < depth ? best : undefined
  }
  return {
    run: (sql, values) =>
      new Promise((resolve, reject) => {
        const c = pick()
        if (c !== undefined) return send(c, sql, values, resolve, reject)
        queue.push(() => send(pick()!, sql, values, resolve, reject))
      }),
    end: () => Promise.all(conns.map((c) => new Promise((resolve) => c.conn.end(resolve))))
  }
}

const VARIANTS: ReadonlyArray<readonly [string, () => Runner | Promise<Runner>]> = [
  ["pool of 16", pooled],
  ["2 connections, depth 8", pipelined(2, 8)],
  ["4 connections, depth 4", pipelined(4, 4)],
  ["1 connection, depth 16", pipelined(1, 16)]
]

await seed("mariadb", nodes, 10_000, false)
const samples = VARIANTS.map(() => [] as Array<readonly [number, number, number]>)
for (let round = 0; round < ROUNDS; round++) {
  for (let v = 0; v < VARIANTS.length; v++) {
    const runner = await VARIANTS[v]![1]()
    samples[v]!.push(await callersRun(N, 1000, (i) => runner.run(...statement(i))))
    await runner.end()
  }
}
const median = (v: number, k: 0 | 1 | 2) => samples[v]!.map((s) => s[k]).sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!
console.log(WORKLOAD)
VARIANTS.forEach(([variant], v) => {
  console.log(
    `${variant.padEnd(28)} ${median(v, 0).toFixed(0).padStart(6)} q/s (${(median(v, 0) / median(0, 0)).toFixed(2)}x) ` +
      `client ${median(v, 1).toFixed(0)} µs machine ${median(v, 2).toFixed(0)} µs per statement`
  )
})
