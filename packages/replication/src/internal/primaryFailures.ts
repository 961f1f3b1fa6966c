/**
 * What a failure on the primary means (ARCHITECTURE.md, "The primary"): every connection busy is `PoolExhausted` (the
 * monitor is not told), a dead node `PrimaryUnavailable`, a read-only refusal a demotion (the monitor looks again),
 * and a write whose connection was lost after it was sent `WriteOutcomeUnknown`.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { AdapterError } from "@fastorm/adapters"
import * as Effect from "effect/Effect"
import { PoolExhausted, PrimaryUnavailable, toSqlError, WriteOutcomeUnknown } from "../RouterError.js"
import {
  isAcquireTimeout,
  isAuthentication,
  isBusy,
  isConnectionClass,
  isNodeFault,
  isReadOnlyRefusal,
  poolerText,
  wasNotSent
} from "./failures.js"
import type { NodeHandle } from "./primary.js"

const diagnose = AdapterError.diagnose

/** What telling a failure's meaning needs. */
export interface PrimaryFailuresOptions {
  readonly node: NodeHandle
  /** Tells the monitor about a failure the application saw on a node. */
  readonly report: (node: string, error: SqlError) => Effect.Effect<void>
  /** Asks the monitor to probe a node now (it refused a write as read-only: its role changed). */
  readonly recheck: (node: string) => Effect.Effect<void>
  /** What the session records for a write whose outcome is unknown (nothing without session positions). */
  readonly outcomeUnknown: Effect.Effect<void>
}

/** The meanings of connect and statement failures on one primary. */
export const make = (options: PrimaryFailuresOptions) => {
  const { node, outcomeUnknown, recheck, report } = options

  /** Connecting failed: every connection busy, here or in a pooler, is not a dead server (the monitor is not told). */
  const connectFailure = (error: SqlError): Effect.Effect<never, SqlError> => {
    const pool = node.client.poolStatus()
    if (isBusy(error)) {
      const reason = poolerText(error)
      return Effect.fail(toSqlError(
        new PoolExhausted({
          node: node.name,
          limit: pool.max,
          ...(reason === undefined ? {} : { reason }),
          cause: error
        })
      ))
    }
    if (isAcquireTimeout(error) && pool.open >= pool.max && pool.idle === 0) {
      return Effect.fail(toSqlError(new PoolExhausted({ node: node.name, limit: pool.max, cause: error })))
    }
    return Effect.zipRight(
      report(node.name, error),
      Effect.fail(
        isNodeFault(error)
          ? toSqlError(
            new PrimaryUnavailable({ node: node.name, reason: diagnose(error).text, cause: error })
          )
          : error
      )
    )
  }

  /** A statement failed: before it was sent (a connect failure), or with an outcome the caller must be told. */
  const statementFailure = (write: boolean) => (error: SqlError): Effect.Effect<never, SqlError> => {
    if (isAcquireTimeout(error) || isBusy(error) || (!isConnectionClass(error) && isAuthentication(error))) {
      return connectFailure(error)
    }
    // The node refused it as read-only: it was demoted since the monitor last looked (a switchover, a promotion
    // elsewhere). Nothing was applied; the monitor looks again now, and the next write goes to the new primary.
    if (write && isReadOnlyRefusal(error)) {
      return Effect.zipRight(
        recheck(node.name),
        Effect.fail(toSqlError(
          new PrimaryUnavailable({
            node: node.name,
            reason: "it answers as read-only (demoted: a switchover, or a promotion elsewhere)",
            cause: error
          })
        ))
      )
    }
    if (!isConnectionClass(error)) return Effect.fail(error)
    // Never sent (refused at connect, a socket already dead): nothing was applied, whatever the statement.
    if (wasNotSent(error)) return connectFailure(error)
    if (!write) {
      return Effect.zipRight(
        report(node.name, error),
        Effect.fail(toSqlError(
          new PrimaryUnavailable({ node: node.name, reason: `connection lost: ${diagnose(error).text}`, cause: error })
        ))
      )
    }
    return Effect.zipRight(
      Effect.zipRight(report(node.name, error), outcomeUnknown),
      Effect.fail(toSqlError(new WriteOutcomeUnknown({ node: node.name, cause: error })))
    )
  }

  return { connectFailure, statementFailure }
}
