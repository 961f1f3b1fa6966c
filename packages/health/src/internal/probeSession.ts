/**
 * The one connection a network node's probe keeps open between probes (PostgreSQL and MySQL alike), so the monitor
 * holds at most one session per node: reused while it is connected and younger than the node's `maxLifetime`,
 * dropped on any failure, interruption or scope close with its socket cut (a polite end waits for the server, which
 * a frozen one never gives). And one probe's outcome, resumed once.
 */
import { OptimalConfig } from "@fastorm/adapters"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { ProbeResult } from "../Probe.js"
import type { ProbeError } from "./probeError.js"
import { fromCause } from "./probeError.js"

/** A node's probe connection, as the probe sees it. */
export interface ProbeSession<C> {
  /** The connection to probe on now, if one is connected and within its lifetime. */
  readonly reusable: () => C | undefined
  /** Makes `conn` the current connection, dropping any other; reusable once `connected`. */
  readonly open: (conn: C) => void
  /** `conn` finished connecting: reusable from now, its lifetime counted from now. */
  readonly connected: (conn: C) => void
  /** Drops `conn` if it is still the current connection; without it, whatever is current. */
  readonly drop: (conn?: C) => void
}

/** The session of one node's probe; `cut` closes a connection without waiting for the server. */
export const make = <C>(
  maxLifetime: Duration.Duration | undefined,
  cut: (conn: C) => void
): Effect.Effect<ProbeSession<C>, never, Scope.Scope> =>
  Effect.gen(function*() {
    let current: { readonly conn: C; ready: boolean; openedAt: number } | undefined
    const drop = (conn?: C) => {
      if (current === undefined || (conn !== undefined && current.conn !== conn)) return
      const { conn: c } = current
      current = undefined
      try {
        cut(c)
      } catch {
        // already gone
      }
    }
    yield* Effect.addFinalizer(() => Effect.sync(() => drop()))
    return {
      reusable: () =>
        current?.ready === true &&
          (maxLifetime === undefined || !OptimalConfig.outlived(current.openedAt, Date.now(), maxLifetime))
          ? current.conn
          : undefined,
      open: (conn) => {
        drop()
        current = { conn, ready: false, openedAt: Date.now() }
      },
      connected: (conn) => {
        if (current?.conn !== conn) return
        current.ready = true
        current.openedAt = Date.now()
      },
      drop
    }
  })

/** One probe under way: how its driver callbacks end it. */
export interface Attempt<C> {
  /** True once the probe ended (answered, failed or interrupted): a late callback does nothing. */
  readonly done: () => boolean
  readonly succeed: (result: ProbeResult) => void
  /** Fails the probe; whatever went wrong, `conn` is not trusted again and the next probe connects afresh. */
  readonly fail: (conn: C, cause: unknown) => void
}

/**
 * One probe of node `name`: `start` sends it through the driver's callbacks, which end it through the attempt. An
 * interruption (the monitor's timeout, or shutdown) drops the session, which may be stuck mid-statement.
 */
export const attempt = <C>(
  session: ProbeSession<C>,
  name: string,
  secrets: ReadonlyArray<Redacted.Redacted<string> | undefined>,
  start: (attempt: Attempt<C>) => void
): Effect.Effect<ProbeResult, ProbeError> =>
  Effect.async<ProbeResult, ProbeError>((resume) => {
    let done = false
    const finish = (effect: Effect.Effect<ProbeResult, ProbeError>) => {
      if (done) return
      done = true
      resume(effect)
    }
    start({
      done: () => done,
      succeed: (result) => finish(Effect.succeed(result)),
      fail: (conn, cause) => {
        session.drop(conn)
        finish(Effect.fail(fromCause(name, cause, secrets)))
      }
    })
    return Effect.sync(() => {
      if (done) return
      done = true
      session.drop()
    })
  })
