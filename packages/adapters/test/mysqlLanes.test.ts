/**
 * The lanes of a MySQL / MariaDB node over a fake pool: a lane is borrowed when the load asks and never waited for; a
 * lane whose connection must not serve again leaves at once, closed, never given back, and the statements behind it
 * hear of a lost connection now; idle lanes, expired ones and those left when the client closes go back to the pool;
 * a lane whose oldest statement is past the deadline with no one waiting is retired, and so is every lane of a node
 * found down; the statements of one turn on a lane go out in one write. No server.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type * as Mysql from "mysql2"
import * as MysqlLanes from "../src/internal/mysqlLanes.js"
import type { MysqlPool } from "../src/internal/mysqlPool.js"

const DEADLINE_MS = 5_000

/** A fake pool connection: whether it was destroyed, and the error its socket was closed with. */
const fakeConn = () => {
  const conn = {
    destroyed: false,
    socketError: undefined as (Error & { code?: string }) | undefined,
    destroy() {
      conn.destroyed = true
    },
    // Corks of the socket still held, and how many times a last uncork wrote what was held.
    corked: 0,
    flushed: 0,
    stream: {
      destroy(error: Error) {
        conn.socketError = error
      },
      cork() {
        conn.corked++
      },
      uncork() {
        if (--conn.corked === 0) conn.flushed++
      }
    }
  }
  return conn
}
type FakeConn = ReturnType<typeof fakeConn>

/** A fake pool: borrows are answered when the test says, given-back connections recorded. */
const fakePool = () => {
  const waiting: Array<(conn: Mysql.PoolConnection) => void> = []
  const givenBack: Array<FakeConn> = []
  const expiredConns = new Set<FakeConn>()
  const pool: MysqlPool = {
    borrow: (done) => {
      waiting.push(done as (conn: Mysql.PoolConnection) => void)
      return () => {}
    },
    giveBack: (conn) => {
      givenBack.push(conn as unknown as FakeConn)
    },
    expired: (conn) => expiredConns.has(conn as unknown as FakeConn),
    status: () => ({ open: 0, idle: 0, waiting: 0, max: 4 })
  }
  /** Hands the oldest borrow a new connection. */
  const answer = () => {
    const conn = fakeConn()
    waiting.shift()!(conn as unknown as Mysql.PoolConnection)
    return conn
  }
  return { pool, answer, waiting, givenBack, expiredConns }
}

let scope: Scope.CloseableScope
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "performance"] })
  scope = Effect.runSync(Scope.make())
})
afterEach(() => {
  vi.useRealTimers()
})

const lanesOf = (pool: MysqlPool, max = 2) =>
  Effect.runSync(Scope.extend(MysqlLanes.make(pool, "replica-1", max, DEADLINE_MS), scope))

/** A lane open with one connection. */
const oneLane = () => {
  const fake = fakePool()
  const lanes = lanesOf(fake.pool, 1)
  expect(lanes.pick()).toBeUndefined()
  const conn = fake.answer()
  const lane = lanes.pick()!
  expect(lane.conn).toBe(conn)
  return { fake, lanes, lane, conn }
}

describe("laneCount", () => {
  const rows: ReadonlyArray<[string, number, number, number]> = [
    ["the default pool (8 + 16) holds the two asked for", 2, 24, 2],
    ["a third of a small pool", 2, 3, 1],
    ["a pool of two holds none: a lane would leave one connection for every write", 2, 2, 0],
    ["a pool of one holds none", 2, 1, 0],
    ["none asked for", 0, 24, 0],
    ["more asked for than a third of the pool: a third", 16, 24, 8]
  ]
  for (const [why, asked, poolMax, expected] of rows) {
    it(`${why}: ${expected}`, () => {
      expect(MysqlLanes.laneCount(asked, poolMax)).toBe(expected)
    })
  }
})

describe("MySQL / MariaDB lanes", () => {
  it("the statements sent on a lane in one turn go out in one write, at the end of the turn", async () => {
    const { conn, lane, lanes } = oneLane()
    for (let i = 0; i < 3; i++) lanes.sent(lane)
    expect([conn.corked, conn.flushed]).toEqual([1, 0])
    await new Promise<void>((resolve) => process.nextTick(resolve))
    expect([conn.corked, conn.flushed]).toEqual([0, 1])
    lanes.sent(lane)
    await new Promise<void>((resolve) => process.nextTick(resolve))
    expect([conn.corked, conn.flushed]).toEqual([0, 2])
  })

  it("the first statement takes the pool while a lane is borrowed; the next ones take the lane", () => {
    const fake = fakePool()
    const lanes = lanesOf(fake.pool)
    expect(lanes.pick()).toBeUndefined()
    expect(fake.waiting).toHaveLength(1)
    fake.answer()
    expect(lanes.open()).toBe(1)
    const lane = lanes.pick()!
    lanes.sent(lane)
    // Busy: a second lane is borrowed for the load, the busy one still takes statements meanwhile.
    expect(lanes.pick()).toBe(lane)
    expect(fake.waiting).toHaveLength(1)
  })

  it("a lane whose connection must not serve again is closed, never given back; those behind hear now", () => {
    const { fake, lanes, lane, conn } = oneLane()
    lanes.sent(lane)
    lanes.sent(lane)
    lanes.answered(lane, false)
    expect(conn.destroyed).toBe(true)
    expect(conn.socketError?.code).toBe("PROTOCOL_CONNECTION_LOST")
    expect(conn.socketError?.message).toContain("replica-1")
    expect(lanes.open()).toBe(0)
    lanes.answered(lane, false)
    expect(fake.givenBack).toEqual([])
  })

  it("the last statement of a broken lane closes it with nothing behind to tell", () => {
    const { lanes, lane, conn } = oneLane()
    lanes.sent(lane)
    lanes.answered(lane, false)
    expect(conn.destroyed).toBe(true)
    expect(conn.socketError).toBeUndefined()
  })

  it("a lane idle for a second goes back to the pool; a busy one stays", () => {
    const { fake, lanes, lane, conn } = oneLane()
    lanes.sent(lane)
    vi.advanceTimersByTime(2_000)
    expect(fake.givenBack).toEqual([])
    lanes.answered(lane, true)
    vi.advanceTimersByTime(2_000)
    expect(fake.givenBack).toEqual([conn])
    expect(lanes.open()).toBe(0)
  })

  it("a lane past the pool's lifetime takes no more, and goes back once its statements are answered", () => {
    const { fake, lanes, lane, conn } = oneLane()
    lanes.sent(lane)
    fake.expiredConns.add(conn)
    vi.advanceTimersByTime(500)
    expect(lanes.open()).toBe(0)
    expect(fake.givenBack).toEqual([])
    lanes.answered(lane, true)
    expect(fake.givenBack).toEqual([conn])
  })

  it("a lane whose oldest statement is past the deadline, with no one waiting for it, is retired", () => {
    const { lanes, lane, conn } = oneLane()
    lanes.sent(lane)
    vi.advanceTimersByTime(DEADLINE_MS + 1_000)
    expect(conn.destroyed).toBe(true)
    expect(conn.socketError?.code).toBe("PROTOCOL_CONNECTION_LOST")
    expect(lanes.open()).toBe(0)
  })

  it("its node found down, every lane is retired at once: the statements on its wire hear now", () => {
    const { fake, lanes, lane, conn } = oneLane()
    lanes.sent(lane)
    lanes.cutAll()
    expect(conn.destroyed).toBe(true)
    expect(conn.socketError?.code).toBe("PROTOCOL_CONNECTION_LOST")
    expect(lanes.open()).toBe(0)
    lanes.answered(lane, false)
    expect(fake.givenBack).toEqual([])
  })

  it("closing the client gives idle lanes back, and busy ones once answered; no lane opens after", () => {
    const { fake, lanes, lane, conn } = oneLane()
    lanes.sent(lane)
    Effect.runSync(Scope.close(scope, Exit.void))
    expect(fake.givenBack).toEqual([])
    lanes.answered(lane, true)
    expect(fake.givenBack).toEqual([conn])
    expect(lanes.pick()).toBeUndefined()
    expect(fake.waiting).toHaveLength(0)
  })
})
