/**
 * A node's pool finds out whether each new connection reaches PostgreSQL itself (`NodePool.direct`): it asks the
 * connection for its server process before the first checkout gets it, and a connection that does not answer within
 * the connect's bound is not handed out. pg's Pool and Client stand in here; the live checks are in
 * `preparedStatements.integration.test.ts` (direct) and `pgbouncer.integration.test.ts` (behind PgBouncer).
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodePool from "../src/internal/pgPool.js"

type Answer = (error: Error | undefined, result: { rows: Array<{ pid: number }> } | undefined) => void

/** A connection whose startup named `processID`; it answers the check with `pid` (or never, when undefined). */
class StandInClient {
  readonly asked: Array<string> = []
  pending: Answer | undefined
  constructor(readonly processID: number, readonly pid: number | undefined) {}
  query(text: string, answer: Answer) {
    this.asked.push(text)
    if (this.pid === undefined) this.pending = answer
    else queueMicrotask(() => answer(undefined, { rows: [{ pid: this.pid! }] }))
  }
}

/** A pg Pool stand-in: each checkout opens `next()`, emits "connect" for it, then hands it over. */
const standInPool = (next: () => StandInClient, released: Array<unknown>) =>
  class {
    readonly handlers: Record<string, (client: unknown) => void> = {}
    constructor(readonly config: object) {}
    on(event: string, handler: (client: unknown) => void) {
      this.handlers[event] = handler
    }
    end() {
      return Promise.resolve()
    }
    connect(callback: (error: Error | undefined, client: unknown, release: (cause?: unknown) => void) => void) {
      const client = next()
      this.handlers["connect"]?.(client)
      callback(undefined, client, (cause) => released.push(cause))
    }
  }

const checkedOut = (pool: NodePool.NodePool) =>
  new Promise<{ error: Error | undefined; client: unknown }>((resolve) =>
    pool.connect((error, client) => resolve({ error, client }))
  )

describe("a node's pool and its direct connections", () => {
  it.each([
    ["its server process is its startup's: direct", 4242, 4242, true],
    ["another process (a pooler made the startup's up): not direct", 9999, 4242, false]
  ])("%s", async (_, processID, pid, direct) => {
    const client = new StandInClient(processID, pid)
    const released: Array<unknown> = []
    const pool = NodePool.make(standInPool(() => client, released) as never, () => ({}), undefined, true)
    const { client: got, error } = await checkedOut(pool)
    expect(error).toBeUndefined()
    expect(got).toBe(client)
    expect(client.asked).toEqual(["SELECT pg_backend_pid() AS pid"])
    expect(pool.direct(client as never)).toBe(direct)
    expect(released).toEqual([])
  })

  it("without checksDirect nothing is asked and no connection counts as direct", async () => {
    const client = new StandInClient(4242, 4242)
    const pool = NodePool.make(standInPool(() => client, []) as never, () => ({}), undefined, false)
    await checkedOut(pool)
    expect(client.asked).toEqual([])
    expect(pool.direct(client as never)).toBe(false)
  })

  it("the first checkout waits for the answer; one that never comes fails it within the connect's bound", async () => {
    const client = new StandInClient(4242, undefined)
    const released: Array<unknown> = []
    const pool = NodePool.make(
      standInPool(() => client, released) as never,
      () => ({ connectionTimeoutMillis: 50 }),
      undefined,
      true
    )
    const started = performance.now()
    const { client: got, error } = await checkedOut(pool)
    expect(performance.now() - started).toBeGreaterThanOrEqual(45)
    expect(got).toBeUndefined()
    expect(error?.message).toBe("no answer within 50 ms after the connection opened")
    // Connection-class, as a connect that timed out: a router runs the read on another node.
    expect((error as { code?: unknown } | undefined)?.code).toBe("ETIMEDOUT")
    // The connection is destroyed (released with an error), never handed to anyone.
    expect(released).toHaveLength(1)
    expect(released[0]).toBeInstanceOf(Error)
    // A late answer changes nothing for the checkout that already failed.
    client.pending?.(undefined, { rows: [{ pid: 4242 }] })
    expect(released).toHaveLength(1)
  })
})
