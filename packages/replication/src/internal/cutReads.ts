/**
 * What the router does at once when the monitor finds a replica failing. Reads waiting on a replica found down are
 * ended and retried on another node, instead of waiting out the statement timeout: a read queued in a pooler in front
 * of a dead server, or sent to a frozen one, would otherwise take all of it (ARCHITECTURE.md, "Deadlines"). Only
 * reads: the replica path's connection (`NodeClient.reads`) is the one whose statements are tracked, and a read is
 * safe to run again. Streams of reads on it end too, with the same error (not run again: rows were delivered). And the
 * replay position the router's own waits learnt there is forgotten (ARCHITECTURE.md, "Read-your-writes").
 */
import type { HealthMonitor, NodeHealth } from "@fastorm/health"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Log from "./log.js"
import type { NodeHandle } from "./primary.js"

/**
 * Whether a change says the reads waiting on its node will not be answered: it turned UNHEALTHY because it does not
 * answer (a refused or broken connection, a probe timed out). A replica that only stopped replicating, answers too
 * slowly or refuses logins still answers the reads it has.
 */
export const cutsReads = (change: NodeHealth.StatusChange): boolean =>
  change.to === "UNHEALTHY" && change.from !== "UNHEALTHY" &&
  (change.health.lastError?.tag === "ConnectionFailed" || change.health.lastError?.tag === "Timeout")

/**
 * Whether a change voids what the router's waits learnt the node has replayed: it turned UNHEALTHY, for any reason. A
 * replica that stopped replicating or went down may be rewound to another history (a promotion elsewhere) before it
 * replicates again, and a position learnt on the old one can then look like it covers positions it does not hold.
 */
export const forgetsPosition = (change: NodeHealth.StatusChange): boolean =>
  change.to === "UNHEALTHY" && change.from !== "UNHEALTHY"

/**
 * For the scope's life: the reads waiting on each replica the monitor finds down are ended (and so retried), and
 * `forget` is called for each replica that turns UNHEALTHY.
 */
export const start = (
  cluster: string,
  monitor: HealthMonitor.HealthMonitorShape,
  replicas: ReadonlyArray<NodeHandle>,
  forget: (node: string) => void
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const reads = new Map(replicas.map((replica) => [replica.name, replica.client.reads]))
    // Subscribed before the fiber starts: no change can slip in between.
    const changes = yield* monitor.subscribe
    const onChange = (change: NodeHealth.StatusChange): Effect.Effect<void> => {
      if (forgetsPosition(change)) forget(change.node)
      if (!cutsReads(change)) return Effect.void
      const ended = reads.get(change.node)?.cut() ?? 0
      if (ended === 0) return Effect.void
      const text =
        `${change.node} was found down: ${ended} reads or streams waiting on it were ended (reads run elsewhere)`
      return Log.warning(cluster, text, {
        node: change.node,
        reason: "retry",
        ended
      })
    }
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(changes), onChange)))
  })
