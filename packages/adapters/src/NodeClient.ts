/**
 * One node's client in the one shape every router path relies on (`DatabaseAdapter.NodeClient`): an @effect/sql
 * client whose pooled connection, reserved connections and compiled-statement runner all bound themselves. The
 * adapters' PostgreSQL and MySQL clients are made with it, and so are test doubles, so tests run the production path.
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import type { HeldConnection } from "@fastorm/core"
import { CompiledStatement, CompiledStream, HoldTypeId } from "@fastorm/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type { NodeClient, NodeReads, PoolStatus } from "./DatabaseAdapter.js"

/** What a node client is made of. */
export interface NodeClientParts {
  /** The pooled connection: each statement borrows a connection and gives it back, within its deadline. */
  readonly connection: Connection
  /** A connection held for a scope (transactions, streams); default: `hold`'s, else the pooled connection. */
  readonly reserve?: Effect.Effect<Connection, SqlError, Scope.Scope> | undefined
  /**
   * A connection held with no scope, given back by its `release` (`Holds`): `Database.transaction` takes it so,
   * without a scope or a context change.
   */
  readonly hold?: Effect.Effect<HeldConnection, SqlError> | undefined
  readonly compiler: Statement.Compiler
  /** The attributes of every statement's span. */
  readonly spanAttributes: ReadonlyArray<readonly [string, unknown]>
  /** The deadline every statement of this client carries (zero: the node never waits on a network). */
  readonly statementDeadline: Duration.Duration
  /** How busy the pool is; default: one connection, never busy. */
  readonly poolStatus?: (() => PoolStatus) | undefined
  /** Reads a router may retry elsewhere, which `cut` ends at once; default: the pooled connection, nothing to cut. */
  readonly reads?: NodeReads | undefined
}

const single = (): PoolStatus => ({ open: 1, idle: 1, waiting: 0, max: 1 })
const none = () => 0

/** `hold` for a scope: the connection goes back when the scope closes, with the scope's exit. */
export const scopedHold = (
  hold: Effect.Effect<HeldConnection, SqlError>
): Effect.Effect<Connection, SqlError, Scope.Scope> =>
  // Uninterruptible, as `acquireRelease` is: nothing can come between the hold and its release's registration.
  Effect.uninterruptible(
    Effect.flatMap(Scope.Scope, (scope) =>
      Effect.flatMap(hold, (held) => Effect.as(Scope.addFinalizerExit(scope, held.release), held.connection)))
  )

/** Assembles a node client from its parts. */
export const make = (parts: NodeClientParts): Effect.Effect<NodeClient, never, Reactivity> => {
  const reserve = parts.reserve ??
    (parts.hold !== undefined ? scopedHold(parts.hold) : Effect.succeed(parts.connection))
  return Effect.map(
    SqlClient.make({
      acquirer: Effect.succeed(parts.connection),
      transactionAcquirer: reserve,
      compiler: parts.compiler,
      spanAttributes: parts.spanAttributes
    }),
    (client) =>
      Object.assign(client, {
        [CompiledStatement.RunnerTypeId]: CompiledStatement.makeRunner(
          parts.connection,
          (statement, params) => client.unsafe(statement.sql, params),
          parts.spanAttributes
        ),
        // Counting writes (update, increment, delete by query) read the driver's count on the same direct path.
        [CompiledStatement.CountRunnerTypeId]: CompiledStatement.makeCountRunner(
          parts.connection,
          (statement, params) => Effect.map(client.unsafe(statement.sql, params).raw, CompiledStatement.affectedRows),
          parts.spanAttributes
        ),
        // Streams of compiled statements (a query's `stream()`) in batches, as arrays where the driver gives them.
        [CompiledStream.StreamRunnerTypeId]: CompiledStream.makeStreamRunner(
          parts.connection,
          CompiledStream.statementStream(client),
          parts.spanAttributes
        ),
        ...(parts.hold !== undefined ? { [HoldTypeId]: parts.hold } : {}),
        connection: parts.connection,
        reads: parts.reads ?? { connection: parts.connection, reserve, cut: none },
        statementDeadline: parts.statementDeadline,
        poolStatus: parts.poolStatus ?? single
      })
  )
}
