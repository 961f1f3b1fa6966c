/**
 * The router's own bounds around a node whose client is looser than the router's configuration (a client made
 * outside `FastOrm.layer`, with the adapters' 30 s default statement timeout, say). `FastOrm.layer` and
 * `FastOrmTest` build their node clients with the router's bounds, so for them the guard is the identity
 * (ARCHITECTURE.md, "Deadlines").
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import { timeoutError } from "./failures.js"
import type { NodeHandle } from "./primary.js"

/** Bounds statements and connection reservations on one node. */
export interface Guard {
  readonly statement: <A>(effect: Effect.Effect<A, SqlError>) => Effect.Effect<A, SqlError>
  readonly reserve: <A>(effect: Effect.Effect<A, SqlError, Scope.Scope>) => Effect.Effect<A, SqlError, Scope.Scope>
  /**
   * Whether the node bounds itself (the guard is the identity): only then may a transaction hold a connection with
   * no scope (`Connections.Holds`), which runs uninterruptibly and so could not be cut short by a guard's timeout.
   */
  readonly transparent: boolean
}

const identity: Guard = { statement: (effect) => effect, reserve: (effect) => effect, transparent: true }

// The node's own deadline is its statement timeout plus the client-side margin (100 ms in the adapters).
const MARGIN = Duration.millis(150)

/** The guard of `node` under `config`: the identity when the node's own deadline is no looser than the router's. */
export const make = (node: NodeHandle, config: ResolvedReadWriteConfig): Guard => {
  if (Duration.lessThanOrEqualTo(node.client.statementDeadline, Duration.sum(config.statementTimeout, MARGIN))) {
    return identity
  }
  return {
    transparent: false,
    // disconnect: a frozen server's cancel runs in the background, not in the caller's time.
    statement: (effect) =>
      Effect.disconnect(effect).pipe(
        Effect.timeoutFail({
          duration: config.statementTimeout,
          onTimeout: () => timeoutError(node.name, "A statement", config.statementTimeout)
        })
      ),
    reserve: (effect) =>
      effect.pipe(
        Effect.timeoutFail({
          duration: config.connectTimeout,
          onTimeout: () => timeoutError(node.name, "Connecting", config.connectTimeout)
        })
      )
  }
}
