/**
 * Which statements a read batch behind a pooler can carry (`pgBatches.ts` `batchable`): plain text (without
 * parameters only one statement with no semicolon), unnamed, rows as objects or arrays, not a submittable of its own;
 * what an answered read leaves behind; when a connection takes its next batch; and what a write's deadline delivers.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import Pg from "pg"
import { settle } from "../src/internal/deadline.js"
import { submitBatched } from "../src/internal/pgBatchedSubmit.js"
import type { PositionCell } from "../src/internal/pgBatchedWrite.js"
import { BatchedWrite } from "../src/internal/pgBatchedWrite.js"
import type { Batches } from "../src/internal/pgBatches.js"
import { batchable, make } from "../src/internal/pgBatches.js"
import type { NodePool } from "../src/internal/pgPool.js"

const text = "SELECT * FROM users WHERE id = $1"

describe("batchable", () => {
  it.each<[string, Record<string, unknown>, boolean]>([
    ["text with parameters", { text, values: [1] }, true],
    ["rows as arrays", { text, values: [1], rowMode: "array" }, true],
    // Sent with the extended protocol in a batch, which takes one statement per text.
    ["no parameters, one statement", { text: "SELECT status, count(*) FROM users GROUP BY status", values: [] }, true],
    ["no values at all, one statement", { text: "SELECT 1" }, true],
    ["no parameters, several statements", { text: "SELECT 1; SELECT 2", values: [] }, false],
    ["no parameters, a semicolon anywhere (in a literal, at the end)", { text: "SELECT ';'" }, false],
    ["no parameters, a trailing semicolon", { text: "SELECT 1;" }, false],
    ["no parameters, no text", { text: "  " }, false],
    ["a name (prepared: nothing is prepared by name behind a pooler)", { text, values: [1], name: "s1" }, false],
    ["type overrides of its own", { text, values: [1], types: { getTypeParser: () => String } }, false],
    ["another row mode", { text, values: [1], rowMode: "object" }, false],
    ["a submittable (a carried BEGIN, a session read's poll)", { text, values: [1], submit: () => null }, false]
  ])("%s: %s", (_, query, expected) => {
    expect(batchable(query as unknown as Pg.QueryConfig)).toBe(expected)
  })
})

// A full collection on demand, to see whether anything still holds an answered read's query.
setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void
const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

describe("submitBatched", () => {
  it("an answered read's canceller does not keep its query and rows alive", async () => {
    // Whatever outlives an answered read (its canceller here) must not hold its rows: an old-generation object that
    // did kept every batched read's rows through young collections (BENCHMARKS.md, lever 44).
    let sent: WeakRef<object> | undefined
    let rows: ReadonlyArray<unknown> | undefined
    const batches: Batches = {
      query: (query) => {
        sent = new WeakRef(query)
        const reply = (query as unknown as { callback: (e: null, r: { rows: Array<unknown> }) => void }).callback
        reply(null, { rows: Array.from({ length: 500 }, (_, id) => ({ id })) })
      },
      write: () => ({ answered: () => undefined }),
      unsent: Effect.die("not used"),
      takesWrite: () => true,
      expire: () => {},
      drop: () => {},
      cutAll: () => {}
    }
    const within = { alias: "bouncer", deadlineMs: 10_000, guard: settle(), Query: Pg.Query }
    const query = { text: "SELECT * FROM users WHERE id = $1", values: [1] }
    const cancel = submitBatched(batches, query, (r) => r.rows as ReadonlyArray<unknown>, within, (outcome) => {
      rows = Effect.runSync(outcome)
    })
    expect(rows).toHaveLength(500)
    rows = undefined
    await tick()
    gc()
    await tick()
    gc()
    expect(sent).toBeDefined()
    expect(sent!.deref()).toBeUndefined()
    // Held to the end: it is what must not reach the query.
    cancel()
  })
})

describe("a connection whose batch was answered", () => {
  // After everything queued for this turn of the event loop (immediates run in the order they were set).
  const turn = () => new Promise((resolve) => setImmediate(resolve))

  it("waits one turn of the event loop, so that the callers its answers woke fill its next batch", async () => {
    const sent: Array<{ handleReadyForQuery: () => void }> = []
    let checkouts = 0
    let releases = 0
    const client = { query: (batch: never) => sent.push(batch), on: () => {}, off: () => {} }
    const pool = {
      connect: (checkout: (error: undefined, client: unknown, release: () => void) => void) => {
        checkouts++
        process.nextTick(() => checkout(undefined, client, () => releases++))
      },
      current: () => ({ waitingCount: 0 })
    } as unknown as NodePool
    const batches = make({ pool, alias: "bouncer", max: 1, writeOpening: [], deadlineMs: 10_000 })
    const read = () => batches.query({} as Pg.Query, () => {})
    read()
    read()
    await turn()
    expect(sent).toHaveLength(1)
    // The batch is answered; its callers go on in microtasks and read again.
    sent[0]!.handleReadyForQuery()
    await Promise.resolve()
    read()
    read()
    read()
    await turn()
    // On the same connection, one batch for the three: not given back and checked out again for them.
    expect(sent).toHaveLength(2)
    expect(checkouts).toBe(1)
    expect(releases).toBe(0)
    sent[1]!.handleReadyForQuery()
    await turn()
    expect(releases).toBe(1)
  })
})

describe("a write's deadline in a batch", () => {
  const OPENING = ["BEGIN", "SET LOCAL statement_timeout = 30000"]
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  /**
   * A write of a session that reads its writes, submitted with a 20 ms deadline to batches that queue it as a
   * `BatchedWrite` and write it at the next tick; the server's answers are then fed to it by hand.
   */
  const writeWithin = () => {
    const cell: PositionCell = { position: undefined }
    const expired: Array<unknown> = []
    const outcomes: Array<Effect.Effect<{ readonly command: string; readonly rowCount: number | null }, unknown>> = []
    let write: BatchedWrite | undefined
    const batches: Batches = {
      query: () => {},
      write: (query, _refuse, sent, cell) => {
        write = new BatchedWrite(query as never, OPENING, cell)
        // Written by a batch after the submission has returned, as a batch goes out once its connection is had.
        process.nextTick(() => sent(0))
        return write
      },
      unsent: Effect.die("not used"),
      takesWrite: () => true,
      expire: (query) => expired.push(query),
      drop: () => {},
      cutAll: () => {}
    }
    const within = { alias: "bouncer", deadlineMs: 20, guard: settle(), Query: Pg.Query }
    const query = { text: "UPDATE users SET score = $1 WHERE id = $2", values: [1, 2] }
    submitBatched(batches, query, (r) => r, within, (outcome) => outcomes.push(outcome), { write: true, cell })
    const complete = (...texts: ReadonlyArray<string>) => {
      for (const text of texts) write!.handleCommandComplete({ text }, undefined)
    }
    return { cell, expired, outcomes, write: write!, complete }
  }

  it("committed, its position read unanswered: the write's own result, no position, its connection cut", async () => {
    const { cell, complete, expired, outcomes, write } = writeWithin()
    complete("BEGIN", "SET", "UPDATE 1", "COMMIT")
    await sleep(40)
    expect(outcomes).toHaveLength(1)
    expect(Effect.runSync(outcomes[0]!)).toMatchObject({ command: "UPDATE", rowCount: 1 })
    expect(cell.position).toBeUndefined()
    expect(expired).toHaveLength(1)
    // The position's late answer reaches no one.
    write.handleDataRow({ fields: ["0/3000060"] })
    complete("SELECT 1")
    write.handleReadyForQuery(undefined)
    expect(outcomes).toHaveLength(1)
  })

  it("its COMMIT unanswered: the deadline's timeout (it may or may not have committed)", async () => {
    const { complete, expired, outcomes } = writeWithin()
    complete("BEGIN", "SET", "UPDATE 1")
    await sleep(40)
    expect(outcomes).toHaveLength(1)
    const error = Effect.runSync(Effect.flip(outcomes[0]!))
    expect(String((error as Error).message)).toMatch(/No answer from "bouncer" within 20 ms/)
    expect(expired).toHaveLength(1)
  })
})
