/**
 * `fastorm status --write <url> --read <url>...`: a HealthMonitor over the nodes, the same one `FastOrm.layer`
 * runs, and its view as a table or JSON: every node's role, status, latency, lag and last error, and readiness.
 */
import type { DatabaseAdapterFactory } from "@fastorm/adapters"
import { ClusterStatus, HealthMonitor } from "@fastorm/health"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** Nodes and thresholds of `fastorm status`. */
export interface StatusOptions {
  readonly write: string
  readonly read: ReadonlyArray<string>
  readonly interval: Duration.DurationInput
  readonly timeout: Duration.DurationInput
}

/** The cluster's state at one moment. */
export interface StatusReport {
  readonly ready: boolean
  readonly reason: string
  readonly nodes: ReadonlyArray<ClusterStatus.NodeReport>
}

/** Starts monitoring the nodes (probing until the scope ends) and returns the status after the first round. */
export const start = (
  options: StatusOptions
): Effect.Effect<
  { readonly first: StatusReport; readonly current: Effect.Effect<StatusReport> },
  HealthMonitor.InvalidHealthConfig | DatabaseAdapterFactory.AdapterCreateError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const monitor = yield* HealthMonitor.make({
      cluster: "cli",
      interval: options.interval,
      timeout: options.timeout,
      nodes: [
        { name: "primary", role: "primary", url: options.write },
        ...options.read.map((url, i) => ({ name: `replica-${i + 1}`, role: "replica" as const, url }))
      ]
    })
    const status = ClusterStatus.fromMonitor("cli", monitor)
    const current = Effect.gen(function*() {
      const readiness = yield* status.readiness()
      return { ready: readiness.ready, reason: readiness.reason, nodes: yield* status.nodes }
    })
    // One answer is enough for a node that answers; a node that does not stays UNKNOWN until it has failed
    // failureThreshold probes: look again (bounded) so the first table says UNHEALTHY, not UNKNOWN.
    for (let round = 0; round < 5; round++) {
      const snapshot = yield* monitor.check
      if (snapshot.every((n) => n.status !== "UNKNOWN")) break
      yield* Effect.sleep(options.interval)
    }
    return { first: yield* current, current }
  })

const pad = (text: string, width: number) => text.length >= width ? text : text + " ".repeat(width - text.length)

/** The report as a table, for a terminal. */
export const render = (report: StatusReport): string => {
  const header = ["NODE", "ROLE", "STATUS", "LATENCY", "LAG", "LAST ERROR"]
  const rows = report.nodes.map((n) => [
    n.name,
    n.role ?? n.configuredRole,
    n.status,
    n.latencyMs === null ? "-" : `${n.latencyMs} ms`,
    n.lagSeconds === null ? "-" : `${n.lagSeconds} s`,
    n.lastError === null
      ? ""
      : `${n.lastError.tag}${n.lastError.code === null ? "" : ` ${n.lastError.code}`}: ${n.lastError.message}`
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => pad(c, widths[i]!)).join("  ").trimEnd()
  return [`${report.ready ? "READY" : "NOT READY"}: ${report.reason}`, line(header), ...rows.map(line)].join("\n")
}
