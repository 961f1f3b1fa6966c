/**
 * The load loop and its measurements: N concurrent callers issue operations until a deadline or a count, each
 * completion is recorded (latency, success, time), and client CPU is read with `process.cpuUsage` around the run (the
 * whole machine's with /proc/stat).
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import { performance } from "node:perf_hooks"
import { cores, machineBusyUs } from "./machineCpu.js"
import type { Ops, Workload } from "./workloads.js"
import { runOp, supports } from "./workloads.js"

export type { Workload } from "./workloads.js"

/** When callers stop taking new operations. */
export interface Stop {
  readonly untilMs?: number | undefined
  readonly count?: number | undefined
}

/** Every completion of one run. */
export class Recorder {
  latencies = new Float64Array(1 << 16)
  count = 0
  ok = 0
  failed = 0
  started = 0
  firstFailureAt: number | undefined
  lastFailureAt: number | undefined
  readonly errors = new Map<string, number>()
  /** Completion times and outcomes, kept only when asked (failover runs). */
  readonly timeline: Array<readonly [at: number, ok: boolean, latency: number]> | undefined

  constructor(keepTimeline = false) {
    this.timeline = keepTimeline ? [] : undefined
  }

  shouldStart(stop: Stop): boolean {
    if (stop.count !== undefined && this.started >= stop.count) return false
    if (stop.untilMs !== undefined && performance.now() >= stop.untilMs) return false
    this.started++
    return true
  }

  record(startedAt: number, ok: boolean, error?: unknown): void {
    const now = performance.now()
    const latency = now - startedAt
    if (this.count === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2)
      grown.set(this.latencies)
      this.latencies = grown
    }
    this.latencies[this.count++] = latency
    if (ok) this.ok++
    else {
      this.failed++
      this.firstFailureAt ??= now
      this.lastFailureAt = now
      const key = describeError(error)
      this.errors.set(key, (this.errors.get(key) ?? 0) + 1)
    }
    this.timeline?.push([now, ok, latency])
  }
}

const describeError = (error: unknown): string => {
  let e: any = error
  for (let i = 0; i < 4 && e !== null && typeof e === "object" && "cause" in e && e.cause !== undefined; i++) {
    if (typeof e.code === "string") break
    e = e.cause
  }
  const code = typeof e?.code === "string" ? e.code : undefined
  const tag = typeof (error as any)?._tag === "string" ? (error as any)._tag : undefined
  const message = String(e?.message ?? e).slice(0, 80)
  return [tag, code, message].filter((s) => s !== undefined).join(" ")
}

/** How a target runs its operations. */
export interface Driver {
  /** Whether the target implements `workload`. */
  readonly supports: (workload: Workload) => boolean
  /** Runs `callers` concurrent loops of `workload` operations until `stop`, recording into `recorder`. */
  readonly run: (workload: Workload, callers: number, stop: Stop, recorder: Recorder) => Promise<void>
}

/** A target whose operations are Promises (the raw drivers and the peers). */
export const promiseDriver = (rows: number, ops: Ops<Promise<unknown>>): Driver => ({
  supports: (workload) => supports(ops, workload),
  run: async (workload, callers, stop, recorder) => {
    const caller = async () => {
      while (recorder.shouldStart(stop)) {
        const t0 = performance.now()
        try {
          await runOp(workload, rows, ops)
          recorder.record(t0, true)
        } catch (e) {
          recorder.record(t0, false, e)
        }
      }
    }
    await Promise.all(Array.from({ length: callers }, caller))
  }
})

/** A target whose operations are Effects: the callers are fibers of the target's runtime, as in an Effect app. */
export const effectDriver = <R>(
  rows: number,
  runtime: ManagedRuntime.ManagedRuntime<R, unknown>,
  ops: Ops<Effect.Effect<unknown, unknown, R>>
): Driver => ({
  supports: (workload) => supports(ops, workload),
  run: (workload, callers, stop, recorder) => {
    const caller = Effect.suspend(() =>
      Effect.whileLoop({
        while: () => recorder.shouldStart(stop),
        body: () =>
          Effect.suspend(() => {
            const t0 = performance.now()
            return Effect.map(
              Effect.exit(runOp(workload, rows, ops)),
              (exit) =>
                Exit.isSuccess(exit)
                  ? recorder.record(t0, true)
                  : recorder.record(t0, false, Exit.isFailure(exit) ? causeError(exit.cause) : undefined)
            )
          }),
        step: () => undefined
      })
    )
    return runtime.runPromise(
      Effect.forEach(Array.from({ length: callers }), () => caller, { concurrency: "unbounded", discard: true })
    )
  }
})

const causeError = (cause: unknown): unknown => {
  const c = cause as { _tag?: string; error?: unknown; defect?: unknown; left?: unknown; right?: unknown }
  if (c._tag === "Fail") return c.error
  if (c._tag === "Die") return c.defect
  if (c._tag === "Sequential" || c._tag === "Parallel") return causeError(c.left)
  return cause
}

/** One measured run. */
export interface Sample {
  readonly queries: number
  readonly failed: number
  readonly seconds: number
  readonly throughput: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly cpuUsPerQuery: number
  /** The kernel's share of it (socket writes on loopback also run the receiver's network stack). */
  readonly sysUsPerQuery: number
  /** The whole machine's busy CPU per query, the servers' included (`machineCpu.ts`); NaN where it cannot be read. */
  readonly machineUsPerQuery?: number | undefined
  /** How busy the machine's cores were over the run, 0 to 1: near 1, its CPU is what bounds the throughput. */
  readonly machineBusy?: number | undefined
  /** The most frequent error, if any failed. */
  readonly firstError?: string | undefined
  /** The stream workload only: the resident memory's peak growth over the stream, in MB. */
  readonly rssGrowthMB?: number | undefined
  /** The stream workload only: the heap's peak growth, after full collections when gc is exposed, in MB. */
  readonly heapGrowthMB?: number | undefined
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

/** Runs the driver for `seconds` and measures it. */
export const measure = async (
  driver: Driver,
  workload: Workload,
  callers: number,
  seconds: number
): Promise<Sample> => {
  const recorder = new Recorder()
  const cpu0 = process.cpuUsage()
  const machine0 = machineBusyUs()
  const t0 = performance.now()
  await driver.run(workload, callers, { untilMs: t0 + seconds * 1000 }, recorder)
  const elapsed = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const machine = machineBusyUs() - machine0
  const sorted = recorder.latencies.slice(0, recorder.count).sort()
  return {
    queries: recorder.count,
    failed: recorder.failed,
    seconds: elapsed,
    throughput: recorder.ok / elapsed,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    cpuUsPerQuery: (cpu.user + cpu.system) / Math.max(1, recorder.count),
    sysUsPerQuery: cpu.system / Math.max(1, recorder.count),
    machineUsPerQuery: machine / Math.max(1, recorder.count),
    machineBusy: machine / (elapsed * 1_000_000 * cores),
    firstError: [...recorder.errors].sort((a, b) => b[1] - a[1])[0]?.[0]
  }
}

/** A warm-up's outcome: how many operations failed, and their errors. */
export interface Warmed {
  readonly failed: number
  readonly errors: ReadonlyArray<string>
}

/** Runs `count` operations (a warm-up), unmeasured. */
export const warmUp = async (driver: Driver, workload: Workload, callers: number, count: number): Promise<Warmed> => {
  const recorder = new Recorder()
  await driver.run(workload, callers, { count }, recorder)
  return { failed: recorder.failed, errors: [...recorder.errors.keys()] }
}

/** The median of some numbers. */
export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
