/**
 * Start-up errors say what happened, on the live test clusters: a refused login, a closed port, a host name that
 * does not resolve and a blackholed port each fail `FastOrm.layer` with `PrimaryUnavailable` whose message names the
 * problem and the driver's code (the timeout alone says "no answer within"), and the canary password given in the
 * URL appears in no rendering of the failure.
 */
import { describe, expect, it } from "@effect/vitest"
import type { ClusterKind, NodeInfo } from "@fastorm/test-support"
import { FaultProxy, loadCluster } from "@fastorm/test-support"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Net from "node:net"
import { inspect } from "node:util"
import { FastOrm } from "../src/index.js"

const CANARY = "S3cr3t-canary-start"

const cluster = loadCluster()

/** A URL of the app user with the canary as its (wrong) password, to any host and port. */
const canaryUrl = (kind: ClusterKind, host: string, port: number, node: NodeInfo) =>
  `${kind === "postgres" ? "postgres" : "mysql"}://app:${CANARY}@${host}:${port}/${node.database}`

/** A port nothing listens on: bound, then closed at once. */
const closedPort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })
)

/** Builds the layer with a 1 s connect bound; returns the typed failure, how long it took and every rendering. */
const startFailing = (write: string) =>
  Effect.gen(function*() {
    const [elapsed, exit] = yield* Effect.timed(Effect.exit(Effect.scoped(Layer.build(FastOrm.layer({
      write: Redacted.make(write),
      readWrite: { connectTimeout: "1 second" },
      health: { interval: "1 second" }
    })))))
    if (Exit.isSuccess(exit)) return yield* Effect.die("the layer started")
    const failure = Cause.failureOption(exit.cause)
    if (Option.isNone(failure)) return yield* Effect.die(`not a typed failure: ${Cause.pretty(exit.cause)}`)
    const error = failure.value
    const renderings = {
      message: error.message,
      string: String(error),
      inspect: inspect(error, { depth: 10 }),
      json: JSON.stringify(error),
      pretty: Cause.pretty(exit.cause),
      inspectCause: inspect(exit.cause, { depth: 20 })
    }
    return { error, elapsedMs: Duration.toMillis(elapsed), renderings }
  })

const expectNoCanary = (renderings: Record<string, string>) => {
  for (const [where, text] of Object.entries(renderings)) {
    expect([where, text.includes(CANARY)]).toEqual([where, false])
  }
}

for (const kind of ["postgres", "mariadb"] as const) {
  const nodes = cluster[kind]
  const primary = nodes.primary
  const authCode = kind === "postgres" ? "28P01" : "ER_ACCESS_DENIED_ERROR"

  describe(`start-up errors on ${kind}`, () => {
    it.scopedLive(`a wrong password: authentication failed (${authCode})`, () =>
      Effect.gen(function*() {
        const { elapsedMs, error, renderings } = yield* startFailing(
          canaryUrl(kind, "127.0.0.1", primary.port, primary)
        )
        expect(error._tag).toBe("PrimaryUnavailable")
        expect(error.message).toMatch(
          new RegExp(
            `^The primary "primary" is unavailable: authentication failed \\(${authCode}\\): .* after \\d+ ms, connecting to ${
              kind === "postgres" ? "postgresql" : "mysql"
            }://127\\.0\\.0\\.1:${primary.port}/${primary.database}$`
          )
        )
        expect(renderings.pretty).toContain(`authentication failed (${authCode})`)
        const cause = (error as { cause?: { _tag?: string; problem?: string; code?: string } }).cause
        expect([cause?._tag, cause?.problem, cause?.code]).toEqual(["ConnectionFailed", "authentication", authCode])
        expect(elapsedMs).toBeLessThan(1000)
        expectNoCanary(renderings)
      }))

    it.scopedLive("a closed port: connection refused (ECONNREFUSED) after a few ms, not a timeout", () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const { elapsedMs, error, renderings } = yield* startFailing(canaryUrl(kind, "127.0.0.1", port, primary))
        expect(error._tag).toBe("PrimaryUnavailable")
        expect(error.message).toMatch(/unavailable: connection refused \(ECONNREFUSED\) after \d+ ms, connecting to /)
        expect(renderings.string).toContain("connection refused (ECONNREFUSED)")
        expect(renderings.pretty).toContain("connection refused (ECONNREFUSED)")
        expect(elapsedMs).toBeLessThan(1000)
        expectNoCanary(renderings)
      }))

    it.scopedLive("a host name that does not resolve: host not found (ENOTFOUND)", () =>
      Effect.gen(function*() {
        const { error, renderings } = yield* startFailing(
          canaryUrl(kind, "fastorm-no-such-host.invalid", 5432, primary)
        )
        expect(error._tag).toBe("PrimaryUnavailable")
        expect(error.message).toMatch(
          /unavailable: host not found \(ENOTFOUND\) after \d+ ms, connecting to \w+:\/\/fastorm-no-such-host\.invalid:/
        )
        expect(renderings.pretty).toContain("host not found (ENOTFOUND)")
        expectNoCanary(renderings)
      }))

    it.scopedLive("a blackholed port: no answer within 1 s", () =>
      Effect.gen(function*() {
        const proxy = yield* FaultProxy.forNode(primary, FaultProxy.blackhole)
        const { elapsedMs, error, renderings } = yield* startFailing(canaryUrl(kind, "127.0.0.1", proxy.port, primary))
        expect(error._tag).toBe("PrimaryUnavailable")
        expect(error.message).toMatch(/unavailable: no answer within 1 s( \(ETIMEDOUT\))?, connecting to /)
        expect(renderings.pretty).toContain("no answer within 1 s")
        // Bounded by connectTimeout, with room for a loaded machine.
        expect(elapsedMs).toBeGreaterThanOrEqual(900)
        expect(elapsedMs).toBeLessThan(4000)
        expectNoCanary(renderings)
      }))
  })
}
