/**
 * The targets a worker measures, each in a process of its own (`targetHost.ts`; the default) or all in the worker's
 * (`BENCH_ISOLATE=0`, how every run before the thirteenth measured). Apart, no stack's objects, pools, timers or
 * garbage are collected on another's time, and no shared library (Effect, pg, mysql2) runs code a different stack has
 * shaped: an application runs one of them (BENCHMARKS.md, "One process per target").
 */
import type { ClusterNodes } from "@fastorm/test-support"
import type { ChildProcess } from "node:child_process"
import { fork } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Sample, Warmed } from "./harness.js"
import { measure, warmUp } from "./harness.js"
import { makeSqliteTarget } from "./sqliteTargets.js"
import { measureStream } from "./streamSample.js"
import type { HostReady, HostReply, HostRequest } from "./targetHost.js"
import type { Db, Target, TargetName } from "./targets.js"
import { makeTarget } from "./targets.js"
import type { Workload } from "./workloads.js"
import { deletesAt, startDeletesAt } from "./workloads.js"

/** What a target is built from, in the worker's process or in one of its own. */
export interface HostSpec {
  readonly name: TargetName
  readonly db: Db
  readonly rows: number
  /** The cluster's nodes (none for SQLite). */
  readonly nodes?: ClusterNodes | undefined
  /** SQLite's database file (SQLite only). */
  readonly sqliteFile?: string | undefined
}

/** Builds `spec`'s target in this process. */
export const fromSpec = (spec: HostSpec): Promise<Target> =>
  spec.db === "sqlite"
    ? makeSqliteTarget(spec.name, spec.sqliteFile ?? "", spec.rows)
    : makeTarget(spec.name, spec.db, spec.nodes!, spec.rows)

/** What the worker asks of a target, wherever it runs. */
export interface BenchTarget {
  readonly name: TargetName
  readonly supports: (workload: Workload) => boolean
  /** Runs `count` operations of `workload`, unmeasured. */
  readonly warm: (workload: Workload, callers: number, count: number) => Promise<Warmed>
  /** Runs `workload` for `seconds` and measures it (`harness.measure`). */
  readonly measure: (workload: Workload, callers: number, seconds: number) => Promise<Sample>
  /** Streams the stream table once and measures it (`streamSample.measureStream`). */
  readonly stream: () => Promise<Sample>
  /** Closes the target; resolves to the errors nobody caught in its process (0 in the worker's: it counts its own). */
  readonly close: () => Promise<number>
}

/** A target built in the worker's own process. */
export const inProcess = (target: Target): BenchTarget => ({
  name: target.name,
  supports: target.driver.supports,
  warm: (workload, callers, count) => warmUp(target.driver, workload, callers, count),
  measure: (workload, callers, seconds) => measure(target.driver, workload, callers, seconds),
  stream: () => measureStream(target.driver),
  close: () => target.close().then(() => 0)
})

const here = dirname(fileURLToPath(import.meta.url))
// Compiled (bench/build/src), the host is JavaScript; under tsx, TypeScript run through tsx, as the worker is.
const compiled = here.endsWith(join("build", "src"))

// A worker that ends for any reason takes its targets' processes with it (one listener for all of them).
const children = new Set<ChildProcess>()
process.on("exit", () => {
  for (const child of children) child.kill()
})

/** Spreads `Omit` over a union, so that each request keeps its own fields. */
type Request = HostRequest extends infer R ? R extends unknown ? Omit<R, "id" | "deleteAt"> : never : never

/** Starts `spec`'s target in a process of its own; resolves once it is built. */
export const hosted = (spec: HostSpec): Promise<BenchTarget> =>
  new Promise((resolve, reject) => {
    const child = fork(join(here, compiled ? "targetHost.js" : "targetHost.ts"), [], {
      // gc exposed for the stream workload, as in the worker.
      execArgv: ["--expose-gc", ...(compiled ? [] : ["--conditions=@fastorm/source", "--import", "tsx"])],
      env: { ...process.env, BENCH_HOST: JSON.stringify(spec), BENCH_HOST_NAME: spec.name },
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let nextId = 0
    const waiting = new Map<number, { resolve: (value: any) => void; reject: (e: Error) => void }>()
    const exited = (code: number | null) => {
      const error = new Error(`${spec.name}'s process exited (${code}) with requests unanswered`)
      for (const w of waiting.values()) w.reject(error)
      waiting.clear()
      reject(error)
    }
    children.add(child)
    child.on("exit", (code) => {
      children.delete(child)
      exited(code)
    })
    child.on("error", reject)
    const ask = <A>(request: Request): Promise<A> =>
      new Promise<A>((resolveRequest, rejectRequest) => {
        const id = nextId++
        waiting.set(id, { resolve: resolveRequest, reject: rejectRequest })
        child.send({ ...request, id, deleteAt: deletesAt() } as HostRequest)
      })
    child.on("message", (message: HostReply | HostReady) => {
      if ("ready" in message) {
        const supported = new Set(message.ready)
        resolve({
          name: spec.name,
          supports: (workload) => supported.has(workload),
          warm: (workload, callers, count) => ask({ op: "warm", workload, callers, count }),
          measure: (workload, callers, seconds) => ask({ op: "measure", workload, callers, seconds }),
          stream: () => ask({ op: "stream" }),
          close: () =>
            ask<{ uncaught: number }>({ op: "close" }).then((r) => {
              child.kill()
              return r.uncaught
            })
        })
        return
      }
      if ("failed" in message) return reject(new Error(`${spec.name} could not be built: ${message.failed}`))
      const w = waiting.get(message.id)
      if (w === undefined) return
      waiting.delete(message.id)
      if (message.ok) {
        // The one count of deletes goes on where this target's left it.
        startDeletesAt(message.deleteAt)
        w.resolve(message.value)
      } else {
        w.reject(new Error(`${spec.name}: ${message.error}`))
      }
    })
  })
