/**
 * One target of the bench in a process of its own, as an application runs one stack (BENCHMARKS.md, "One process per
 * target"): it builds the target from `BENCH_HOST` (JSON, `hostedTarget.HostSpec`) and serves the worker's requests
 * over the IPC channel (`hostedTarget.ts`) with the in-process target's own warm-up and measurements, until told to
 * close. Started by the worker, never by hand.
 */
import type { HostSpec } from "./hostedTarget.js"
import { fromSpec, inProcess } from "./hostedTarget.js"
import { describeUncaught } from "./uncaught.js"
import type { Workload } from "./workloads.js"
import { deletesAt, startDeletesAt, WORKLOADS } from "./workloads.js"

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
  process.stderr.write(`uncaught in ${process.env["BENCH_HOST_NAME"]}: ${describeUncaught(e)}\n`)
})
process.on("unhandledRejection", () => {
  uncaught++
})

const spec = JSON.parse(process.env["BENCH_HOST"] ?? "{}") as HostSpec
// Served as the worker would run it in its own process: the same warm-up and measurements, here.
const target = inProcess(
  await fromSpec(spec).catch((e: unknown) => {
    send({ failed: String((e as Error)?.stack ?? e) })
    process.exit(1)
  })
)

const serve = async (request: HostRequest): Promise<unknown> => {
  switch (request.op) {
    case "warm":
      return target.warm(request.workload, request.callers, request.count)
    case "measure":
      return target.measure(request.workload, request.callers, request.seconds)
    case "stream":
      return target.stream()
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

send({ ready: WORKLOADS.filter((w) => target.supports(w)) })
