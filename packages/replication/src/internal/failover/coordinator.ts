/**
 * FastORM's own failover, opt-in: a fiber of the layer that looks at the cluster every probe interval and, when the
 * primary has been lost long enough and a majority of the replicas confirm it, promotes the most advanced replica,
 * re-points the others at it, and later makes the old primary read-only if it comes back (ARCHITECTURE.md,
 * "Topology"). The decision is `decide`; this module gathers the facts and carries the verdict out.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { HealthMonitor } from "@fastorm/health"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { decide, type Witness } from "./decide.js"
import type { Endpoint, FailoverOps } from "./ops.js"

/** One node as the coordinator sees it: its name, where it listens, an admin connection to it. */
export interface FailoverNode {
  readonly name: string
  readonly endpoint: Endpoint
  readonly admin: SqlClient.SqlClient
}

/** What the coordinator needs. */
export interface CoordinatorOptions {
  readonly nodes: ReadonlyArray<FailoverNode>
  readonly ops: FailoverOps
  readonly monitor: HealthMonitor.HealthMonitorShape
  /** How long the primary must have been lost before a promotion. */
  readonly afterMs: number
  /** How often to look (the monitor's probe interval). */
  readonly interval: Duration.Duration
}

const witnessOf = (ops: FailoverOps, node: FailoverNode) =>
  Effect.all({ lostPrimary: ops.lostPrimary(node.admin), received: ops.received(node.admin) }).pipe(
    Effect.map((facts): Witness => ({ node: node.name, ...facts })),
    // A replica that does not answer confirms nothing.
    Effect.option
  )

/** Starts the coordinator in the layer's scope. */
export const start = (options: CoordinatorOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { monitor, nodes, ops } = options
    let lastPrimary: string | undefined
    let lostSince: number | undefined
    let lastWhy: string | undefined
    const demoted = new Set<string>()

    const witnesses = (primary: string) =>
      Effect.map(
        Effect.forEach(nodes.filter((n) => n.name !== primary), (n) => witnessOf(ops, n), { concurrency: "unbounded" }),
        (found) => found.flatMap((w) => w._tag === "Some" ? [w.value] : [])
      )

    const someoneWritable = (except: string) =>
      Effect.map(
        Effect.forEach(
          nodes.filter((n) => n.name !== except),
          (n) => Effect.orElseSucceed(ops.writable(n.admin), () => false),
          { concurrency: "unbounded" }
        ),
        (flags) => flags.some((w) => w)
      )

    /** An old primary that came back writable is made read-only (the router already sends it nothing). */
    const fence = Effect.forEach([...demoted], (name) => {
      const node = nodes.find((n) => n.name === name)!
      return Effect.flatMap(Effect.orElseSucceed(ops.writable(node.admin), () => false), (writable) =>
        !writable ? Effect.void : ops.fence(node.admin).pipe(
          Effect.zipRight(Effect.logWarning(`failover: fenced the old primary "${name}" (made read-only)`)),
          Effect.zipRight(Effect.sync(() =>
            demoted.delete(name)
          )),
          Effect.ignore
        ))
    }, { discard: true })

    const look = Effect.gen(function*() {
      yield* fence
      const snapshot = yield* monitor.snapshot
      const named = snapshot.find((h) => h.routing === "primary")
      const now = Date.now()
      if (named !== undefined && named.status !== "UNHEALTHY") {
        lastPrimary = named.name
        lostSince = undefined
        return
      }
      if (lastPrimary === undefined) return
      // Two writable nodes (a conflict) are not a lost primary: the topology fences one of them.
      if (named === undefined && snapshot.some((h) => h.name !== lastPrimary && h.routing === "fenced")) return
      lostSince ??= now
      const first = yield* witnesses(lastPrimary)
      yield* Effect.sleep("200 millis")
      const second = yield* witnesses(lastPrimary)
      const stable = first.length === second.length &&
        first.every((w, i) => w.received === second[i]?.received && w.node === second[i]?.node)
      const verdict = decide({
        downForMs: now - lostSince,
        afterMs: options.afterMs,
        witnesses: second,
        replicas: nodes.length - 1,
        stable,
        compare: ops.compare
      })
      if (verdict._tag !== "Promote") {
        if (verdict._tag === "Waiting" && verdict.why !== lastWhy) {
          lastWhy = verdict.why
          yield* Effect.logInfo(`failover: "${lastPrimary}" lost; no promotion yet: ${verdict.why}`)
        }
        return
      }
      // Another instance may have promoted a replica a moment ago: follow it instead of promoting a second one.
      if (yield* someoneWritable(lastPrimary)) {
        yield* monitor.check
        return
      }
      const chosen = nodes.find((n) => n.name === verdict.node)!
      yield* ops.promote(chosen.admin)
      for (const other of nodes) {
        if (other.name === chosen.name || other.name === lastPrimary) continue
        yield* Effect.ignore(ops.repoint(other.admin, chosen.endpoint, chosen.admin))
      }
      demoted.add(lastPrimary)
      yield* Effect.logWarning(
        `failover: promoted "${chosen.name}": "${lastPrimary}" was lost for ${now - lostSince} ms and ` +
          `${second.filter((w) => w.lostPrimary).length} of ${nodes.length - 1} replicas confirmed it`
      )
      lastPrimary = chosen.name
      lostSince = undefined
      yield* monitor.check
    }).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("failover: a look at the cluster failed", cause))
    )

    yield* Effect.forkScoped(Effect.repeat(look, Schedule.spaced(options.interval)))
  })
