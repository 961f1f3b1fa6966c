/**
 * Closing a network client is bounded, and a connection the network lost while it was being set up never keeps its
 * pool slot: each node's pool closes within `RELEASE_BOUND_MS` even when a statement is still running or a goodbye
 * is never answered, and closes whatever sockets are left at that bound.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { describe, expect, it } from "@effect/vitest"
import type { NodeInfo } from "@fastorm/test-support"
import { FaultProxy, loadCluster, LOADED_MACHINE_SLACK_MS, markedSleep, waitUntil } from "@fastorm/test-support"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { DatabaseAdapter } from "../src/index.js"
import { DatabaseAdapterFactory } from "../src/index.js"
import { RELEASE_BOUND_MS } from "../src/internal/scopedRelease.js"

const cluster = loadCluster()

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, value]) => ({ ms: Duration.toMillis(duration), value }))

/** A client of `node` through `proxy`, in a scope of its own that the test closes. */
const clientIn = (
  scope: Scope.Scope,
  proxy: FaultProxy.FaultProxy,
  node: NodeInfo,
  config: NonNullable<DatabaseAdapter.AdapterOptions["config"]>
) =>
  Scope.extend(
    Effect.flatMap(
      DatabaseAdapterFactory.create(proxy.url(node), { config }),
      (adapter) => adapter.makeClient()
    ),
    scope
  )

/**
 * Closes `scope` and says how long it took, waiting at most `ms`: a finalizer runs uninterruptibly, so the close
 * itself is left running in the background (`disconnect`) when it outlives the wait.
 */
const closeWithin = (scope: Scope.CloseableScope, ms: number) =>
  timed(Effect.timeoutOption(Effect.disconnect(Scope.close(scope, Exit.void)), Duration.millis(ms)))

const nodes: ReadonlyArray<{ readonly name: string; readonly node: NodeInfo }> = [
  { name: "PostgreSQL", node: cluster.postgres.primary },
  { name: "MariaDB", node: cluster.mariadb.primary }
]

for (const { name, node } of nodes) {
  describe(`closing a ${name} client`, () => {
    it.scopedLive(
      "with a statement still running: closed within the release bound, its socket too, and the statement fails",
      () =>
        Effect.gen(function*() {
          const proxy = yield* FaultProxy.forNode(node)
          const scope = yield* Scope.make()
          const client = yield* clientIn(scope, proxy, node, {
            poolSize: 1,
            maxOverflow: 0,
            statementTimeout: "30 seconds"
          })
          yield* client.unsafe("SELECT 1 AS one")
          const sleep = markedSleep(node, 20)
          const busy = yield* Effect.fork(client.unsafe(sleep.sql))
          yield* sleep.running
          // Before the bound, closing waited for the statement (20 s here, up to the statement timeout in general).
          const closed = yield* closeWithin(scope, RELEASE_BOUND_MS + 8_000)
          expect(Option.isSome(closed.value)).toBe(true)
          expect(closed.ms).toBeLessThan(RELEASE_BOUND_MS + LOADED_MACHINE_SLACK_MS)
          const socketsMs = yield* waitUntil(proxy.connections, (open) => open === 0, {
            what: "the client's sockets closed",
            timeoutMs: LOADED_MACHINE_SLACK_MS
          })
          const statement = yield* timed(Fiber.await(busy).pipe(Effect.timeoutOption("5 seconds")))
          expect(Option.isSome(statement.value) && Exit.isFailure(statement.value.value)).toBe(true)
          console.log(
            `[release ${name}] closed in ${Math.round(closed.ms)} ms (bound ${RELEASE_BOUND_MS}), sockets gone ` +
              `${socketsMs} ms later, the running statement failed ${Math.round(statement.ms)} ms after that`
          )
        }).pipe(Effect.provide(Reactivity.layer)),
      30_000
    )
  })
}

describe("a MariaDB connection lost between its handshake and its session settings", () => {
  const node = cluster.mariadb.primary
  it.scopedLive(
    "is closed within connectTimeout instead of keeping its pool slot; once the link is back the pool serves",
    () =>
      Effect.gen(function*() {
        const proxy = yield* FaultProxy.forNode(node)
        const scope = yield* Scope.make()
        yield* Effect.addFinalizer(() => Effect.asVoid(closeWithin(scope, RELEASE_BOUND_MS + 5_000)))
        const client = yield* clientIn(scope, proxy, node, { poolSize: 1, maxOverflow: 0, connectTimeout: "1 second" })
        // The handshake (the client's first chunk, its login) passes; the session statements after it are lost.
        yield* proxy.setMode(FaultProxy.blackholeAfter(1))
        const first = yield* timed(Effect.either(client.unsafe("SELECT 1 AS one")))
        expect(Either.isLeft(first.value)).toBe(true)
        expect(first.ms).toBeLessThan(1_000 + LOADED_MACHINE_SLACK_MS)
        const stats = yield* proxy.stats
        expect(stats.dropped.toServer).toBeGreaterThan(0)
        // Kept, the connection would wait for its answers for ever, holding the pool's only slot.
        yield* waitUntil(proxy.connections, (open) => open === 0, {
          what: "the dark connection closed",
          timeoutMs: 1_000 + LOADED_MACHINE_SLACK_MS
        })
        expect(client.poolStatus().open).toBe(0)
        yield* proxy.setMode(FaultProxy.pass)
        const rows = yield* client.unsafe<{ one: unknown }>("SELECT 1 AS one")
        expect(Number(rows[0]!.one)).toBe(1)
        console.log(
          `[release MariaDB] the dark connection's borrower failed in ${Math.round(first.ms)} ms (connectTimeout ` +
            `1000), ${stats.dropped.toServer} bytes lost; the pool served again once the link was back`
        )
      }).pipe(Effect.provide(Reactivity.layer)),
    30_000
  )
})

/**
 * A client of one connection at most whose new connections log in, then get no answer (FaultProxy `blackholeAfter`),
 * and a statement waiting for that first connection, once what it sent after the login is lost. A connect bound
 * longer than the tests: only the fault under test ends the wait.
 */
const waitingAfterLogin = (node: NodeInfo, loginChunks: number) =>
  Effect.gen(function*() {
    const proxy = yield* FaultProxy.forNode(node)
    const scope = yield* Scope.make()
    const client = yield* clientIn(scope, proxy, node, { poolSize: 1, maxOverflow: 0, connectTimeout: "20 seconds" })
    yield* proxy.setMode(FaultProxy.blackholeAfter(loginChunks))
    const borrower = yield* Effect.fork(client.unsafe<{ one: unknown }>("SELECT 1 AS one"))
    yield* waitUntil(proxy.stats, (s) => s.dropped.toServer > 0, {
      what: "the statements after the login sent and lost",
      timeoutMs: 5_000
    })
    return { proxy, scope, client, borrower }
  })

/**
 * Closes a client whose only connection has served no one yet, and checks what that must do: the close does not wait
 * (forced, it would take the release bound), the socket is gone, and the statement waiting for it failed.
 */
const closedAtOnce = <A, E>(scope: Scope.CloseableScope, proxy: FaultProxy.FaultProxy, borrower: Fiber.Fiber<A, E>) =>
  Effect.gen(function*() {
    const closed = yield* closeWithin(scope, RELEASE_BOUND_MS + 5_000)
    expect(Option.isSome(closed.value)).toBe(true)
    expect(closed.ms).toBeLessThan(RELEASE_BOUND_MS / 2)
    yield* waitUntil(proxy.connections, (open) => open === 0, {
      what: "the connection's socket closed",
      timeoutMs: LOADED_MACHINE_SLACK_MS
    })
    const read = yield* Fiber.await(borrower).pipe(Effect.timeoutOption("5 seconds"))
    expect(Option.isSome(read) && Exit.isFailure(read.value)).toBe(true)
    return { closed, read }
  })

// What a new connection runs after its login before it serves: PostgreSQL's check of its server process (SCRAM's three
// client chunks log in), MariaDB's session settings (one handshake response).
for (
  const { chunks, name, node } of [
    { name: "PostgreSQL", node: cluster.postgres.primary, chunks: 3 },
    { name: "MariaDB", node: cluster.mariadb.primary, chunks: 1 }
  ]
) {
  describe(`a ${name} connection waiting for the answers after its login`, () => {
    it.scopedLive(
      "closing the client does not wait for its goodbye: closed at once, its socket too, its borrower told why",
      () =>
        Effect.gen(function*() {
          const { borrower, proxy, scope } = yield* waitingAfterLogin(node, chunks)
          const { closed, read } = yield* closedAtOnce(scope, proxy, borrower)
          const error = Option.isSome(read) && Exit.isFailure(read.value) ? Cause.squash(read.value.cause) : undefined
          const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : ""
          expect(cause).toMatch(/closed before this connection was set up/)
          const said = error instanceof Error ? `${error.message} (cause: ${cause})` : String(error)
          console.log(
            `[release ${name}] closed in ${Math.round(closed.ms)} ms with a connection awaiting the answers after ` +
              `its login (bound ${RELEASE_BOUND_MS}); its borrower: ${said}`
          )
        }).pipe(Effect.provide(Reactivity.layer)),
      30_000
    )

    it.scopedLive(
      "reset: its borrower fails at once, nothing is raised unhandled, and the pool serves once the link is back",
      () =>
        Effect.gen(function*() {
          const { borrower, client, proxy, scope } = yield* waitingAfterLogin(node, chunks)
          yield* Effect.addFinalizer(() => Effect.asVoid(closeWithin(scope, RELEASE_BOUND_MS + 5_000)))
          // Before, pg's client had no listener here: the reset was an unhandled "error" event (the process's end).
          const read = yield* timed(
            Effect.zipRight(proxy.setMode(FaultProxy.reset), Effect.either(Fiber.join(borrower)))
          )
          expect(Either.isLeft(read.value)).toBe(true)
          // At once, not at the 20 s connect bound.
          expect(read.ms).toBeLessThan(LOADED_MACHINE_SLACK_MS)
          yield* proxy.setMode(FaultProxy.pass)
          const rows = yield* client.unsafe<{ one: unknown }>("SELECT 1 AS one")
          expect(Number(rows[0]!.one)).toBe(1)
          console.log(
            `[release ${name}] a connection reset after its login: its borrower failed ${
              Math.round(read.ms)
            } ms after the reset (${Either.isLeft(read.value) ? String(read.value.left) : "served"}); served again`
          )
        }).pipe(Effect.provide(Reactivity.layer)),
      30_000
    )
  })
}

for (const { name, node } of nodes) {
  describe(`a ${name} connection that cannot log in`, () => {
    it.scopedLive(
      "closing the client does not wait for its connect's bound: closed at once, its socket too, its borrower fails",
      () =>
        Effect.gen(function*() {
          const proxy = yield* FaultProxy.forNode(node, FaultProxy.blackhole)
          const scope = yield* Scope.make()
          yield* Effect.addFinalizer(() => Effect.asVoid(closeWithin(scope, RELEASE_BOUND_MS + 5_000)))
          // A connect bound longer than the test: only the close can end the login's wait.
          const client = yield* clientIn(scope, proxy, node, {
            poolSize: 1,
            maxOverflow: 0,
            connectTimeout: "20 seconds"
          })
          const borrower = yield* Effect.fork(client.unsafe("SELECT 1 AS one"))
          yield* waitUntil(proxy.connections, (open) => open === 1, {
            what: "the connection accepted by the proxy",
            timeoutMs: 5_000
          })
          const { closed } = yield* closedAtOnce(scope, proxy, borrower)
          console.log(
            `[release ${name}] closed in ${
              Math.round(closed.ms)
            } ms with a connection still logging in (bound ${RELEASE_BOUND_MS})`
          )
        }).pipe(Effect.provide(Reactivity.layer)),
      30_000
    )
  })
}
