/**
 * Execution on the primary: the pooled hot path, reserved connections (writes that record the session's position,
 * streams, transactions); what a failure there means is `primaryFailures.ts` (ARCHITECTURE.md, "The primary").
 */
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type { DatabaseAdapter } from "@fastorm/adapters"
import type { HeldConnection } from "@fastorm/core"
import { CompiledStatement, Connections, ConnectionWrapper, holdOf } from "@fastorm/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as Scope from "effect/Scope"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import * as SessionToken from "../SessionToken.js"
import type { ConsistencyOps } from "./consistency.js"
import { committedPosition } from "./consistency.js"
import type { Reason } from "./decision.js"
import { isConnectionClass, wasNotSent } from "./failures.js"
import * as Guard from "./guard.js"
import * as PrimaryFailures from "./primaryFailures.js"
import type { Recorder } from "./routeStats.js"
import * as SharedPosition from "./sharedPosition.js"

/** A statement to run on whichever connection it is given. */
export type Run<A> = (connection: Connection) => Effect.Effect<A, SqlError>

/** One node the router can send statements to. */
export interface NodeHandle {
  readonly name: string
  /** The node's client, as the adapters make it: it bounds connecting and every statement by itself. */
  readonly client: DatabaseAdapter.NodeClient
  /** Relative share of ordinary reads under the `weighted` strategy (and the base of every strategy). */
  readonly weight: number
  /** Where the node listens, for the `server.address` / `server.port` span attributes; none for SQLite. */
  readonly server?: { readonly address: string; readonly port?: number | undefined } | undefined
}

/** What execution on the primary needs. */
export interface PrimaryOptions {
  readonly cluster: string
  readonly node: NodeHandle
  readonly config: ResolvedReadWriteConfig
  /** Tells the monitor about a failure the application saw on a node. */
  readonly report: (node: string, error: SqlError) => Effect.Effect<void>
  /** Asks the monitor to probe a node now (it refused a write as read-only: its role changed). */
  readonly recheck: (node: string) => Effect.Effect<void>
  readonly recorder: Recorder
  /** Undefined for SQLite: every reader sees every commit. */
  readonly consistency: ConsistencyOps | undefined
}

/** Execution on the primary. */
export interface Primary {
  /**
   * Runs a statement the decision sent to the primary; `fiber`, when the caller has it, is the fiber about to run the
   * returned effect (the router's decision reads it anyway): counting and timing then take no runtime step.
   */
  readonly run: <A>(
    reason: Reason,
    write: boolean,
    run: Run<A>,
    fiber?: Fiber.RuntimeFiber<any, any>
  ) => Effect.Effect<A, SqlError>
  /** A reserved connection for a stream, counted under `reason`, with connect failures mapped like a statement's. */
  readonly reserveFor: (reason: Reason) => Effect.Effect<Connection, SqlError, Scope.Scope>
  /** The connection of a transaction: every statement counted, COMMIT records the session's position. */
  readonly transaction: Effect.Effect<Connection, SqlError, Scope.Scope>
  /**
   * The same connection held with no scope (`Connections.Holds`), when the node's client offers it and bounds
   * itself; `Database.transaction` gives it back.
   */
  readonly hold: Effect.Effect<HeldConnection, SqlError> | undefined
}

/** The session's position on the cluster when a write was sent (`SessionToken.record`). */
type Sent = { readonly standing: SessionToken.Position | undefined }

/** Builds execution on the primary. */
export const make = (options: PrimaryOptions): Primary => {
  const { config, consistency, node, recorder, recheck, report } = options
  const guard = Guard.make(node, config)

  const capturesPositions = consistency !== undefined && config.consistency === "session"
  /**
   * A write (or COMMIT) of the session whose outcome is unknown: the session reads from the primary until its next
   * write records a position (`SessionToken.recordUnknown`), so it never sees the write on a replica and then loses it.
   */
  const outcomeUnknown = capturesPositions ? SessionToken.recordUnknown(options.cluster) : Effect.void

  const { connectFailure, statementFailure } = PrimaryFailures.make({ node, report, recheck, outcomeUnknown })
  // Made once, not per statement: the hot path picks one.
  const writeFailed = statementFailure(true)
  const readFailed = statementFailure(false)

  const reserve = Effect.catchAll(guard.reserve(node.client.reserve), connectFailure)
  // Positions of writes outside transactions: one read on a pooled connection serves every write that finished
  // before it started. On the read path of the primary's client: a read, which behind a pooler shares the batches of
  // reads and writes rather than taking a round trip of its own (ARCHITECTURE.md, "Batches behind a pooler").
  const positions = consistency === undefined
    ? undefined
    : SharedPosition.make(Effect.suspend(() => consistency.latest(node.client.reads.connection)))

  /**
   * Starts reading the write's position and marks it pending for the session (ARCHITECTURE.md, "Read-your-writes"):
   * the write returns at once; the read, started after the write returned, on any connection of this primary and
   * shared with the other writes waiting then, is awaited only by the session's next read on this cluster.
   */
  const markWritten = <A>(value: A): Effect.Effect<A> =>
    !capturesPositions || positions === undefined
      ? Effect.succeed(value)
      : Effect.withFiberRuntime((fiber) => markWrittenIn(fiber, value))

  /**
   * `markWritten` in `fiber`, the fiber running the write, from inside its run (an outcome handler): the batch is
   * joined synchronously, and the session's tokens change only when this write is the session's first in the batch.
   */
  const markWrittenIn = <A>(fiber: Fiber.RuntimeFiber<any, any>, value: A): Effect.Effect<A> => {
    if (!capturesPositions || positions === undefined) return Effect.succeed(value)
    const [read, timer] = positions.join()
    const tokens = fiber.getFiberRef(SessionToken.currentTokens)
    const marked = SessionToken.pendingMarked(tokens, options.cluster, read)
    const done = timer === undefined ? Effect.succeed(value) : Effect.as(timer, value)
    return marked === tokens ? done : Effect.zipRight(FiberRef.set(SessionToken.currentTokens, marked), done)
  }

  // Where the node tells each write's position with the write (`DatabaseAdapter.CommitPositions`: MariaDB's GTID in
  // its OK packet; PostgreSQL's, read just after the write on its lane or after its COMMIT in its batch behind a
  // pooler), the session records it when the write returns; the shared read only when none came back. Asked per write:
  // a PostgreSQL node's offer follows what it found (lanes, a pooler). Where telling it costs a statement
  // (PostgreSQL's), only for a session that reads after its writes: a write no read follows joins the shared read,
  // which serves every write of its gathering (`sharedPosition.ts`).
  const commitsNow = () => capturesPositions ? node.client.commitPositions : undefined
  /** Whether the session running in `fiber` reads after its writes: only it pays a statement for a write's position. */
  const readsItsWrites = (fiber: Fiber.RuntimeFiber<any, any>) =>
    SessionToken.readsAfterWrites(fiber.getFiberRef(SessionToken.currentTokens), options.cluster)
  const commitsFor = (fiber: Fiber.RuntimeFiber<any, any>) => {
    const commits = commitsNow()
    return commits === undefined || !commits.costsStatement || readsItsWrites(fiber) ? commits : undefined
  }
  /**
   * A write whose position is known when it returns: the session records it at once (`record`: merged with its
   * earlier positions; its pending reads stay, they cover what they cover). Unknown: the shared read.
   */
  const recordPosition = (position: SessionToken.Position | undefined, sent: Sent): Effect.Effect<void> =>
    position === undefined ? markWritten(undefined) : SessionToken.record(options.cluster, position, sent)
  const recordCommit = (committed: string | undefined, sent: Sent): Effect.Effect<void> =>
    recordPosition(consistency === undefined ? undefined : committedPosition(consistency, committed), sent)
  /**
   * The session's position on the cluster as it stood when a write was sent, in `fiber`: the position the write's
   * reply tells ends only an unknown position standing then, not one a concurrent fiber recorded since.
   */
  const sentIn = (fiber: Fiber.RuntimeFiber<any, any>): Sent => ({
    standing: SessionToken.positionOf(fiber.getFiberRef(SessionToken.currentTokens), options.cluster)
  })

  /**
   * One attempt of a statement in `fiber`, the fiber running it: counted and timed, its failure told apart
   * (`statementFailure`) and a write's position recorded, in one pair of outcome handlers (ARCHITECTURE.md, "The path
   * of one statement"). Under a tracer the attempt's span covers the statement, not the session's position.
   */
  const attempt = <A>(
    fiber: Fiber.RuntimeFiber<any, any>,
    reason: Reason,
    write: boolean,
    run: Run<A>
  ): Effect.Effect<A, SqlError> => {
    const done = recorder.begin(fiber, node.name, reason)
    const tracing = CompiledStatement.isTracing(fiber)
    // The node tells the write's position with its result (`commitsNow`); otherwise it joins the shared position read.
    const commits = write ? commitsFor(fiber) : undefined
    const marks = write && commits === undefined && !tracing
    const failed = write ? writeFailed : readFailed
    // Hot path: the pooled connection borrows and returns inside the driver, with no scope per statement.
    const statementOn = (connection: Connection) =>
      recorder.spanned(
        fiber,
        node.name,
        reason,
        Effect.matchCauseEffect(guard.statement(run(connection)), {
          onFailure: (cause) => {
            done()
            const failure = Cause.failureOrCause(cause)
            return failure._tag === "Left" ? failed(failure.left) : Effect.failCause(failure.right)
          },
          onSuccess: (value) => {
            done()
            return marks ? markWrittenIn(fiber, value) : Effect.succeed(value)
          }
        })
      )
    if (commits !== undefined) {
      // The run learns its own statement's position, whatever other writers run meanwhile.
      const sent = sentIn(fiber)
      return Effect.flatMap(
        commits.runCommitted(statementOn),
        ([value, committed]) => Effect.as(recordCommit(committed, sent), value)
      )
    }
    const statement = statementOn(node.client.connection)
    return write && tracing ? Effect.flatMap(statement, (value) => markWrittenIn(fiber, value)) : statement
  }

  // Given the fiber that runs it (the router's decision), the attempt is built at once; else when it runs. Under a
  // tracer always when it runs: the decision may set the span it belongs to around it.
  const runOn = <A>(
    reason: Reason,
    write: boolean,
    run: Run<A>,
    fiber?: Fiber.RuntimeFiber<any, any>
  ): Effect.Effect<A, SqlError> =>
    fiber !== undefined && !CompiledStatement.isTracing(fiber)
      ? attempt(fiber, reason, write, run)
      : Effect.withFiberRuntime((now) => attempt(now, reason, write, run))

  /** A COMMIT whose connection was lost once it was sent may have been applied (`TransactionOutcomeUnknown`). */
  const commitLost = (error: SqlError): Effect.Effect<void> =>
    isConnectionClass(error) && !wasNotSent(error) ? outcomeUnknown : Effect.void

  /**
   * A COMMIT run in one pair of outcome handlers: a failure tells a lost COMMIT (`commitLost`) and stays the caller's;
   * a success goes on to `committed`. A `tapError` and a `tap` were more runtime steps per transaction (BENCHMARKS.md,
   * lever 55).
   */
  const afterCommit = <A, B>(
    commit: Effect.Effect<A, SqlError>,
    committed: (value: A) => Effect.Effect<B>
  ): Effect.Effect<B, SqlError> =>
    Effect.matchCauseEffect(commit, {
      onFailure: (cause) => {
        const failure = Cause.failureOrCause(cause)
        return failure._tag === "Left"
          ? Effect.zipRight(commitLost(failure.left), Effect.failCause(cause))
          : Effect.failCause(cause)
      },
      onSuccess: committed
    })

  /** A transaction's connection: every statement counted; COMMIT records the session's position. */
  const inTransaction = (connection: Connection): Connection => {
    // Counted (reason "transaction") so the stats show the primary's whole load; no span: the transaction has one.
    const counted: ConnectionWrapper.Around = (_sql, _params, run) =>
      Effect.withFiberRuntime((fiber) => {
        recorder.countIn(fiber, node.name, "transaction")
        return guard.statement(run(connection))
      })
    const stream: ConnectionWrapper.AroundStream = (_sql, _params, run) => run(connection)
    // No session positions to record (SQLite, `consistency: "eventual"`): COMMIT is a statement like the others.
    if (!capturesPositions) return ConnectionWrapper.make(counted, stream)
    return ConnectionWrapper.make(counted, stream, (plain) => (sql, params, transformRows) => {
      if (!/^\s*COMMIT\s*$/i.test(sql)) {
        return plain(sql, params, transformRows)
      }
      const withCommit = consistency?.withCommit
      return Effect.withFiberRuntime((fiber) => {
        const sent = sentIn(fiber)
        // The position travels with the COMMIT (one round trip) for a session that reads after its writes (the rule
        // of `commitsFor`: it costs the server a statement); the shared read if it did not come back, or for others.
        if (withCommit !== undefined && readsItsWrites(fiber)) {
          return afterCommit(
            plain(`COMMIT; ${withCommit.sql}`, params, undefined),
            (results) => Effect.as(recordPosition(withCommit.position(results), sent), [])
          )
        }
        // The session marked in this fiber, which the handler already has (no fiber read of its own).
        return afterCommit(plain(sql, params, transformRows), (rows) => {
          const commits = withCommit === undefined ? commitsNow() : undefined
          return commits === undefined
            ? markWrittenIn(fiber, rows)
            : Effect.as(recordCommit(commits.lastCommit(connection), sent), rows)
        })
      })
    })
  }

  const transaction = Effect.map(reserve, inTransaction)

  const nodeHold = guard.transparent ? holdOf(node.client) : undefined
  // One pair of outcome handlers: a transaction's start pays no `map` over a `catchAll`.
  const hold = nodeHold === undefined ? undefined : Effect.matchEffect(nodeHold, {
    onFailure: connectFailure,
    onSuccess: (held) =>
      Effect.succeed<HeldConnection>(Connections.heldConnection(inTransaction(held.connection), held.release))
  })

  const reserveFor = (reason: Reason) =>
    Effect.withFiberRuntime<Connection, SqlError, Scope.Scope>((fiber) => {
      recorder.countIn(fiber, node.name, reason)
      return reserve
    })

  return { run: runOn, reserveFor, transaction, hold }
}
