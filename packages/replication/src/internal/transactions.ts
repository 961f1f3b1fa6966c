/**
 * Where a transaction runs: on the node that is the primary when it begins, for its whole length (ARCHITECTURE.md,
 * "The primary"). Its connection is reserved in a scope (`client.reserve`), or held with no scope when every node
 * that may be the primary offers it (`Connections.Holds`).
 */
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type { HeldConnection } from "@fastorm/core"
import type { NodeHealth } from "@fastorm/health"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { primaryOf } from "./eligibility.js"
import type { Primary } from "./primary.js"

/** What choosing a transaction's primary needs. */
export interface TransactionsOptions {
  /** The monitor's snapshot. */
  readonly snapshot: Effect.Effect<ReadonlyArray<NodeHealth.NodeHealth>>
  /** The snapshot read synchronously, when the monitor offers it (`HealthMonitor.snapshotNow`): no step to read it. */
  readonly snapshotNow?: (() => ReadonlyArray<NodeHealth.NodeHealth>) | undefined
  /** The snapshot with the routing resolved (cached per snapshot by the router). */
  readonly routed: (snapshot: ReadonlyArray<NodeHealth.NodeHealth>) => ReadonlyArray<NodeHealth.NodeHealth>
  readonly primaries: ReadonlyMap<string, Primary>
  /** The error when no node is the primary now. */
  readonly noPrimary: SqlError
}

/** The router's transaction acquirer, and its hold when every possible primary offers one. */
export const make = (options: TransactionsOptions): {
  readonly transactionAcquirer: Effect.Effect<Connection, SqlError, Scope.Scope>
  readonly transactionHold: Effect.Effect<HeldConnection, SqlError> | undefined
} => {
  const { noPrimary, primaries, routed, snapshot, snapshotNow } = options
  const on = <A, R>(use: (primary: Primary) => Effect.Effect<A, SqlError, R>) => {
    const onPrimaryOf = (now: ReadonlyArray<NodeHealth.NodeHealth>) => {
      const current = primaryOf(routed(now))?.name
      const primary = current === undefined ? undefined : primaries.get(current)
      return primary === undefined ? Effect.fail(noPrimary) : use(primary)
    }
    return snapshotNow === undefined
      ? Effect.flatMap(snapshot, onPrimaryOf)
      : Effect.suspend(() => onPrimaryOf(snapshotNow()))
  }
  const holds = [...primaries.values()].every((primary) => primary.hold !== undefined)
  return {
    transactionAcquirer: on((primary) => primary.transaction),
    transactionHold: holds ? on((primary) => primary.hold!) : undefined
  }
}
