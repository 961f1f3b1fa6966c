/**
 * The load of the promotion scenarios: writer sessions that add unique values to their key and read it back in the
 * same session (read-your-writes), and readers outside any session, all recorded into a History. A write returns the
 * port of the server that applied it, so the History knows which node took each write (no write on two primaries).
 * Works on PostgreSQL and MariaDB: the table is `promo_kv (k, v)` on both.
 */
import { ReadConnection, WriteConnection } from "@fastorm/core"
import { History, LOADED_MACHINE_SLACK_MS } from "@fastorm/test-support"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { RouterError, SessionToken } from "../../src/index.js"
import type { FastOrm } from "../../src/index.js"

/** A running load. */
export interface Load {
  readonly history: History.History
  readonly prefix: string
  readonly keys: ReadonlyArray<string>
  /** Acknowledged writes so far. */
  readonly ackedWrites: () => number
  /** Stops every fiber after its current operation and waits for them. */
  readonly stop: Effect.Effect<void>
  /** Counts: acknowledged, failed and unknown writes; ordinary and session reads failed; errors by tag. */
  readonly figures: () => {
    readonly writesAcked: number
    readonly writesFailed: number
    readonly writesUnknown: number
    readonly readsOk: number
    readonly readsFailed: number
    readonly ordinaryReadsFailed: number
    readonly sessionReadsFailed: number
    readonly byError: Readonly<Record<string, number>>
    readonly writesBy: Readonly<Record<string, number>>
    readonly p99Ms: number
  }
}

/** The dialect's SQL of the load. */
const sqlOf = (dialect: "postgres" | "mariadb") =>
  dialect === "postgres"
    ? {
      write: "INSERT INTO promo_kv (k, v) VALUES ($1, $2) RETURNING inet_server_port() AS port",
      read: "SELECT p.port, t.v FROM (SELECT inet_server_port() AS port) p LEFT JOIN promo_kv t ON t.k = $1"
    }
    : {
      // MariaDB 10.5+ has INSERT ... RETURNING; @@port is the server that ran it.
      write: "INSERT INTO promo_kv (k, v) VALUES (?, ?) RETURNING @@port AS port",
      read: "SELECT p.port, t.v FROM (SELECT @@port AS port) p LEFT JOIN promo_kv t ON t.k = ?"
    }

/** Each operation's deadline (the History checks it); an app that waits for a primary needs longer ones. */
export interface Deadlines {
  readonly readMs: number
  readonly writeMs: number
}

const DEADLINES: Deadlines = { readMs: 10_000, writeMs: 4_000 }

let runs = 0

/** Starts 3 writer sessions and 3 readers; they run until `stop`. */
export const startLoad = (
  label: string,
  nodeOf: (port: unknown) => string,
  dialect: "postgres" | "mariadb" = "postgres",
  deadlines: Deadlines = DEADLINES
): Effect.Effect<Load, never, FastOrm.Services | Scope.Scope> =>
  Effect.gen(function*() {
    const { readMs: READ_DEADLINE_MS, writeMs: WRITE_DEADLINE_MS } = deadlines
    const sql = sqlOf(dialect)
    const history = History.make()
    const prefix = `${label}-${Date.now().toString(36)}-${++runs}`
    const keys = [0, 1, 2].map((s) => `${prefix}-w${s}`)
    const state = { stopped: false }
    const think = Effect.sleep(Duration.millis(10))
    const safety = <A, E, R>(deadline: number, e: Effect.Effect<A, E, R>) =>
      Effect.timeoutFail(e, {
        duration: Duration.millis(deadline * 3),
        onTimeout: () => ({ _tag: "ClientSafetyTimeout" })
      })
    const isUnknown = (e: unknown) =>
      History.unknownOutcomeTags.has(History.errorTag(e)) || History.errorTag(e) === "ClientSafetyTimeout"

    const write = (key: string, value: string) =>
      Effect.flatMap(WriteConnection, (w) =>
        Effect.map(
          RouterError.refine(w.unsafe<{ port: unknown }>(sql.write, [key, value])),
          (rows): History.Served => ({ node: nodeOf(rows[0]?.port) })
        ))
    const read = (key: string) =>
      Effect.flatMap(ReadConnection, (r) =>
        Effect.map(
          RouterError.refine(r.unsafe<{ port: unknown; v: string | null }>(sql.read, [key])),
          (rows): History.Served => ({
            node: nodeOf(rows[0]?.port),
            observed: rows.flatMap((row) => row.v === null ? [] : [row.v])
          })
        ))

    const writer = (s: number) =>
      Effect.gen(function*() {
        const session = keys[s]!
        for (let i = 0; !state.stopped; i++) {
          yield* History.record(
            history,
            { session, kind: "write", key: session, value: `${session}-${i}`, deadlineMs: WRITE_DEADLINE_MS },
            safety(WRITE_DEADLINE_MS, write(session, `${session}-${i}`)),
            { classify: (e) => isUnknown(e) ? "unknown" : "failed" }
          )
          yield* History.record(
            history,
            { session, kind: "read", key: session, deadlineMs: READ_DEADLINE_MS },
            safety(READ_DEADLINE_MS, read(session))
          )
          yield* think
        }
      }).pipe(Effect.locally(SessionToken.currentTokens, {}))
    const reader = (r: number) =>
      Effect.gen(function*() {
        for (let i = 0; !state.stopped; i++) {
          const key = keys[(i + r) % keys.length]!
          yield* History.record(
            history,
            { session: `${prefix}-r${r}-${i}`, kind: "read", key, deadlineMs: READ_DEADLINE_MS },
            safety(READ_DEADLINE_MS, read(key))
          )
          yield* think
        }
      }).pipe(Effect.locally(SessionToken.currentTokens, {}))

    const fibers = yield* Effect.forkScoped(
      Effect.all([...[0, 1, 2].map(writer), ...[0, 1, 2].map(reader)], { concurrency: "unbounded", discard: true })
    )
    const ops = (kind: History.OpKind, status: History.Status) =>
      history.ops.filter((op) => op.kind === kind && op.status === status)
    const isSessionRead = (op: History.Operation) => keys.includes(op.session)
    return {
      history,
      prefix,
      keys,
      ackedWrites: () => ops("write", "ok").length,
      stop: Effect.zipRight(
        Effect.sync(() => {
          state.stopped = true
        }),
        Effect.asVoid(Fiber.join(fibers))
      ),
      figures: () => {
        const summary = History.summarize(history)
        const failedReads = ops("read", "failed")
        const writesBy: Record<string, number> = {}
        for (const op of ops("write", "ok")) writesBy[op.node ?? "?"] = (writesBy[op.node ?? "?"] ?? 0) + 1
        return {
          writesAcked: ops("write", "ok").length,
          writesFailed: ops("write", "failed").length,
          writesUnknown: ops("write", "unknown").length,
          readsOk: ops("read", "ok").length,
          readsFailed: failedReads.length,
          ordinaryReadsFailed: failedReads.filter((op) => !isSessionRead(op)).length,
          sessionReadsFailed: failedReads.filter(isSessionRead).length,
          byError: summary.byError,
          writesBy,
          p99Ms: Math.round(summary.p99Ms)
        }
      }
    }
  })

/**
 * The checks of every promotion scenario: nothing acknowledged lost, nothing failed present, reads fresh for their
 * session and monotonic, one primary at a time, every operation within its deadline.
 */
export const verdictsOf = (load: Load, final: History.FinalState): ReadonlyArray<History.Verdict> => [
  History.noLostWrites(load.history, final),
  History.noFailedWritesPresent(load.history, final),
  History.noStaleReads(load.history),
  History.monotonicReads(load.history),
  History.onePrimaryAtATime(load.history),
  History.withinDeadlines(load.history, { graceMs: LOADED_MACHINE_SLACK_MS })
]
