/**
 * One target of the bench in a process of its own, as an application runs one stack (BENCHMARKS.md, "One process per
 * target"): it builds the target from `BENCH_HOST` (JSON, `HostSpec`) and serves the worker's requests over the IPC
 * channel (`hostedTarget.ts`) until told to close. Started by the worker, never by hand.
 */
import type { ClusterNodes } from "@fastorm/test-support"
import { measure, Recorder } from "./harness.js"
import { makeSqliteTarget } from "./sqliteTargets.js"
import { measureStream } from "./streamSample.js"
import type { Db, TargetName } from "./targets.js"
import { makeTarget } from "./targets.js"
import type { Workload } from "./workloads.js"
import { deletesAt, startDeletesAt, WORKLOADS } from "./workloads.js"

/** What a hosted target is built from. */
export interface HostSpec {
  readonly name: TargetName
  readonly db: Db
  readonly rows: number
  /** The cluster's nodes (none for SQLite). */
  readonly nodes?: ClusterNodes | undefined
  /** SQLite's database file (SQLite only). */
  readonly sqliteFile?: string | undefined
}

/** A request of the worker. `deleteAt`: where the next delete starts (the worker keeps one count for every target). */
export type HostRequest =
  & { readonly id: number; readonly deleteAt: number }
  & (
    | { readonly op: "warm"; readonly workload: Workload; readonly callers: number; readonly count: number }
    | { readonly op: "measure"; readonly workload: Workload; readonly callers: number; readonly seconds: number }
    | { readonly op: "stream" }
    | { readonly op: "close" }
  )

/** The answer to one request: its value and where the next delete starts after it. */
export type HostReply =
  | { readonly id: number; readonly ok: true; readonly value: unknown; readonly deleteAt: number }
  | { readonly id: number; readonly ok: false; readonly error: string }

/** The first message: the workloads the target runs, or why it could not be built. */
export type HostReady = { readonly ready: ReadonlyArray<Workload> } | { readonly failed: string }

const send = (message: HostReply | HostReady) => process.send!(message)

let uncaught = 0
// A peer's pool may emit an unhandled error; count it (the worker reports the total) rather than lose the run.
process.on("uncaughtException", (e) => {
  uncaught++
  process.stderr.write(`uncaught in ${process.env["BENCH_HOST_NAME"]}: ${String(e?.message ?? e).slice(0, 200)}\n`)
})
process.on("unhandledRejection", () => {
  uncaught++
})

const spec = JSON.parse(process.env["BENCH_HOST"] ?? "{}") as HostSpec
const target = await (spec.db === "sqlite"
  ? makeSqliteTarget(spec.name, spec.sqliteFile ?? "", spec.rows)
  : makeTarget(spec.name, spec.db, spec.nodes!, spec.rows)).catch((e: unknown) => {
    send({ failed: String((e as Error)?.stack ?? e) })
    process.exit(1)
  })

const serve = async (request: HostRequest): Promise<unknown> => {
  switch (request.op) {
    case "warm": {
      const recorder = new Recorder()
      await target.driver.run(request.workload, request.callers, { count: request.count }, recorder)
      return { failed: recorder.failed, errors: [...recorder.errors.keys()] }
    }
    case "measure":
      return measure(target.driver, request.workload, request.callers, request.seconds)
    case "stream":
      return measureStream(target.driver)
    case "close":
      await target.close()
      return { uncaught }
  }
}

process.on("message", (request: HostRequest) => {
  startDeletesAt(request.deleteAt)
  serve(request).then(
    (value) => {
      send({ id: request.id, ok: true, value, deleteAt: deletesAt() })
    },
    (e: unknown) => send({ id: request.id, ok: false, error: String((e as Error)?.stack ?? e) })
  )
})

send({ ready: WORKLOADS.filter((w) => target.driver.supports(w)) })
