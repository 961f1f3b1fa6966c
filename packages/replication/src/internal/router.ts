/**
 * The routing engine: one primary and its replicas behind two @effect/sql clients. The read client decides per
 * statement where it runs (DESIGN §4); the write client always uses the primary and records session tokens.
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import type { DatabaseAdapter } from "@fastorm/adapters"
import { CompiledStatement, WriteOnly } from "@fastorm/core"
import { ErrorClassification, HealthMonitor } from "@fastorm/health"
import type { NodeHealth as Health } from "@fastorm/health"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricKey from "effect/MetricKey"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import {
  FallbackCapacityExceeded,
  fromSqlError,
  NoHealthyReplica,
  PoolExhausted,
  PrimaryUnavailable,
  toSqlError,
  WriteOutcomeUnknown
} from "../RouterError.js"
import * as SessionToken from "../SessionToken.js"
import type { ConsistencyOps } from "./consistency.js"
import * as FairGate from "./fairGate.js"
import * as Selection from "./selection.js"
import type { StatementKind } from "./statementKind.js"
import { classify } from "./statementKind.js"

/** Why a statement ran where it ran; carried by spans and metrics. */
export type Reason =
  | "write"
  | "locking"
  | "transaction"
  | "forceWrite"
  | "primary"
  | "session"
  | "ordinary"
  | "fallback"
  | "retry"

/** One node the router can send statements to. */
export interface NodeHandle {
  readonly name: string
  /** The node's client; `poolStatus` (from the adapters) tells an exhausted pool from a dead server. */
  readonly client:
    & SqlClient.SqlClient
    & Partial<Pick<DatabaseAdapter.NodeClient, "poolStatus" | "connection" | "statementDeadline">>
  /** Relative share of ordinary reads under the `weighted` strategy (and the base of every strategy). */
  readonly weight: number
}

/** Everything the engine needs. */
export interface RouterOptions {
  /** The cluster's name: session tokens are kept per cluster. */
  readonly cluster: string
  readonly primary: NodeHandle
  readonly replicas: ReadonlyArray<NodeHandle>
  readonly config: ResolvedReadWriteConfig
  readonly compiler: Statement.Compiler
  /** Undefined for SQLite: every reader sees every commit. */
  readonly consistency: ConsistencyOps | undefined
}

/** Counts of routed statements by node and reason, for tests and dashboards. */
export interface RouteStats {
  readonly byNode: Readonly<Record<string, number>>
  readonly byReason: Readonly<Record<string, number>>
  readonly byNodeAndReason: Readonly<Record<string, number>>
}

/** What the engine builds. */
export interface Router {
  readonly read: SqlClient.SqlClient
  readonly write: SqlClient.SqlClient
  readonly stats: Effect.Effect<RouteStats>
  readonly resetStats: Effect.Effect<void>
}

const routedCounterKey = MetricKey.counter("fastorm_routed_statements_total", {
  description: "Statements routed by FastORM, by node and reason",
  incremental: true
})

type Run<A> = (connection: Connection) => Effect.Effect<A, SqlError>

// Applications send the same few hundred statement texts over and over: classify each once.
const kinds = new Map<string, StatementKind>()
const kindOf = (sql: string): StatementKind => {
  let kind = kinds.get(sql)
  if (kind === undefined) {
    kind = classify(sql)
    if (kinds.size >= 4096) kinds.clear()
    kinds.set(sql, kind)
  }
  return kind
}

const timeoutError = (node: string, what: string, d: Duration.Duration) =>
  new SqlError({
    message: `${what} on "${node}" took longer than ${Duration.format(d)}`,
    cause: Object.assign(new Error(`${what} timed out`), { code: "ETIMEDOUT" })
  })

const isConnectionClass = (error: SqlError): boolean => ErrorClassification.isConnectionError(error.cause ?? error)

/** A node that refused the login: nothing was sent, and another node may well accept it. */
const isAuthentication = (error: SqlError): boolean => ErrorClassification.isAuthenticationError(error.cause ?? error)

/** Connection-class or authentication: the node, not the statement, is at fault; another node may serve it. */
const isNodeFault = (error: SqlError): boolean => isConnectionClass(error) || isAuthentication(error)

/**
 * The statement never left this process: the socket was already dead when it was written to (EPIPE, or a reset
 * reported by the write itself), or the driver refused to use a closed connection. Such a write was not applied.
 */
export const wasNotSent = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < 6 && current !== null && typeof current === "object"; depth++) {
    const e = current as { code?: unknown; syscall?: unknown; message?: unknown; cause?: unknown }
    if (e.code === "EPIPE" || e.syscall === "write" || e.syscall === "connect") return true
    if (typeof e.message === "string" && /not queryable|connection is in closed state/i.test(e.message)) return true
    current = e.cause
  }
  return false
}

/** Waiting for a pooled connection timed out (pg-pool and FastORM's mysql2 acquire both say so). */
const isAcquireTimeout = (error: SqlError): boolean => {
  const text = `${String((error.cause as { message?: unknown } | undefined)?.message ?? "")} ${error.message}`
  return /timeout exceeded when trying to connect|Timed out acquiring|Connecting on .* took longer/i.test(text)
}

/** SQLSTATE 25006 / MariaDB 1290, 1792: the node is read-only. A replica said so: the primary will run it. */
const isReadOnlyRefusal = (error: SqlError): boolean => {
  const cause = error.cause as { code?: unknown; errno?: unknown } | undefined
  return cause?.code === "25006" || cause?.errno === 1290 || cause?.errno === 1792
}

/** Builds the read and write clients of one cluster. */
export const make = (
  options: RouterOptions
): Effect.Effect<Router, never, HealthMonitor.HealthMonitor | Reactivity | Scope.Scope> =>
  Effect.gen(function*() {
    const { config, consistency, primary, replicas } = options
    const monitor = yield* HealthMonitor.HealthMonitor
    const selection = Selection.makeState(replicas.length)
    const outstanding = new Map<string, number>(replicas.map((r) => [r.name, 0]))
    const tracksOutstanding = config.strategy === "leastOutstanding"
    // A connection-class failure seen by the application excludes the replica until a probe succeeds after it.
    const suspectSince = new Map<string, number>()
    // Replay positions learnt from waits, fresher than the monitor's between its probes.
    const knownPosition = new Map<string, string>()
    const fallbackPermits = yield* FairGate.make(config.maxFallbackConcurrency)
    // One slot per node and reason: a plain count for `stats` and the metric, tags resolved once.
    const slots = new Map<string, Map<Reason, { n: number; readonly counter: Metric.Metric.Counter<number> }>>()
    const replicaNames = replicas.map((r) => r.name)

    const slotOf = (node: string, reason: Reason) => {
      let byReason = slots.get(node)
      if (byReason === undefined) {
        byReason = new Map()
        slots.set(node, byReason)
      }
      let slot = byReason.get(reason)
      if (slot === undefined) {
        // Tags in the key, not added per call: Metric.tagged builds a new key (hashed, looked up) on every increment.
        slot = {
          n: 0,
          counter: Metric.fromMetricKey(
            routedCounterKey.pipe(MetricKey.tagged("node", node), MetricKey.tagged("reason", reason))
          )
        }
        byReason.set(reason, slot)
      }
      return slot
    }

    /** Counts a routed statement, synchronously, inside the caller's fiber. */
    const countIn = (fiber: Fiber.RuntimeFiber<any, any>, node: string, reason: Reason) => {
      const slot = slotOf(node, reason)
      slot.n++
      slot.counter.unsafeUpdate(1, fiber.getFiberRef(FiberRef.currentMetricLabels))
    }

    const count = (node: string, reason: Reason) =>
      Effect.withFiberRuntime<void>((fiber) => {
        countIn(fiber, node, reason)
        return Effect.void
      })

    const report = (node: string, error: unknown) =>
      Effect.ignore(monitor.reportFailure(node, error)).pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.map((now) => {
          suspectSince.set(node, now)
        })
      )

    /**
     * Counts the statement and tells the trace where it ran. The statement's own `sql.execute` span carries the
     * first attempt's route (one span per statement, as @effect/sql makes); every later attempt (a retry, the
     * fallback) gets a `fastorm.route` span of its own, so a failed attempt stays visible. A span nobody listens to
     * is not opened at all.
     */
    const traced = <A, E>(node: string, reason: Reason, effect: Effect.Effect<A, E>) =>
      Effect.withFiberRuntime<A, E>((fiber) => {
        countIn(fiber, node, reason)
        if (!CompiledStatement.isTracing(fiber)) return effect
        const span = fiber.currentSpan
        if (
          span !== undefined && span._tag === "Span" && span.name === "sql.execute" &&
          !span.attributes.has("fastorm.reason")
        ) {
          span.attribute("fastorm.node", node)
          span.attribute("fastorm.reason", reason)
          span.attribute("fastorm.cluster", options.cluster)
          return effect
        }
        return Effect.withSpan(effect, "fastorm.route", {
          kind: "internal",
          // A stack trace per statement costs more than the routing itself.
          captureStackTrace: false,
          attributes: { "fastorm.node": node, "fastorm.reason": reason, "fastorm.cluster": options.cluster }
        })
      })

    // ---- the primary ----------------------------------------------------------------------------------------

    // A node client's own deadline counts only if it is no looser than the router's (FastOrm.layer makes them
    // equal); a client made elsewhere with a longer bound still gets the router's.
    const selfBounded = new Set(
      [primary, ...replicas].filter((n) =>
        n.client.statementDeadline !== undefined &&
        Duration.lessThanOrEqualTo(
          n.client.statementDeadline,
          Duration.sum(config.statementTimeout, Duration.millis(150))
        )
      ).map((n) => n.name)
    )

    // Adapter clients bound the pool wait themselves (pg-pool connectionTimeoutMillis, FastORM's mysql2 acquire).
    const boundedAcquire = selfBounded.has(primary.name)
      ? primary.client.reserve
      : primary.client.reserve.pipe(
        Effect.timeoutFail({
          duration: config.connectTimeout,
          onTimeout: () => timeoutError(primary.name, "Connecting", config.connectTimeout)
        })
      )

    const primaryFailure = (error: SqlError): Effect.Effect<never, SqlError> => {
      // Every connection busy is not a dead server: a different error, and nothing to tell the monitor.
      const pool = primary.client.poolStatus?.()
      if (isAcquireTimeout(error) && pool !== undefined && pool.open >= pool.max && pool.idle === 0) {
        return Effect.fail(toSqlError(new PoolExhausted({ node: primary.name, limit: pool.max, cause: error })))
      }
      return Effect.zipRight(
        report(primary.name, error.cause ?? error),
        Effect.fail(
          isNodeFault(error)
            ? toSqlError(new PrimaryUnavailable({ node: primary.name, reason: "no connection", cause: error }))
            : error
        )
      )
    }

    const acquirePrimary = (_client: SqlClient.SqlClient): Effect.Effect<Connection, SqlError, Scope.Scope> =>
      Effect.catchAll(boundedAcquire, primaryFailure)

    /**
     * Adapter clients carry a deadline inside the driver callback (no fiber); other clients (user-made, test
     * doubles) get one here. disconnect: a frozen server's cancel runs in the background, not in the caller's time.
     */
    const statementDeadline = <A>(node: string, effect: Effect.Effect<A, SqlError>) =>
      selfBounded.has(node) ? effect : Effect.disconnect(effect).pipe(
        Effect.timeoutFail({
          duration: config.statementTimeout,
          onTimeout: () => timeoutError(node, "A statement", config.statementTimeout)
        })
      )

    const capturesTokens = consistency !== undefined && config.consistency === "session"

    const recordToken = (connection: Connection) =>
      consistency === undefined || config.consistency !== "session"
        ? Effect.void
        : consistency.capture(connection).pipe(
          Effect.flatMap((position) =>
            position === undefined ? Effect.void : SessionToken.record(options.cluster, position)
          ),
          // The write succeeded but its position is lost (the primary failed right after it): the session keeps
          // nothing older, which a replica without this write could cover, but an unknown position that sends its
          // reads to the primary until its next write. It never fails the write.
          Effect.catchAll(() => SessionToken.record(options.cluster, SessionToken.unknownPosition)),
          Effect.uninterruptible
        )

    const primaryStatementFailure = (isWrite: boolean) => (error: SqlError): Effect.Effect<never, SqlError> => {
      if (isAcquireTimeout(error) || (!isConnectionClass(error) && isAuthentication(error))) {
        return primaryFailure(error)
      }
      if (!isConnectionClass(error)) return Effect.fail(error)
      return Effect.zipRight(
        report(primary.name, error.cause ?? error),
        Effect.fail(toSqlError(
          isWrite && !wasNotSent(error)
            ? new WriteOutcomeUnknown({ node: primary.name, cause: error })
            : new PrimaryUnavailable({ node: primary.name, reason: "connection lost", cause: error })
        ))
      )
    }

    const onPrimary = <A>(reason: Reason, isWrite: boolean, run: Run<A>): Effect.Effect<A, SqlError> =>
      (isWrite && capturesTokens) || primary.client.connection === undefined
        ? onPrimaryReserved(reason, isWrite, run)
        // Hot path: the pooled connection borrows and returns inside the driver, with no scope per statement.
        : traced(
          primary.name,
          reason,
          statementDeadline(primary.name, run(primary.client.connection)).pipe(
            Effect.catchAll(primaryStatementFailure(isWrite))
          )
        )

    const onPrimaryReserved = <A>(reason: Reason, isWrite: boolean, run: Run<A>): Effect.Effect<A, SqlError> =>
      traced(
        primary.name,
        reason,
        Effect.scoped(
          Effect.flatMap(acquirePrimary(primary.client), (connection) =>
            statementDeadline(primary.name, run(connection)).pipe(
              Effect.catchAll(primaryStatementFailure(isWrite)),
              Effect.tap(() => isWrite ? recordToken(connection) : Effect.void)
            ))
        )
      )

    /** A reserved primary connection for transactions: COMMIT records the session token on it. */
    const transactionConnection = (client: SqlClient.SqlClient): Effect.Effect<Connection, SqlError, Scope.Scope> =>
      Effect.map(acquirePrimary(client), (connection): Connection => {
        // Counted (reason "transaction") so the stats show the primary's whole load; no span: the transaction has one.
        const bounded = <A>(effect: Effect.Effect<A, SqlError>) =>
          Effect.zipRight(count(primary.name, "transaction"), statementDeadline(primary.name, effect))
        return {
          execute: (sql, params, transformRows) =>
            bounded(connection.execute(sql, params, transformRows)),
          executeRaw: (sql, params) => bounded(connection.executeRaw(sql, params)),
          executeValues: (sql, params) => bounded(connection.executeValues(sql, params)),
          executeStream: (sql, params, transformRows) => connection.executeStream(sql, params, transformRows),
          executeUnprepared: (sql, params, transformRows) => {
            const run = bounded(connection.executeUnprepared(sql, params, transformRows))
            return /^\s*COMMIT\s*$/i.test(sql) ? Effect.tap(run, () => recordToken(connection)) : run
          }
        }
      })

    // ---- replicas -------------------------------------------------------------------------------------------

    const positionKind = consistency === undefined ? undefined : options.compiler.dialect === "pg" ? "lsn" : "gtid"

    /**
     * PostgreSQL's lag is `now() - pg_last_xact_replay_timestamp()` while receive and replay differ, which on an idle
     * primary is the age of its last transaction, not a lag. A replica whose replay position already covers the
     * primary's (both from the monitor's probes) is caught up whatever that clock says.
     */
    const caughtUp = (h: Health.NodeHealth, primaryPosition: string | undefined) =>
      positionKind !== undefined && primaryPosition !== undefined &&
      SessionToken.covers(h.position, { kind: positionKind, value: primaryPosition })

    const lagOk = (h: Health.NodeHealth, primaryPosition?: string | undefined) =>
      h.replicating !== false &&
      (h.lagSeconds === undefined || h.lagSeconds * 1000 <= Duration.toMillis(config.maxReplicationLag) ||
        caughtUp(h, primaryPosition))

    /**
     * A replica whose only fault is that it does not replicate: it answers, and has every change it replayed before
     * it lost its primary. When the primary itself is down it is the best source of reads there is, stale but
     * available (MaxScale serves reads from such slaves too); while the primary is up, the primary is fresher.
     */
    const isStaleOnly = (h: Health.NodeHealth) =>
      h.replicating === false &&
      (h.status !== "UNHEALTHY" || h.lastError?.tag === "NotReplicating")

    /** The primary failed its last probe or a statement of ours: reads should not count on it. */
    const primaryDown = (snapshot: ReadonlyArray<Health.NodeHealth>) => {
      const h = snapshot.find((s) => s.name === primary.name)
      return h !== undefined && (h.status === "UNHEALTHY" || h.consecutiveFailures > 0 || isSuspect(h))
    }

    const isSuspect = (h: Health.NodeHealth) => {
      const since = suspectSince.get(h.name)
      if (since === undefined) return false
      if (h.lastCheckedAt !== undefined && h.lastCheckedAt > since && h.consecutiveFailures === 0) {
        suspectSince.delete(h.name)
        return false
      }
      return true
    }

    /** The replicas that may serve an ordinary read; with `stale`, only those that merely lost their primary. */
    const candidates = (
      snapshot: ReadonlyArray<Health.NodeHealth>,
      stale = false
    ): Array<Selection.Candidate> => {
      const out: Array<Selection.Candidate> = []
      const primaryPosition = snapshot.find((s) => s.name === primary.name)?.position
      for (let index = 0; index < replicas.length; index++) {
        const replica = replicas[index]!
        const h = snapshot.find((s) => s.name === replica.name)
        if (h === undefined) continue
        if (h.roleMismatch || isSuspect(h)) continue
        if (stale) {
          if (isStaleOnly(h)) out.push(candidateOf(index, replica, h, 1))
          continue
        }
        // UNKNOWN (not probed yet) is given the benefit of the doubt: a failure there is retried and reported.
        const factor = h.status === "HEALTHY" || h.status === "UNKNOWN"
          ? 1
          : h.status === "DEGRADED"
          ? config.degradedWeight
          : 0
        if (factor === 0 || !lagOk(h, primaryPosition)) continue
        out.push(candidateOf(index, replica, h, factor))
      }
      return out.filter((c) => c.weight > 0)
    }

    /** Ordinary candidates; when there are none and the primary is down, the replicas that only lost it. */
    const readCandidates = (snapshot: ReadonlyArray<Health.NodeHealth>): Array<Selection.Candidate> => {
      const eligible = candidates(snapshot)
      return eligible.length === 0 && primaryDown(snapshot) ? candidates(snapshot, true) : eligible
    }

    const candidateOf = (
      index: number,
      replica: NodeHandle,
      h: Health.NodeHealth,
      factor: number
    ): Selection.Candidate => ({
      index,
      name: replica.name,
      weight: replica.weight * factor,
      latencyMs: h.smoothedLatency === undefined ? undefined : Duration.toMillis(h.smoothedLatency),
      outstanding: outstanding.get(replica.name) ?? 0
    })

    const onReplica = <A>(replica: NodeHandle, reason: Reason, run: Run<A>): Effect.Effect<A, SqlError> =>
      traced(
        replica.name,
        reason,
        Effect.suspend(() => {
          const statement = statementDeadline(
            replica.name,
            replica.client.connection !== undefined
              ? run(replica.client.connection)
              : Effect.scoped(Effect.flatMap(replica.client.reserve, run))
          )
          // Only leastOutstanding looks at statements in flight: the others need not pay for counting them.
          if (!tracksOutstanding) return statement
          outstanding.set(replica.name, (outstanding.get(replica.name) ?? 0) + 1)
          return Effect.ensuring(
            statement,
            Effect.sync(() => outstanding.set(replica.name, (outstanding.get(replica.name) ?? 1) - 1))
          )
        })
      )

    const fallback = <A>(run: Run<A>, reason: Reason): Effect.Effect<A, SqlError> => {
      if (config.readPreference === "replicaOnly") {
        return Effect.fail(toSqlError(new NoHealthyReplica({ replicas: replicaNames })))
      }
      // Losing every replica must not flood the primary: fallback reads share a bounded number of permits. Only a
      // permit actually taken is given back (a wait that timed out or was interrupted took none).
      return Effect.acquireUseRelease(
        fallbackPermits.take.pipe(
          Effect.interruptible,
          Effect.timeoutFail({
            duration: config.statementTimeout,
            onTimeout: () => toSqlError(new FallbackCapacityExceeded({ limit: config.maxFallbackConcurrency }))
          })
        ),
        () => onPrimary(reason, false, run),
        () => fallbackPermits.release
      ).pipe(Effect.catchAll((error) => lastResort(run, error)))
    }

    /**
     * The primary could not serve a fallback read because it is down: the replicas that only lost it (and so were
     * not candidates) still can, stale but available. Any other error stands.
     */
    const lastResort = <A>(run: Run<A>, error: SqlError): Effect.Effect<A, SqlError> => {
      const routerError = fromSqlError(error)
      if (Option.isNone(routerError) || routerError.value._tag !== "PrimaryUnavailable") return Effect.fail(error)
      return Effect.flatMap(monitor.snapshot, (snapshot) => {
        const stale = candidates(snapshot, true)
        if (stale.length === 0) return Effect.fail(error)
        return tryReplicas(Selection.order(config.strategy, stale, selection), "retry", run, () => Effect.fail(error))
      })
    }

    const replicaHandle = (c: Selection.Candidate) => replicas[c.index]!

    /** Tries the ordered replicas (at most two), then `exhausted` (the primary). Statement errors are final. */
    const tryReplicas = <A>(
      ordered: ReadonlyArray<Selection.Candidate>,
      reason: Reason,
      run: Run<A>,
      exhausted: () => Effect.Effect<A, SqlError> = () => fallback(run, "fallback")
    ): Effect.Effect<A, SqlError> => {
      const attempt = (i: number): Effect.Effect<A, SqlError> => {
        const c = ordered[i]
        if (c === undefined || i >= 2) return exhausted()
        const replica = replicaHandle(c)
        return onReplica(replica, i === 0 ? reason : "retry", run).pipe(
          Effect.catchAll((error) => {
            if (isReadOnlyRefusal(error)) return onPrimary("write", true, run)
            if (!isNodeFault(error)) return Effect.fail(error)
            return Effect.zipRight(report(replica.name, error.cause ?? error), attempt(i + 1))
          })
        )
      }
      return attempt(0)
    }

    const sessionCandidates = (
      token: SessionToken.Position,
      eligible: ReadonlyArray<Selection.Candidate>,
      snapshot: ReadonlyArray<Health.NodeHealth>
    ): Effect.Effect<ReadonlyArray<Selection.Candidate>> => {
      // No replica can be shown to have a write whose position is unknown: not worth a wait.
      if (token.kind === "unknown") return Effect.succeed([])
      const ready = eligible.filter((c) => {
        const known = knownPosition.get(c.name)
        const probed = snapshot.find((s) => s.name === c.name)?.position
        return SessionToken.covers(known, token) || SessionToken.covers(probed, token)
      })
      if (ready.length > 0 || eligible.length === 0 || consistency === undefined) return Effect.succeed(ready)
      const first = Selection.order(config.strategy, eligible, selection)[0]!
      const replica = replicaHandle(first)
      return consistency.waitFor(replica.client, token, config.sessionWaitTimeout).pipe(
        Effect.disconnect,
        Effect.timeoutTo({
          duration: Duration.sum(config.sessionWaitTimeout, Duration.millis(250)),
          onTimeout: () => false,
          onSuccess: (ok) => ok
        }),
        Effect.tap((ok) => ok ? Effect.sync(() => knownPosition.set(first.name, token.value)) : Effect.void),
        Effect.map((ok) => ok ? [first] : []),
        Effect.catchAll((error) =>
          Effect.as(isNodeFault(error) ? report(replica.name, error.cause ?? error) : Effect.void, [])
        )
      )
    }

    // Read in the caller's fiber, without a generator: this runs before every routed read.
    const routeRead = <A>(run: Run<A>): Effect.Effect<A, SqlError> =>
      Effect.withFiberRuntime((fiber) => {
        if (Context.get(fiber.currentContext, WriteOnly)) return onPrimary("forceWrite", false, run)
        if (!config.enableReadWriteSplit || config.readPreference === "primary" || config.consistency === "strong") {
          return onPrimary("primary", false, run)
        }
        if (replicas.length === 0) return fallback(run, "fallback")
        const token = config.consistency === "session" && consistency !== undefined
          ? fiber.getFiberRef(SessionToken.currentTokens)[options.cluster]
          : undefined
        return Effect.flatMap(monitor.snapshot, (snapshot) => {
          const eligible = readCandidates(snapshot)
          if (token === undefined) {
            return eligible.length === 0
              ? fallback(run, "fallback")
              : tryReplicas(Selection.order(config.strategy, eligible, selection), "ordinary", run)
          }
          return Effect.flatMap(sessionCandidates(token, eligible, snapshot), (ready) => {
            if (ready.length === 0) {
              return config.readPreference !== "replicaOnly"
                ? onPrimary("session", false, run)
                : fallback(run, "fallback")
            }
            return tryReplicas(Selection.order(config.strategy, ready, selection), "session", run)
          })
        })
      })

    const route = <A>(sql: string, run: Run<A>): Effect.Effect<A, SqlError> => {
      const kind = kindOf(sql)
      return kind === "read" ? routeRead(run) : onPrimary(kind === "locking" ? "locking" : "write", true, run)
    }

    const routeStream = (sql: string, stream: (connection: Connection) => Stream.Stream<any, SqlError>) =>
      // Rows already delivered cannot be taken back: a stream is never retried, only placed.
      Stream.unwrapScoped(Effect.gen(function*() {
        const kind = kindOf(sql)
        const writeOnly = yield* WriteOnly
        if (kind !== "read" || writeOnly || !config.enableReadWriteSplit || config.readPreference === "primary") {
          const connection = yield* acquirePrimary(primary.client)
          yield* count(primary.name, kind === "read" ? "forceWrite" : "write")
          return stream(connection)
        }
        const eligible = readCandidates(yield* monitor.snapshot)
        const first = Selection.order(config.strategy, eligible, selection)[0]
        if (first === undefined) {
          yield* count(primary.name, "fallback")
          return stream(yield* acquirePrimary(primary.client))
        }
        const replica = replicaHandle(first)
        yield* count(replica.name, "ordinary")
        return stream(yield* replica.client.reserve)
      }))

    const routingConnection: Connection = {
      execute: (sql, params, transformRows) => route(sql, (c) => c.execute(sql, params, transformRows)),
      executeRaw: (sql, params) => route(sql, (c) => c.executeRaw(sql, params)),
      executeValues: (sql, params) => route(sql, (c) => c.executeValues(sql, params)),
      executeUnprepared: (sql, params, transformRows) =>
        route(sql, (c) => c.executeUnprepared(sql, params, transformRows)),
      executeStream: (sql, params, transformRows) =>
        routeStream(sql, (c) => c.executeStream(sql, params, transformRows))
    }

    const primaryConnection: Connection = {
      execute: (sql, params, transformRows) => onPrimaryFor(sql, (c) => c.execute(sql, params, transformRows)),
      executeRaw: (sql, params) => onPrimaryFor(sql, (c) => c.executeRaw(sql, params)),
      executeValues: (sql, params) => onPrimaryFor(sql, (c) => c.executeValues(sql, params)),
      executeUnprepared: (sql, params, transformRows) =>
        onPrimaryFor(sql, (c) => c.executeUnprepared(sql, params, transformRows)),
      executeStream: (sql, params, transformRows) =>
        Stream.unwrapScoped(
          Effect.map(acquirePrimary(primary.client), (c) => c.executeStream(sql, params, transformRows))
        )
    }

    function onPrimaryFor<A>(sql: string, run: Run<A>): Effect.Effect<A, SqlError> {
      const kind = kindOf(sql)
      // A read on the write client is a forced read when WriteOnly says so (repositories' forceWrite), else a plain
      // primary read: the stats then tell the two apart.
      return kind === "read"
        ? Effect.flatMap(WriteOnly, (forced) => onPrimary(forced ? "forceWrite" : "primary", false, run))
        : onPrimary(kind, true, run)
    }

    const spanAttributes: ReadonlyArray<readonly [string, unknown]> = [["fastorm.cluster", options.cluster]]
    const read = yield* SqlClient.make({
      acquirer: Effect.succeed(routingConnection),
      transactionAcquirer: transactionConnection(primary.client),
      compiler: options.compiler,
      spanAttributes
    })
    const write = yield* SqlClient.make({
      acquirer: Effect.succeed(primaryConnection),
      transactionAcquirer: transactionConnection(primary.client),
      compiler: options.compiler,
      spanAttributes
    })

    /**
     * Compiled statements (repositories' hot reads) skip @effect/sql's Statement, scope and span: routed like any
     * statement, run as prepared statements on the node's pooled connection, traced only when a tracer listens.
     */
    const directRunner = (
      client: SqlClient.SqlClient,
      placeFree: (sql: string, run: Run<ReadonlyArray<any>>) => Effect.Effect<ReadonlyArray<any>, SqlError>
    ): CompiledStatement.Run =>
    (statement, params) =>
      Effect.withFiberRuntime((fiber) => {
        const where = CompiledStatement.placement(fiber)
        if (where._tag === "Statement") return client.unsafe(statement.sql, params)
        const effect = where._tag === "Transaction"
          ? CompiledStatement.executeOn(where.connection, statement, params)
          : placeFree(statement.sql, (c) => CompiledStatement.executeOn(c, statement, params))
        return CompiledStatement.isTracing(fiber)
          ? Effect.withSpan(effect, "sql.execute", {
            kind: "client",
            captureStackTrace: false,
            attributes: CompiledStatement.spanAttributes(statement, spanAttributes)
          })
          : effect
      })
    Object.assign(read, { [CompiledStatement.RunnerTypeId]: directRunner(read, route) })
    Object.assign(write, { [CompiledStatement.RunnerTypeId]: directRunner(write, onPrimaryFor) })

    const stats = Effect.sync((): RouteStats => {
      const byNode: Record<string, number> = {}
      const byReason: Record<string, number> = {}
      const byNodeAndReason: Record<string, number> = {}
      for (const [node, byReasonOfNode] of slots) {
        for (const [reason, { n }] of byReasonOfNode) {
          if (n === 0) continue
          byNode[node] = (byNode[node] ?? 0) + n
          byReason[reason] = (byReason[reason] ?? 0) + n
          byNodeAndReason[`${node}|${reason}`] = n
        }
      }
      return { byNode, byReason, byNodeAndReason }
    })

    const resetStats = Effect.sync(() => {
      for (const byReasonOfNode of slots.values()) for (const slot of byReasonOfNode.values()) slot.n = 0
    })

    return { read, write, stats, resetStats }
  })
