/**
 * The chaos soak (issue 6): a mixed workload through `FastOrm.layer` (writer sessions with session-consistent reads,
 * ordinary readers) while a random fault hits a random node every few seconds: replica stop, kill -9, freeze,
 * restart, replay pause, a blackhole or added latency in front of a replica (FaultProxy), server-side session kills,
 * and now and then a primary restart. Every operation is recorded into a History; at the end every fault is undone,
 * the replicas catch up, and the checker runs against the final state read from the primary. `npm run chaos` runs it
 * for minutes on fresh clusters; `chaos.integration.test.ts` runs a short one on the shared test clusters.
 */
import type { NodeInfo } from "@fastorm/test-support"
import {
  FaultProxy,
  freezeNode,
  History,
  isNodeRunning,
  killNode,
  pauseReplay,
  replicaWriteAttempts,
  resumeReplay,
  startNode,
  stopNode,
  terminateSessions,
  unfreezeNode,
  waitReplicated,
  waitUntil
} from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { ConnectionRouter } from "../../src/index.js"
import type { Backend } from "./kv.js"
import { ensureTable, KV_TABLE, ormLayer, primaryQuery, runId, sessionBaseline } from "./kv.js"
import { mixedLoad, READ_BOUND_MS, WRITE_BOUND_MS } from "./mixed.js"

/** The faults the soak draws from, with their relative frequency. */
export const FAULTS = {
  "replica stop": 2,
  "replica kill -9": 2,
  "replica freeze": 2,
  "replica restart": 1,
  "replay pause": 2,
  "proxy blackhole": 2,
  "proxy latency": 2,
  "session kill": 2,
  "primary restart": 0.6
} as const
export type FaultName = keyof typeof FAULTS

/** One fault as injected. */
export interface FaultEvent {
  readonly fault: FaultName
  readonly node: string
  readonly at: number
  readonly heldMs: number
  readonly error?: string | undefined
}

/** Options of a soak. */
export interface ChaosOptions {
  readonly durationMs: number
  /** A fault starts every `gapMs[0]..gapMs[1]` after the previous one healed; held `holdMs[0]..holdMs[1]`. */
  readonly gapMs?: readonly [number, number] | undefined
  readonly holdMs?: readonly [number, number] | undefined
  readonly writers?: number | undefined
  readonly readers?: number | undefined
  readonly seed?: number | undefined
  readonly log?: ((line: string) => void) | undefined
}

/** What a soak found. */
export interface ChaosResult {
  readonly backend: string
  readonly seed: number
  readonly ranMs: number
  readonly faults: ReadonlyArray<FaultEvent>
  readonly summary: History.Summary
  readonly readP99Ms: number
  readonly writeP99Ms: number
  readonly verdicts: ReadonlyArray<History.Verdict>
  readonly clean: boolean
}

/** A small seeded PRNG (mulberry32), so a run can be replayed with its seed. */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const p99 = (ops: ReadonlyArray<History.Operation>) => {
  const took = ops.flatMap((op) => op.completedAt === undefined ? [] : [op.completedAt - op.invokedAt]).sort((a, b) =>
    a - b
  )
  return took.length === 0 ? 0 : Math.round(took[Math.min(took.length - 1, Math.ceil(0.99 * took.length) - 1)]!)
}

/** Undoes whatever a fault may have left: every node running, thawed and replaying, every proxy passing. */
const healAll = (b: Backend, proxies: ReadonlyArray<FaultProxy.FaultProxy>) =>
  Effect.promise(async () => {
    await Promise.all(proxies.map((p) => p.unsafe.setMode(FaultProxy.pass)))
    for (const node of [b.nodes.primary, ...b.nodes.replicas]) {
      if (isNodeRunning(node)) await unfreezeNode(node).catch(() => undefined)
    }
    await startNode(b.nodes.primary, { timeoutMs: 60_000 })
    await Promise.all(b.nodes.replicas.map((r) => startNode(r, { timeoutMs: 60_000 })))
    await Promise.all(b.nodes.replicas.map((r) => resumeReplay(r).catch(() => undefined)))
    await waitReplicated(b.nodes, { timeoutMs: 60_000 })
  })

/** Runs one soak on one backend. Scoped: the proxies close with the caller's scope. */
export const runChaos = (b: Backend, options: ChaosOptions) =>
  Effect.gen(function*() {
    const log = options.log ?? (() => undefined)
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
    const random = prng(seed)
    const between = ([lo, hi]: readonly [number, number]) => lo + random() * (hi - lo)
    const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(random() * xs.length)]!
    const drawFault = (): FaultName => {
      const entries = Object.entries(FAULTS) as Array<[FaultName, number]>
      let point = random() * entries.reduce((s, [, w]) => s + w, 0)
      for (const [name, w] of entries) {
        point -= w
        if (point < 0) return name
      }
      return entries[0]![0]
    }
    const gap = options.gapMs ?? [1_000, 3_000]
    const hold = options.holdMs ?? [1_000, 3_000]
    const writers = options.writers ?? 4
    const readers = options.readers ?? 4

    yield* Effect.promise(() => ensureTable(b))
    const baseline = yield* Effect.promise(() => sessionBaseline(b))
    const proxies = yield* Effect.forEach(b.nodes.replicas, (r) => FaultProxy.forNode(r))
    const proxyOf = (node: NodeInfo) => proxies[b.nodes.replicas.indexOf(node)]!
    const attemptsBefore = yield* Effect.promise(() =>
      Promise.all(b.nodes.replicas.map((r) => replicaWriteAttempts(r)))
    )
    const history = History.make()
    const prefix = runId("chaos")
    const faults: Array<FaultEvent> = []
    const t0 = performance.now()

    /** Applies a fault, holds it, heals it; returns the node it hit. */
    const inject = (fault: FaultName, heldMs: number): Effect.Effect<string> =>
      Effect.promise(async () => {
        const replica = pick(b.nodes.replicas)
        const sleep = () => new Promise((r) => setTimeout(r, heldMs))
        switch (fault) {
          case "replica stop":
            await stopNode(replica)
            await sleep()
            await startNode(replica, { timeoutMs: 60_000 })
            return replica.name
          case "replica kill -9":
            await killNode(replica)
            await sleep()
            await startNode(replica, { timeoutMs: 60_000 })
            return replica.name
          case "replica freeze":
            await freezeNode(replica)
            await sleep().finally(() => unfreezeNode(replica))
            return replica.name
          case "replica restart":
            await stopNode(replica)
            await startNode(replica, { timeoutMs: 60_000 })
            return replica.name
          case "replay pause":
            await pauseReplay(replica)
            await sleep().finally(() => resumeReplay(replica))
            return replica.name
          case "proxy blackhole":
            await proxyOf(replica).unsafe.setMode(FaultProxy.blackhole)
            await sleep().finally(() => proxyOf(replica).unsafe.setMode(FaultProxy.pass))
            return replica.name
          case "proxy latency":
            await proxyOf(replica).unsafe.setMode(FaultProxy.latency({ toServer: 150, toClient: 150 }))
            await sleep().finally(() => proxyOf(replica).unsafe.setMode(FaultProxy.pass))
            return replica.name
          case "session kill": {
            const node = pick([b.nodes.primary, ...b.nodes.replicas])
            await terminateSessions(node)
            return node.name
          }
          case "primary restart":
            await stopNode(b.nodes.primary)
            await sleep()
            await startNode(b.nodes.primary, { timeoutMs: 60_000 })
            return b.nodes.primary.name
        }
      })

    const stats = yield* Effect.gen(function*() {
      const router = yield* ConnectionRouter.ConnectionRouter
      const stop = { stopped: false }
      const load = yield* Effect.fork(mixedLoad(b, { history, prefix, writers, readers, stop, rotateEvery: 25 }))
      const end = t0 + options.durationMs
      while (performance.now() + gap[0] < end) {
        yield* Effect.sleep(Duration.millis(between(gap)))
        if (performance.now() >= end) break
        const fault = drawFault()
        const heldMs = Math.round(fault === "primary restart" ? between([500, 1_500]) : between(hold))
        const at = performance.now() - t0
        const node = yield* Effect.either(inject(fault, heldMs).pipe(Effect.catchAllDefect(Effect.fail)))
        const event: FaultEvent = node._tag === "Right"
          ? { fault, node: node.right, at, heldMs }
          : { fault, node: "?", at, heldMs, error: String(node.left) }
        faults.push(event)
        log(
          `${b.name} +${(at / 1000).toFixed(1)}s ${fault} on ${event.node} for ${heldMs} ms${
            event.error === undefined ? "" : ` (control failed: ${event.error})`
          }; ${history.ops.length} ops so far`
        )
        if (event.error !== undefined) yield* healAll(b, proxies)
      }
      // The load goes on a moment after the last fault healed, then stops.
      yield* Effect.sleep("1 second")
      stop.stopped = true
      log(`${b.name}: faults over, stopping the load`)
      yield* Fiber.join(load)
      log(`${b.name}: load stopped after ${history.ops.length} ops; closing the layer`)
      return yield* router.stats
    }).pipe(
      Effect.ensuring(healAll(b, proxies)),
      Effect.provide(ormLayer(b, { read: b.nodes.replicas.map((r, i) => proxies[i]!.url(r)) })),
      Logger.withMinimumLogLevel(LogLevel.Error)
    )
    const ranMs = Math.round(performance.now() - t0)
    log(`${b.name}: layer closed; healing the cluster`)
    yield* healAll(b, proxies)
    log(`${b.name}: healed; checking`)
    const attemptsAfter = yield* Effect.promise(() => Promise.all(b.nodes.replicas.map((r) => replicaWriteAttempts(r))))
    // Every key of the run, written or not by an acknowledged write: what the primary holds under the run's prefix.
    const final = yield* Effect.promise(() =>
      primaryQuery<{ k: string; v: string }>(b, `SELECT k, v FROM ${KV_TABLE} WHERE k LIKE ${b.p(1)}`, [`${prefix}-%`])
    ).pipe(Effect.map((rows) => History.finalStateOf(rows.map((r) => ({ key: r.k, value: r.v })))))
    const verdicts: Array<History.Verdict> = [
      ...History.checkAll(history, {
        final,
        replicaWrites: {
          replicas: b.nodes.replicas.map((r) => r.name),
          routeStats: stats,
          replicaWriteAttempts: Object.fromEntries(
            b.nodes.replicas.map((r, i) => [r.name, attemptsAfter[i]! - attemptsBefore[i]!])
          )
        }
      }),
      History.noPhantomValues(history, final)
    ]
    // Sessions and sockets back to their baseline (bounded wait) once the layer is gone; what is left is a verdict.
    const leftoversNow = Effect.promise(() => sessionBaseline(b)).pipe(Effect.map((now) => {
      const open = proxies.reduce((s, p) => s + p.unsafe.connections(), 0)
      return [
        ...Object.entries(now).filter(([n, c]) => c > baseline[n]!).map(([n, c]): History.Violation => ({
          message: `${n}: ${c} app sessions, baseline ${baseline[n]}`,
          ops: []
        })),
        ...(open > 0 ? [{ message: `${open} client connections still open through the proxies`, ops: [] }] : [])
      ]
    }))
    const settled = yield* Effect.exit(
      waitUntil(leftoversNow, (left) => left.length === 0, {
        what: "sessions and sockets back to their baseline",
        timeoutMs: 15_000,
        intervalMs: 100
      })
    )
    const leftovers = Exit.isSuccess(settled) ? [] : yield* leftoversNow
    verdicts.push({
      check: "sessions and sockets back to baseline",
      valid: leftovers.length === 0,
      checked: Object.keys(baseline).length + proxies.length,
      violations: leftovers
    })
    const summary = History.summarize(history)
    return {
      backend: b.name,
      seed,
      ranMs,
      faults,
      summary,
      readP99Ms: p99(history.ops.filter((op) => op.kind === "read")),
      writeP99Ms: p99(history.ops.filter((op) => op.kind === "write")),
      verdicts,
      clean: verdicts.every((v) => v.valid)
    } satisfies ChaosResult
  })

/** The soak's table: operations, failures by type, p99 latencies, faults injected, checker verdicts. */
export const table = (results: ReadonlyArray<ChaosResult>): string => {
  const lines: Array<string> = []
  const row = (label: string, values: ReadonlyArray<string | number>) =>
    lines.push(`| ${label.padEnd(40)} | ${values.map((v) => String(v).padStart(14)).join(" | ")} |`)
  row("", results.map((r) => r.backend))
  lines.push(`|${"-".repeat(42)}|${results.map(() => "-".repeat(16)).join("|")}|`)
  row("seed", results.map((r) => r.seed))
  row("ran (s)", results.map((r) => (r.ranMs / 1000).toFixed(0)))
  row("operations", results.map((r) => r.summary.total))
  const statuses = [...new Set(results.flatMap((r) => Object.keys(r.summary.byStatus)))].sort()
  for (const s of statuses) row(`  ${s}`, results.map((r) => r.summary.byStatus[s] ?? 0))
  const errors = [...new Set(results.flatMap((r) => Object.keys(r.summary.byError)))].sort()
  row("failures by type", results.map(() => ""))
  if (errors.length === 0) row("  (none)", results.map(() => 0))
  for (const e of errors) row(`  ${e}`, results.map((r) => r.summary.byError[e] ?? 0))
  row("p99 read (ms)", results.map((r) => r.readP99Ms))
  row("p99 write (ms)", results.map((r) => r.writeP99Ms))
  row("max op (ms)", results.map((r) => r.summary.maxMs))
  row(`read bound / write bound (ms)`, results.map(() => `${READ_BOUND_MS}/${WRITE_BOUND_MS}`))
  row("faults injected", results.map((r) => r.faults.length))
  for (const f of Object.keys(FAULTS)) row(`  ${f}`, results.map((r) => r.faults.filter((x) => x.fault === f).length))
  row("checker verdicts", results.map(() => ""))
  for (const check of results[0]?.verdicts.map((v) => v.check) ?? []) {
    row(
      `  ${check}`,
      results.map((r) => {
        const v = r.verdicts.find((x) => x.check === check)
        return v === undefined ? "-" : v.valid ? `ok (${v.checked})` : `FAIL ${v.violations.length}`
      })
    )
  }
  for (const r of results) {
    for (const v of r.verdicts.filter((x) => !x.valid)) {
      lines.push(`${r.backend} FAIL ${v.check}:`)
      for (const x of v.violations.slice(0, 10)) lines.push(`   - ${x.message}`)
    }
  }
  return lines.join("\n")
}
