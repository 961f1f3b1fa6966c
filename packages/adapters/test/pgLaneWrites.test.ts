/**
 * What a pipelined connection writes in one turn of the event loop (`turnWrites.ts`), and the statements a lane
 * carries around a caller's (`pgLaneCarried.ts`): a session read's poll before it, a write's position read after it. No server: the lane's pg client is a fake whose socket counts its corks and writes as
 * Node's `Writable` does (a write while corked is held until the last uncork).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type Pg from "pg"
import type { TextRow } from "../src/DatabaseAdapter.js"
import { settle } from "../src/internal/deadline.js"
import { commitPosition } from "../src/internal/pgBatchedWrite.js"
import { OpenLane } from "../src/internal/pgLane.js"
import { CommittedOnLane, LedLane } from "../src/internal/pgLaneCarried.js"
import type { Reply, Target } from "../src/internal/pgSubmit.js"
import { submitWithin } from "../src/internal/pgSubmit.js"

/** A socket that holds writes while corked and flushes them as one write at the last uncork. */
class CountingSocket {
  corked = 0
  held: Array<string> = []
  flushes: Array<ReadonlyArray<string>> = []
  cork() {
    this.corked++
  }
  uncork() {
    if (this.corked > 0 && --this.corked === 0 && this.held.length > 0) this.flushes.push(this.held.splice(0))
  }
  write(chunk: string) {
    if (this.corked > 0) this.held.push(chunk)
    else this.flushes.push([chunk])
  }
}

/** A pg client in pipeline mode over `socket`: each query written at once, corked around its messages as pg does. */
const fakeClient = (socket: CountingSocket) => ({
  connection: { stream: socket },
  query: (query: { readonly text: string }) => {
    socket.cork()
    socket.write(`${query.text}:parse`)
    socket.write(`${query.text}:execute`)
    socket.uncork()
  }
})

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe("a lane's writes in one turn", () => {
  it("statements sent in one turn go out in one write, at the end of the turn", async () => {
    const socket = new CountingSocket()
    const lane = new OpenLane(fakeClient(socket) as unknown as Pg.Client, 0, () => {})
    for (let i = 0; i < 3; i++) lane.query({ text: `q${i}` }, () => {})
    // Nothing left before the turn's end: pg's own uncork after each statement does not flush the lane's cork.
    expect(socket.flushes).toEqual([])
    await nextTurn()
    expect(socket.flushes).toEqual([["q0:parse", "q0:execute", "q1:parse", "q1:execute", "q2:parse", "q2:execute"]])
    expect(socket.corked).toBe(0)
  })

  it("a statement of the next turn goes in a write of its own", async () => {
    const socket = new CountingSocket()
    const lane = new OpenLane(fakeClient(socket) as unknown as Pg.Client, 0, () => {})
    lane.query({ text: "a" }, () => {})
    await nextTurn()
    lane.query({ text: "b" }, () => {})
    lane.query({ text: "c" }, () => {})
    await nextTurn()
    expect(socket.flushes.map((write) => write.length)).toEqual([2, 4])
  })

  it("a client with no socket to cork (already gone) is sent to as it is", () => {
    const sent: Array<string> = []
    const client = { query: (query: { readonly text: string }) => sent.push(query.text) }
    const lane = new OpenLane(client as unknown as Pg.Client, 0, () => {})
    lane.query({ text: "x" }, () => {})
    expect(sent).toEqual(["x"])
  })
})

/** A lane that records what is sent and answers each statement when told. */
const recordingLane = () => {
  const sent: Array<{ readonly text: string; readonly reply: Reply }> = []
  const lane: Target = {
    query: (query, reply) => {
      sent.push({ text: (query as { readonly text: string }).text, reply })
    }
  }
  return { lane, sent }
}

const POLL = "SELECT pg_last_wal_replay_lsn()::text, current_setting('transaction_isolation')"

/** A read sent with its poll on a recording lane: what was sent, the rows handed over and the read's outcome. */
const ledRead = () => {
  const { lane, sent } = recordingLane()
  const handed: Array<ReadonlyArray<TextRow>> = []
  const events: Array<string> = []
  const outcome: Array<{ readonly error: unknown; readonly result: unknown }> = []
  const led = new LedLane(lane, {
    sql: POLL,
    onRows: (rows) => {
      events.push("rows")
      handed.push(rows)
    }
  }, class {} as never)
  led.query({ text: "SELECT * FROM users WHERE id = $1", values: [1] } as Pg.QueryConfig, (error, result) => {
    events.push("reply")
    outcome.push({ error, result })
  })
  return { sent, handed, events, outcome }
}

describe("a session read with its poll on a lane", () => {
  it("the poll goes just before the read; its rows reach the session before the read's reply", () => {
    const { events, handed, outcome, sent } = ledRead()
    expect(sent.map((s) => s.text)).toEqual([POLL, "SELECT * FROM users WHERE id = $1"])
    sent[0]!.reply(null, { rows: [["0/3000060", "read committed"]] })
    sent[1]!.reply(null, { rows: [{ id: 1 }] })
    expect(events).toEqual(["rows", "reply"])
    expect(handed).toEqual([[["0/3000060", "read committed"]]])
    expect(outcome).toEqual([{ error: null, result: { rows: [{ id: 1 }] } }])
  })

  it("a failed poll fails the read, though the read ran: no rows handed over", () => {
    const { events, outcome, sent } = ledRead()
    const refused = Object.assign(new Error("canceling statement due to conflict with recovery"), { code: "40001" })
    sent[0]!.reply(refused, undefined)
    sent[1]!.reply(null, { rows: [{ id: 1 }] })
    expect(events).toEqual(["reply"])
    expect(outcome).toEqual([{ error: refused, result: undefined }])
  })

  it("a failed read keeps its own error and hands over no rows", () => {
    const { events, outcome, sent } = ledRead()
    const failed = Object.assign(new Error("relation \"users\" does not exist"), { code: "42P01" })
    sent[0]!.reply(null, { rows: [["0/3000060", "read committed"]] })
    sent[1]!.reply(failed, undefined)
    expect(events).toEqual(["reply"])
    expect(outcome).toEqual([{ error: failed, result: undefined }])
  })
})

/** A write sent with its position read on a recording lane: what was sent, the cell, and the write's outcome. */
const committedWrite = () => {
  const { lane, sent } = recordingLane()
  const cell: { position: string | undefined } = { position: undefined }
  const outcome: Array<{ readonly error: unknown; readonly result: unknown; readonly position: string | undefined }> =
    []
  new CommittedOnLane(lane, cell, class {} as never).query(
    { text: "UPDATE users SET score = $1 WHERE id = $2", values: [1, 2] } as Pg.QueryConfig,
    (error, result) => outcome.push({ error, result, position: cell.position })
  )
  return { sent, cell, outcome }
}

describe("a write with its position read just after it on a lane", () => {
  it("the position read follows the write; the write is answered once the position came, with it in the cell", () => {
    const { outcome, sent } = committedWrite()
    expect(sent.map((s) => s.text)).toEqual(["UPDATE users SET score = $1 WHERE id = $2", commitPosition])
    sent[0]!.reply(null, { rowCount: 1 })
    expect(outcome).toEqual([])
    sent[1]!.reply(null, { rows: [["0/3000148"]] })
    expect(outcome).toEqual([{ error: null, result: { rowCount: 1 }, position: "0/3000148" }])
  })

  it("a failed write is answered at once with its error; the position read's answer is not taken", () => {
    const { cell, outcome, sent } = committedWrite()
    const refused = Object.assign(new Error("duplicate key value violates unique constraint"), { code: "23505" })
    sent[0]!.reply(refused, undefined)
    expect(outcome).toEqual([{ error: refused, result: undefined, position: undefined }])
    sent[1]!.reply(null, { rows: [["0/3000148"]] })
    expect([outcome.length, cell.position]).toEqual([1, undefined])
  })

  it("a failed position read leaves the write answered as it was, with no position", () => {
    const { outcome, sent } = committedWrite()
    sent[0]!.reply(null, { rowCount: 1 })
    sent[1]!.reply(Object.assign(new Error("Connection terminated unexpectedly")), undefined)
    expect(outcome).toEqual([{ error: null, result: { rowCount: 1 }, position: undefined }])
  })
})

/** A pg `Query` stand-in that keeps its text, as a recording lane reads it. */
class TextQuery {
  constructor(readonly text: string) {}
}

/**
 * A write with its position read on a recording lane, under a 20 ms deadline: what was sent, the cell, how the lane
 * came out of it, and the write's outcome once settled.
 */
const writeWithin = () => {
  const { lane, sent } = recordingLane()
  const cell: { position: string | undefined } = { position: undefined }
  const Query = TextQuery as unknown as typeof Pg.Query
  const after: Array<boolean> = []
  const settled = new Promise<Exit.Exit<unknown, unknown>>((resolve) => {
    submitWithin(
      new CommittedOnLane(lane, cell, Query),
      { text: "UPDATE users SET score = $1 WHERE id = $2", values: [1, 2] },
      (result: { readonly rowCount: number }) => result.rowCount,
      { alias: "primary", deadlineMs: 20, guard: settle(), Query },
      (outcome) => resolve(Effect.runSyncExit(outcome)),
      (_broken, timedOut) => after.push(timedOut)
    )
  })
  return { sent, cell, after, settled }
}

describe("a write with its position read on a lane, at its deadline", () => {
  it("answered, its position not: the write's own result, no position, the lane given up", async () => {
    const { after, cell, sent, settled } = writeWithin()
    expect(sent.map((s) => s.text)).toEqual(["UPDATE users SET score = $1 WHERE id = $2", commitPosition])
    sent[0]!.reply(null, { rowCount: 1 })
    const exit = await settled
    expect(exit).toEqual(Exit.succeed(1))
    expect([cell.position, after]).toEqual([undefined, [true]])
    // The position's late answer changes nothing.
    sent[1]!.reply(null, { rows: [["0/3000148"]] })
    expect(after).toEqual([true])
  })

  it("not answered at all: the deadline's timeout", async () => {
    const { after, settled } = writeWithin()
    const exit = await settled
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(Exit.isFailure(exit) ? exit.cause : "")).toMatch(/No answer from "primary" within 20 ms/)
    expect(after).toEqual([true])
  })
})
