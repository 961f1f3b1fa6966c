/**
 * The `Controls` of `FastOrmTest.layer`: scripting the test nodes' state (status, latency, lag, role, failures) and
 * reading what the nodes recorded. Every change is a plain write to a node's state, which the test nodes and the test
 * monitor read at their next statement or probe; a status change is published as the monitor would.
 */
import type { NodeHealth } from "@fastorm/health"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ControlsShape } from "../FastOrmTest.js"
import type { TestMonitor } from "./testMonitor.js"
import * as TestNodes from "./testNodes.js"

/** What the controls act on. */
export interface ControlsOptions {
  readonly primary: string
  readonly replicas: ReadonlyArray<string>
  readonly nodes: ReadonlyMap<string, TestNodes.NodeState>
  readonly monitor: TestMonitor
  readonly log: TestNodes.StatementLog
  /** Forgets the router's own statistics. */
  readonly resetStats: Effect.Effect<void>
}

/** The controls over `options.nodes`. */
export const make = (options: ControlsOptions): ControlsShape => {
  const { log, monitor, nodes } = options
  const order = [...nodes.keys()]
  const node = (name: string) =>
    Effect.suspend(() => {
      const state = nodes.get(name)
      return state === undefined
        ? Effect.dieMessage(`FastOrmTest: no node named "${name}" (nodes: ${order.join(", ")})`)
        : Effect.succeed(state)
    })
  const now = Effect.clockWith((clock) => clock.currentTimeMillis)

  const setStatus = (name: string, status: NodeHealth.Status) =>
    Effect.flatMap(node(name), (state) =>
      Effect.flatMap(now, (at) => {
        const from = state.status
        if (from === status) return Effect.void
        state.status = status
        state.lastChangeAt = at
        return monitor.publish({ node: name, from, to: status, at, health: monitor.health(state, at) })
      }))
  const update = (name: string, f: (state: TestNodes.NodeState) => void) =>
    Effect.flatMap(node(name), (state) => Effect.sync(() => f(state)))

  return {
    primary: options.primary,
    replicas: options.replicas,
    setStatus,
    setLatency: (name, latency) =>
      update(name, (state) => {
        state.latency = Duration.decode(latency)
      }),
    setLag: (name, seconds) =>
      update(name, (state) => {
        state.lag = seconds
      }),
    setReplicating: (name, replicating) =>
      update(name, (state) => {
        state.replicating = replicating
      }),
    setRole: (name, role) =>
      update(name, (state) => {
        state.role = role
      }),
    fail: (name, kind, failOptions) =>
      Effect.flatMap(now, (at) =>
        update(name, (state) => {
          TestNodes.setFailure(state, { kind, remaining: failOptions?.times }, at)
        })),
    recover: (name) =>
      Effect.zipRight(
        Effect.flatMap(now, (at) =>
          update(name, (state) => {
            TestNodes.setFailure(state, undefined, at)
            state.latency = Duration.zero
            state.lag = state.configuredRole === "replica" ? 0 : undefined
            state.replicating = true
            state.role = state.configuredRole
          })),
        setStatus(name, "HEALTHY")
      ),
    statements: Effect.sync(() => [...log.entries]),
    reports: Effect.sync(() => [...monitor.reports]),
    clear: Effect.zipRight(
      Effect.sync(() => {
        log.entries.length = 0
        monitor.reports.length = 0
      }),
      options.resetStats
    ),
    probe: monitor.probeAll
  }
}
