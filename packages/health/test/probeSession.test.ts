/**
 * The probe connection's life (`internal/probeSession.ts`), over stand-in connections: reused only once connected and
 * within its lifetime, cut on a failure (even one after the probe's outcome), an interruption or the scope's close,
 * and never twice; a probe's outcome taken once.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as ProbeSession from "../src/internal/probeSession.js"
import type { ProbeResult } from "../src/Probe.js"

interface Conn {
  readonly id: string
  cuts: number
}
const conn = (id: string): Conn => ({ id, cuts: 0 })
const cut = (c: Conn) => {
  c.cuts++
}
const result: ProbeResult = { role: "primary", lagSeconds: 0 }

describe("probe session", () => {
  it.scoped("is reusable only once connected, and only the current connection", () =>
    Effect.gen(function*() {
      const session = yield* ProbeSession.make<Conn>(undefined, cut)
      const a = conn("a")
      const b = conn("b")
      expect(session.reusable()).toBeUndefined()
      session.open(a)
      expect(session.reusable()).toBeUndefined()
      session.connected(a)
      expect(session.reusable()).toBe(a)
      // A new connection replaces the current one, which is cut.
      session.open(b)
      expect(a.cuts).toBe(1)
      expect(session.reusable()).toBeUndefined()
      // A late "connected" or "error" of the replaced connection changes nothing.
      session.connected(a)
      session.drop(a)
      expect(a.cuts).toBe(1)
      expect(session.reusable()).toBeUndefined()
      session.connected(b)
      expect(session.reusable()).toBe(b)
      session.drop(b)
      session.drop(b)
      expect(b.cuts).toBe(1)
      expect(session.reusable()).toBeUndefined()
    }))

  it.scopedLive("is not reused past its lifetime", () =>
    Effect.gen(function*() {
      const session = yield* ProbeSession.make<Conn>(Duration.millis(30), cut)
      const a = conn("a")
      session.open(a)
      session.connected(a)
      expect(session.reusable()).toBe(a)
      yield* Effect.sleep("60 millis")
      expect(session.reusable()).toBeUndefined()
    }))

  it.effect("is cut when its scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const session = yield* Scope.extend(ProbeSession.make<Conn>(undefined, cut), scope)
      const a = conn("a")
      session.open(a)
      session.connected(a)
      yield* Scope.close(scope, Exit.void)
      expect(a.cuts).toBe(1)
      expect(session.reusable()).toBeUndefined()
    }))

  it.scoped("a throwing cut (a connection already gone) still drops it", () =>
    Effect.gen(function*() {
      const session = yield* ProbeSession.make<Conn>(undefined, () => {
        throw new Error("already destroyed")
      })
      const a = conn("a")
      session.open(a)
      session.connected(a)
      session.drop()
      expect(session.reusable()).toBeUndefined()
    }))
})

/** A session whose connection "a" is connected. */
const connected = Effect.map(ProbeSession.make<Conn>(undefined, cut), (session) => {
  const a = conn("a")
  session.open(a)
  session.connected(a)
  return { a, session }
})

describe("probe attempt", () => {
  const secret = Redacted.make("probe-pw-123")

  it.scoped("takes the first outcome; a late failure changes it not, but its connection is not trusted again", () =>
    Effect.gen(function*() {
      const { a, session } = yield* connected
      const out = yield* ProbeSession.attempt(session, "n1", [secret], (attempt) => {
        expect(attempt.done()).toBe(false)
        attempt.succeed(result)
        expect(attempt.done()).toBe(true)
        attempt.fail(a, new Error("late"))
      })
      expect(out).toBe(result)
      expect(a.cuts).toBe(1)
      expect(session.reusable()).toBeUndefined()
    }))

  it.scoped("a failure drops the connection and carries no password", () =>
    Effect.gen(function*() {
      const { a, session } = yield* connected
      const error = yield* Effect.flip(
        ProbeSession.attempt(session, "n1", [secret], (attempt) =>
          attempt.fail(a, new Error("password authentication failed: probe-pw-123")))
      )
      expect(error._tag).toBe("ProbeError")
      expect(JSON.stringify(error)).not.toContain("probe-pw-123")
      expect(String(error.message)).not.toContain("probe-pw-123")
      expect(a.cuts).toBe(1)
      expect(session.reusable()).toBeUndefined()
    }))

  it.scoped("an interruption drops the connection the probe may have left mid-statement", () =>
    Effect.gen(function*() {
      const { a, session } = yield* connected
      let late: ProbeSession.Attempt<Conn> | undefined
      const fiber = yield* Effect.fork(ProbeSession.attempt(session, "n1", [], (attempt) => {
        late = attempt
      }))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      expect(a.cuts).toBe(1)
      expect(late?.done()).toBe(true)
      // The driver's answer after the timeout is ignored.
      late?.succeed(result)
      expect(session.reusable()).toBeUndefined()
    }))
})
