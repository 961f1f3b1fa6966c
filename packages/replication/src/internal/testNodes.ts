/**
 * The scripted nodes of `FastOrmTest`: node clients of the same shape as the adapters' (`DatabaseAdapter.NodeClient`:
 * a pooled connection, reserved connections, a compiled-statement runner, a pool status and their own deadlines), so
 * the router runs its production path over them. Each records the attempts it sees and fails as the test says.
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import type { DatabaseAdapter } from "@fastorm/adapters"
import { NodeClient, SqlCompiler } from "@fastorm/adapters"
import { ConnectionWrapper } from "@fastorm/core"
import type { NodeHealth } from "@fastorm/health"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import type { FailureKind, Reason, RoutedStatement } from "../FastOrmTest.js"

/** A failure a node shows until recovered, or for `remaining` more attempts. */
export interface Failure {
  readonly kind: FailureKind
  remaining: number | undefined
}

/** The scripted state of one node. */
export interface NodeState {
  readonly name: string
  readonly configuredRole: NodeHealth.Role
  readonly weight: number
  status: NodeHealth.Status
  role: NodeHealth.Role
  latency: Duration.Duration
  lag: number | undefined
  replicating: boolean
  failure: Failure | undefined
  /** Periods during which probes of the node fail (a connection-class failure or a hang was injected). */
  readonly faults: Array<{ readonly start: number; end: number | undefined }>
  /** The last probe asked for explicitly (`check`, `checkNode`, `Controls.probe`). */
  probedAt: number | undefined
  lastChangeAt: number | undefined
  /** When the router first reported a failure since the last successful probe. */
  suspectSince: number | undefined
}

/** A node in its configured role, healthy. */
export const freshState = (name: string, role: NodeHealth.Role, weight: number): NodeState => ({
  name,
  configuredRole: role,
  weight,
  status: "HEALTHY",
  role,
  latency: Duration.zero,
  lag: role === "replica" ? 0 : undefined,
  replicating: true,
  failure: undefined,
  faults: [],
  probedAt: undefined,
  lastChangeAt: undefined,
  suspectSince: undefined
})

const connectPhase: ReadonlySet<FailureKind> = new Set(["connection", "hangOnConnect", "authentication"])
const probeFails: ReadonlySet<FailureKind> = new Set(["connection", "reset", "hang", "hangOnConnect", "authentication"])

/** Sets the node's failure and keeps the periods during which its probes fail. */
export const setFailure = (state: NodeState, failure: Failure | undefined, at: number): void => {
  const open = state.faults.at(-1)?.end === undefined ? state.faults.at(-1) : undefined
  const failsProbes = failure !== undefined && probeFails.has(failure.kind)
  if (failsProbes && open === undefined) state.faults.push({ start: at, end: undefined })
  if (!failsProbes && open !== undefined) open.end = at
  // Only the recent past matters: the last probe lies within the last two periods.
  if (state.faults.length > 4) state.faults.splice(0, state.faults.length - 4)
  state.failure = failure
}

/** Takes the node's failure if it applies to `phase`, counting down limited ones. */
const take = (state: NodeState, phase: "connect" | "statement", at: number): FailureKind | undefined => {
  const failure = state.failure
  if (failure === undefined || connectPhase.has(failure.kind) !== (phase === "connect")) return undefined
  if (failure.remaining !== undefined) {
    failure.remaining -= 1
    if (failure.remaining <= 0) setFailure(state, undefined, at)
  }
  return failure.kind
}

/** An injected driver error; `connect` ones say the statement never left (syscall "connect"), as drivers do. */
const injected = (code: string, text: string, connect = false) =>
  new SqlError({
    message: `FastOrmTest: ${text}`,
    cause: Object.assign(new Error(`FastOrmTest: ${text}`), { code }, connect ? { syscall: "connect" } : {})
  })

const errorCode = (error: SqlError): string | undefined => {
  const code = (error.cause as { readonly code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

/**
 * The router writes each routed statement's reason on the statement's span (`sql.execute`, or a `fastorm.route` span
 * for a retry); statements on reserved connections (transactions, streams) have none.
 */
const routeReason: Effect.Effect<Reason | undefined> = Effect.map(Effect.option(Effect.currentSpan), (span) => {
  let current: Tracer.AnySpan | undefined = Option.getOrUndefined(span)
  while (current !== undefined && current._tag === "Span") {
    const reason = current.attributes.get("fastorm.reason")
    if (typeof reason === "string") return reason as Reason
    if (current.name === "sql.execute") return undefined
    current = Option.getOrUndefined(current.parent)
  }
  return undefined
})

/** The attempts every node of one test cluster logs, in order. */
export interface StatementLog {
  readonly entries: Array<RoutedStatement>
  nextConnection: number
}

/** An empty log. */
export const makeLog = (): StatementLog => ({ entries: [], nextConnection: 0 })

/** The bounds the router's configuration gives every node (`FastOrm.layer` gives the adapters' clients the same). */
export interface Bounds {
  readonly connectTimeout: Duration.Duration
  readonly statementTimeout: Duration.Duration
}

const now = Effect.clockWith((clock) => clock.currentTimeMillis)

/** A scripted node client over a real SQLite client (the writer or a read-only reader of the cluster's file). */
export const makeClient = (
  state: NodeState,
  inner: DatabaseAdapter.NodeClient,
  log: StatementLog,
  bounds: Bounds
): Effect.Effect<DatabaseAdapter.NodeClient, never, Reactivity> =>
  Effect.gen(function*() {
    const begin = (entry: Omit<RoutedStatement, "seq" | "outcome">) =>
      Effect.sync(() => {
        const index = log.entries.length
        log.entries.push({ ...entry, seq: index + 1, outcome: "running" })
        return index
      })
    const end = (index: number, exit: Exit.Exit<unknown, SqlError>) =>
      Effect.sync(() => {
        const entry = log.entries[index]
        if (entry === undefined) return // cleared meanwhile
        if (Exit.isSuccess(exit)) {
          log.entries[index] = { ...entry, outcome: "ok" }
        } else {
          const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
          log.entries[index] = error === undefined
            ? { ...entry, outcome: "interrupted" }
            : { ...entry, outcome: "failed", error: errorCode(error) }
        }
      })
    const entryOf = (reason: Reason, sql: string | undefined, params: ReadonlyArray<unknown>, connection: number) => ({
      node: state.name,
      role: state.configuredRole,
      reason,
      sql,
      params,
      connection
    })

    /** Connecting, as the test scripted it: refused, a refused login, a handshake that never ends (bounded). */
    const connect = (fallbackReason: Reason, connection: number): Effect.Effect<void, SqlError> =>
      Effect.gen(function*() {
        const kind = take(state, "connect", yield* now)
        if (kind === undefined) return
        const index = yield* begin(entryOf((yield* routeReason) ?? fallbackReason, undefined, [], connection))
        const outcome: Effect.Effect<never, SqlError> = kind === "connection"
          ? Effect.fail(injected("ECONNREFUSED", `connecting to "${state.name}" was refused`, true))
          : kind === "authentication"
          ? Effect.fail(injected("28P01", `password authentication failed on "${state.name}"`, true))
          : Effect.never.pipe(
            Effect.timeoutFail({
              duration: bounds.connectTimeout,
              onTimeout: () =>
                injected(
                  "ETIMEDOUT",
                  `Connecting on "${state.name}" took longer than ${Duration.format(bounds.connectTimeout)}`
                )
            })
          )
        return yield* Effect.onExit(outcome, (exit) => end(index, exit))
      })

    /** One statement as the test scripted it, within the node's statement deadline. */
    const attempt = <A>(
      sql: string,
      params: ReadonlyArray<unknown>,
      fallbackReason: Reason,
      connection: number,
      run: Effect.Effect<A, SqlError>
    ): Effect.Effect<A, SqlError> =>
      Effect.gen(function*() {
        const index = yield* begin(entryOf((yield* routeReason) ?? fallbackReason, sql, params, connection))
        const kind = take(state, "statement", yield* now)
        const outcome: Effect.Effect<A, SqlError> = Effect.zipRight(
          Duration.greaterThan(state.latency, Duration.zero) ? Effect.sleep(state.latency) : Effect.void,
          kind === "reset"
            ? Effect.fail(injected("ECONNRESET", `the connection to "${state.name}" was reset`))
            : kind === "statement"
            ? Effect.fail(injected("SQLITE_ERROR", `"${state.name}" refused the statement`))
            : kind === "hang"
            ? Effect.never
            : run
        ).pipe(
          Effect.timeoutFail({
            duration: bounds.statementTimeout,
            onTimeout: () =>
              injected(
                "ETIMEDOUT",
                `A statement on "${state.name}" took longer than ${Duration.format(bounds.statementTimeout)}`
              )
          })
        )
        return yield* Effect.onExit(outcome, (exit) => end(index, exit))
      })

    /** A stream: only placement and injected failures apply (rows are delivered as they come). */
    const streamAttempt = (
      sql: string,
      params: ReadonlyArray<unknown>,
      connection: number,
      run: Stream.Stream<any, SqlError>
    ): Stream.Stream<any, SqlError> =>
      Stream.unwrap(Effect.gen(function*() {
        const index = yield* begin(entryOf((yield* routeReason) ?? "stream", sql, params, connection))
        const kind = take(state, "statement", yield* now)
        if (kind === "reset" || kind === "statement") {
          const error = kind === "reset"
            ? injected("ECONNRESET", `the connection to "${state.name}" was reset`)
            : injected("SQLITE_ERROR", `"${state.name}" refused the statement`)
          yield* end(index, Exit.fail(error))
          return Stream.fail(error)
        }
        if (kind === "hang") return Stream.never
        yield* end(index, Exit.void)
        return run
      }))

    // The pooled connection: every statement connects (as the test says), then runs on the inner client.
    const pooled = ConnectionWrapper.make(
      (sql, params, run) =>
        Effect.suspend(() => {
          const connection = ++log.nextConnection
          return Effect.zipRight(
            connect("ordinary", connection),
            attempt(sql, params, "ordinary", connection, run(inner.connection))
          )
        }),
      (sql, params, run) =>
        Stream.unwrapScoped(
          Effect.map(reserveInner, ([connection, c]) => streamAttempt(sql, params, connection, run(c)))
        )
    )

    // A reserved connection (transactions, streams, writes that record a position): one number for all its statements.
    const reserveInner: Effect.Effect<readonly [number, Connection], SqlError, Scope.Scope> = Effect.suspend(() => {
      const connection = ++log.nextConnection
      return Effect.zipRight(
        connect("transaction", connection),
        Effect.map(inner.reserve, (c) => [connection, c] as const)
      )
    })
    const reserve = Effect.map(reserveInner, ([connection, c]) =>
      ConnectionWrapper.make(
        (sql, params, run) => attempt(sql, params, "transaction", connection, run(c)),
        (sql, params, run) => streamAttempt(sql, params, connection, run(c))
      ))

    return yield* NodeClient.make({
      connection: pooled,
      reserve,
      compiler: SqlCompiler.make("sqlite"),
      spanAttributes: [["fastorm.node", state.name]],
      statementDeadline: bounds.statementTimeout
    })
  })
