/**
 * A node's pool finds out whether each new connection reaches PostgreSQL itself (`NodePool.direct`): it asks the
 * connection for its server process before the first checkout gets it, and a connection that does not answer within
 * the connect's bound, or is lost or its pool closed meanwhile, is not handed out. pg's Pool and Client stand in here; the live checks are in
 * `preparedStatements.integration.test.ts` (direct) and `pgbouncer.integration.test.ts` (behind PgBouncer).
 */
import { describe, expect, it } from "@effect/vitest"
import { EventEmitter } from "node:events"
import * as NodePool from "../src/internal/pgPool.js"

type Answer = (error: Error | undefined, result: { rows: Array<{ pid: number }> } | undefined) => void

/**
 * A connection whose startup named `processID`; it answers the check with `pid` (or never, when undefined). An event
 * emitter as pg's client is: an "error" event nobody listens to throws. `cut` counts its socket's destroys.
 */
class StandInClient extends EventEmitter {
  readonly asked: Array<string> = []
  pending: Answer | undefined
  cut = 0
  _queryable = true
  readonly connection = { stream: { destroy: () => this.cut++ } }
  constructor(readonly processID: number, readonly pid: number | undefined) {
    super()
  }
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

/** A pool that checks each new connection (`checksDirect`), every checkout opening `client`; `released` collects. */
const checkingPool = (client: StandInClient, released: Array<unknown>, connectionTimeoutMillis?: number) =>
  NodePool.make(
    standInPool(() => client, released) as never,
    () => connectionTimeoutMillis === undefined ? {} : { connectionTimeoutMillis },
    undefined,
    true
  )

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
    const pool = checkingPool(client, released)
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
    const pool = checkingPool(client, released, 50)
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
    // Closed at once: a goodbye on a link that answers nothing would keep the socket open.
    expect(client.cut).toBe(1)
    // A late answer changes nothing for the checkout that already failed.
    client.pending?.(undefined, { rows: [{ pid: 4242 }] })
    expect(released).toHaveLength(1)
  })

  it("a connection lost before its check answers: no unhandled error, the checkout gets the loss", async () => {
    const client = new StandInClient(4242, undefined)
    const released: Array<unknown> = []
    const pool = checkingPool(client, released, 10_000)
    const checkout = checkedOut(pool)
    // As pg does on a reset socket: the client's "error" event first (nobody else listens: pg-pool counts the client
    // as checked out), then the check's own callback with the same error.
    const lost = new Error("Connection terminated unexpectedly")
    client._queryable = false
    expect(() => client.emit("error", lost)).not.toThrow()
    client.pending?.(lost, undefined)
    const { client: got, error } = await checkout
    expect(got).toBeUndefined()
    expect(error).toBe(lost)
    expect(released).toEqual([lost])
    expect(client.cut).toBe(1)
    // Once the check answered, the listener is gone again: the checkout's own listener takes over.
    expect(client.listenerCount("error")).toBe(0)
  })

  it("a check refused by the server on a connection still usable: handed over, not direct", async () => {
    const client = new StandInClient(4242, undefined)
    const released: Array<unknown> = []
    const pool = checkingPool(client, released)
    const checkout = checkedOut(pool)
    client.pending?.(Object.assign(new Error("permission denied"), { code: "42501" }), undefined)
    const { client: got, error } = await checkout
    expect(error).toBeUndefined()
    expect(got).toBe(client)
    expect(pool.direct(client as never)).toBe(false)
    expect(released).toEqual([])
  })

  it("closing the pool while a checkout waits for the check: the checkout fails at once, the connection is closed", async () => {
    const client = new StandInClient(4242, undefined)
    const released: Array<unknown> = []
    const pool = checkingPool(client, released, 10_000)
    const checkout = checkedOut(pool)
    const started = performance.now()
    await pool.end()
    const { client: got, error } = await checkout
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(got).toBeUndefined()
    expect(error?.message).toBe("the pool was closed before this connection was set up")
    expect(released).toEqual([error])
    expect(client.cut).toBeGreaterThanOrEqual(1)
  })
})
