/**
 * A pipelined connection whose socket is reset between two writes, on the live PostgreSQL primary: the first write
 * reached the server and committed, its answer still on the way; the reset arrives; the second write meets the dead
 * socket. pg hands both statements the socket's one error, a write's. The second never left the process and keeps
 * it (never sent); the first, written before it, fails as a lost connection whose statement may have run
 * (`pgLane.ts` `sharedLoss`; ARCHITECTURE.md, "Pipelined connections"), and the server shows it did run.
 *
 * A fault proxy holds the server's answers back and then resets the connection; the second write goes out in the same
 * turn of the event loop as the reset, before Node has read the reset.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { FaultProxy, loadCluster, scratchTable, waitUntil } from "@fastorm/test-support"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import type { NodeClient } from "../src/DatabaseAdapter.js"
import { DatabaseAdapterFactory } from "../src/index.js"
import { LANE_STALL_MS } from "../src/internal/laneChoice.js"

const primary = loadCluster().postgres.primary

/** A client with one pooled connection and at most `lanes` lanes. */
const clientOf = (url: string, lanes: number) =>
  Effect.flatMap(
    DatabaseAdapterFactory.create(url, { config: { poolSize: 1, maxOverflow: 0, pipelinedConnections: lanes } }),
    (adapter) => adapter.makeClient({ verify: true })
  )

const run = (client: NodeClient, sql: string) => client.connection.execute(sql, [], undefined)

/** The ids in `table`, read on a connection of its own (no proxy between). */
const idsIn = (direct: NodeClient, table: string) =>
  Effect.map(run(direct, `SELECT id FROM ${table} ORDER BY id`), (rows) => rows.map((r) => Number(r["id"])))

interface Failure {
  readonly message: string
  readonly code: unknown
  readonly syscall: unknown
  readonly socketSyscall: unknown
}

const failureOf = (outcome: Either.Either<unknown, SqlError>): Failure | "ok" => {
  if (Either.isRight(outcome)) return "ok"
  const cause = outcome.left.cause as {
    readonly message?: string
    readonly code?: unknown
    readonly syscall?: unknown
    readonly socketError?: { readonly syscall?: unknown }
  }
  return {
    message: cause.message ?? "",
    code: cause.code,
    syscall: cause.syscall,
    socketSyscall: cause.socketError?.syscall
  }
}

/** The failure of an outcome that must have failed. */
const failed = (outcome: Failure | "ok"): Failure => {
  expect(outcome).not.toBe("ok")
  return outcome as Failure
}

/**
 * One try: the first insert on the lane, seen committed on the server, then the reset and the second insert. Undefined
 * when the commit took so long to show that the lane no longer takes a second statement (`LANE_STALL_MS`): the second
 * would go to the pool, which is not the case under test.
 */
const resetBetweenWrites = (table: string) =>
  Effect.scoped(Effect.gen(function*() {
    const proxy = yield* FaultProxy.forNode(primary)
    const client = yield* clientOf(proxy.url(primary), 1)
    const direct = yield* clientOf(primary.url, 0)
    yield* run(direct, `DELETE FROM ${table}`)
    // The lane opens under load; its first statements are answered as usual.
    yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => run(client, `SELECT ${i} AS n`), {
      concurrency: 16
    })
    yield* waitUntil(Effect.sync(() => client.poolStatus().pipelined), (n) => n === 1, {
      what: "the lane open",
      timeoutMs: 5_000
    })
    yield* Effect.sleep("50 millis")
    // The server's answers are held back from now on: the first insert runs and commits, its answer waits.
    yield* proxy.setMode(FaultProxy.latency({ toClient: 10_000 }))
    const sentAt = performance.now()
    const first = yield* Effect.fork(Effect.either(run(client, `INSERT INTO ${table} (id) VALUES (1)`)))
    yield* waitUntil(idsIn(direct, table), (ids) => ids.includes(1), {
      what: "the first insert committed",
      timeoutMs: 5_000,
      intervalMs: 1
    })
    if (performance.now() - sentAt >= LANE_STALL_MS - 10) {
      yield* Fiber.interrupt(first)
      return undefined
    }
    // The reset and the second write in one turn of the event loop: the lane's socket is dead, and Node has not
    // read it yet, so pg still takes the lane for queryable and writes.
    const second = yield* Effect.either(Effect.suspend(() => {
      void proxy.unsafe.setMode(FaultProxy.reset)
      return run(client, `INSERT INTO ${table} (id) VALUES (2)`)
    }))
    const firstOutcome = yield* Fiber.join(first)
    // Long enough for a second insert that did leave to have run.
    yield* Effect.sleep("300 millis")
    return { first: failureOf(firstOutcome), second: failureOf(second), ids: yield* idsIn(direct, table) }
  }))

describe("a pipelined connection reset between two writes", () => {
  it.scopedLive(
    "the write that went first may have run (and did); the write that met the reset keeps its own error, never sent",
    () =>
      Effect.gen(function*() {
        const table = `fastorm_lane_reset_${process.pid}`
        const direct = yield* clientOf(primary.url, 0)
        yield* scratchTable({ unsafe: (sql) => run(direct, sql) }, table, "id int PRIMARY KEY")
        let outcome: Effect.Effect.Success<ReturnType<typeof resetBetweenWrites>> = undefined
        for (let attempt = 0; attempt < 5 && outcome === undefined; attempt++) {
          outcome = yield* resetBetweenWrites(table)
        }
        if (outcome === undefined) {
          return yield* Effect.dieMessage(`the first insert never showed within ${LANE_STALL_MS - 10} ms in 5 tries`)
        }
        const first = failed(outcome.first)
        const second = failed(outcome.second)
        // The second: the socket's own error, met by the write (EPIPE, or the reset itself, which the kernel reports
        // to the first send after it), nothing relabelled.
        expect(second.syscall).toBe("write")
        expect(["EPIPE", "ECONNRESET"]).toContain(second.code)
        expect(second.message).not.toContain("may have run")
        // The first: the lost connection, which may have run; the write's error kept beside it.
        expect(first.code).toBe("ECONNRESET")
        expect(first.syscall).toBeUndefined()
        expect(first.message).toContain("may have run")
        expect(first.socketSyscall).toBe("write")
        // And the server: the first ran, the second never arrived.
        expect(outcome.ids).toEqual([1])
      }).pipe(Effect.provide(Reactivity.layer)),
    60_000
  )
})
