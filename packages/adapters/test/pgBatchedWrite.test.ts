/**
 * Writes in a batch behind a pooler (`pgBatchedWrite.ts`, driven by `pgBatch.ts`): which statements go as writes, what
 * each writes on the wire (its transaction of its own, no Sync but the batch's), when its caller is answered (at its
 * COMMIT), and what a server error, a lost connection or a value pg cannot send leave behind; and which errors are a
 * server's refusal that leaves the connection serving (`pgSubmit.ts` `connectionSurvives`).
 */
import { describe, expect, it } from "@effect/vitest"
import Pg from "pg"
import type { Entry } from "../src/internal/pgBatch.js"
import type { PositionCell } from "../src/internal/pgBatchedWrite.js"
import { BatchedWrite, commitPosition, writeBatchable } from "../src/internal/pgBatchedWrite.js"
import { connectionSurvives } from "../src/internal/pgSubmit.js"
import { batchOf, complete, recordingWire, serverError } from "./support/batchWire.js"

const OPENING = ["BEGIN", "SET LOCAL statement_timeout = 30000", "SET LOCAL lock_timeout = 10000"]
const UPDATE = "UPDATE users SET score = $1 WHERE id = $2"

describe("writeBatchable", () => {
  it.each<[string, Record<string, unknown>, boolean]>([
    ["an UPDATE with parameters", { text: UPDATE, values: [1, 2] }, true],
    ["an INSERT ... RETURNING, rows as arrays", {
      text: "INSERT INTO t (a) VALUES ($1) RETURNING *",
      values: [1],
      rowMode: "array"
    }, true],
    ["a DELETE, lower case, leading space", { text: "  delete from t where id = $1", values: [1] }, true],
    ["a MERGE", { text: "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", values: [] }, true],
    ["no parameters, one statement", { text: "DELETE FROM t WHERE done" }, true],
    ["no parameters, several statements", { text: "DELETE FROM t; DELETE FROM u" }, false],
    // Not the same in a transaction block: a procedure may commit by itself; VACUUM cannot run in one.
    ["a CALL", { text: "CALL archive($1)", values: [1] }, false],
    ["a DO block", { text: "DO $$ BEGIN PERFORM 1; END $$" }, false],
    ["a VACUUM", { text: "VACUUM t" }, false],
    ["a SELECT (a read goes in a batch as a read)", { text: "SELECT * FROM t WHERE id = $1", values: [1] }, false],
    [
      "a name (prepared: nothing is prepared by name behind a pooler)",
      { text: UPDATE, values: [1, 2], name: "u1" },
      false
    ],
    ["type overrides of its own", { text: UPDATE, values: [1, 2], types: { getTypeParser: () => String } }, false],
    ["another row mode", { text: UPDATE, values: [1, 2], rowMode: "object" }, false],
    ["a submittable (a carried BEGIN)", { text: UPDATE, values: [1, 2], submit: () => null }, false]
  ])("%s", (_, query, expected) => {
    expect(writeBatchable(query as unknown as Pg.QueryConfig)).toBe(expected)
  })
})

interface Outcome {
  readonly error?: { readonly code?: unknown; readonly message?: string } | null | undefined
  readonly result?: { readonly command: string; readonly rowCount: number | null } | undefined
}

/** A write of `values` as a batch entry, and where its caller's outcome lands. */
const writeOf = (values: ReadonlyArray<unknown>, cell?: PositionCell) => {
  const outcomes: Array<Outcome> = []
  const query = new Pg.Query({ text: UPDATE, values: values as Array<unknown> }, (error, result) => {
    outcomes.push({ error, result: result as unknown as Outcome["result"] })
  })
  const write = new BatchedWrite(query as never, OPENING, cell)
  const entry: Entry = { read: write, key: query, refuse: () => {} }
  return { write, entry, outcomes }
}

describe("a write in a batch", () => {
  it("goes in a transaction of its own, BEGIN and the settings first, COMMIT after, under the batch's one Sync", () => {
    const first = writeOf([1, 2])
    const second = writeOf([3, 4])
    const { batch } = batchOf([first.entry, second.entry])
    const { wire, written } = recordingWire()
    batch.submit(wire)
    const one = [...OPENING.flatMap((t) => [`P ${t}`, "B", "E"]), `P ${UPDATE}`, "B", "D", "E", "P COMMIT", "B", "E"]
    expect(written).toEqual([...one, ...one, "S"])
  })

  it("its caller is answered at its COMMIT, with the write's own result", () => {
    const { entry, outcomes } = writeOf([1, 2])
    const next = writeOf([3, 4])
    const { batch, ends } = batchOf([entry, next.entry])
    batch.submit(recordingWire().wire)
    for (const text of ["BEGIN", "SET", "SET", "UPDATE 1"]) complete(batch, text)
    expect(outcomes).toEqual([])
    complete(batch, "COMMIT")
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]!.error).toBeNull()
    expect(outcomes[0]!.result).toMatchObject({ command: "UPDATE", rowCount: 1 })
    // The next write's statements are its own.
    for (const text of ["BEGIN", "SET", "SET", "UPDATE 0", "COMMIT"]) complete(batch, text)
    expect(next.outcomes[0]!.result).toMatchObject({ command: "UPDATE", rowCount: 0 })
    batch.handleReadyForQuery()
    expect(ends).toEqual([{ skipped: 0, broken: undefined, rollback: false }])
  })

  it.each<[string, number, boolean]>([
    ["BEGIN refused: no transaction opened", 0, false],
    ["a setting refused: its transaction is left aborted", 1, true],
    ["the second setting refused", 2, true],
    ["the write refused (a constraint): left aborted", 3, true],
    ["COMMIT refused (a deferred constraint): the transaction has ended", 4, false]
  ])("%s", (_, answered, rollback) => {
    const { entry, outcomes } = writeOf([1, 2])
    const behind = writeOf([3, 4])
    const { batch, ends } = batchOf([entry, behind.entry])
    batch.submit(recordingWire().wire)
    for (const text of ["BEGIN", "SET", "SET", "UPDATE 1"].slice(0, answered)) complete(batch, text)
    batch.handleError(serverError("23505"), undefined)
    expect(outcomes.map((o) => o.error?.code)).toEqual(["23505"])
    // The write behind it never ran: it goes again, unanswered so far.
    expect(behind.outcomes).toEqual([])
    expect(ends).toEqual([{ skipped: 1, broken: undefined, rollback }])
  })

  it("on a lost connection it may have run, even when the socket's error was a write's EPIPE", () => {
    const { entry, outcomes } = writeOf([1, 2])
    const { batch, ends } = batchOf([entry])
    batch.submit(recordingWire().wire)
    complete(batch, "BEGIN")
    batch.handleError(Object.assign(new Error("write EPIPE"), { code: "EPIPE", syscall: "write" }), undefined)
    expect(outcomes[0]!.error).toMatchObject({ code: "ECONNRESET", message: expect.stringMatching(/may have run/) })
    expect(ends[0]!.rollback).toBe(false)
  })

  it("a value pg cannot send fails it at once; its transaction is rolled back and its answers taken unseen", () => {
    const circular: Record<string, unknown> = {}
    circular["self"] = circular
    const { entry, outcomes } = writeOf([circular, 2])
    const next = writeOf([3, 4])
    const { batch } = batchOf([entry, next.entry])
    const { wire, written } = recordingWire()
    batch.submit(wire)
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]!.error).toBeInstanceOf(Error)
    // Its BEGIN and settings went; then pg's Parse and Close of the write, and ROLLBACK; no Sync before the batch's.
    expect(written.slice(0, 14)).toEqual([
      ...OPENING.flatMap((t) => [`P ${t}`, "B", "E"]),
      `P ${UPDATE}`,
      "C",
      "P ROLLBACK",
      "B",
      "E"
    ])
    expect(written.filter((w) => w === "S")).toEqual(["S"])
    for (const text of ["BEGIN", "SET", "SET", "ROLLBACK"]) complete(batch, text)
    expect(outcomes).toHaveLength(1)
    for (const text of ["BEGIN", "SET", "SET", "UPDATE 1", "COMMIT"]) complete(batch, text)
    expect(next.outcomes[0]!.result).toMatchObject({ command: "UPDATE", rowCount: 1 })
  })
})

describe("a write that tells its position (a session records it)", () => {
  const LSN = "0/3000060"
  const statements = (texts: ReadonlyArray<string>) => texts.flatMap((t) => [`P ${t}`, "B", "E"])
  const answered = ["BEGIN", "SET", "SET", "UPDATE 1", "COMMIT"]

  it("reads the primary's position right after its COMMIT, in its batch; its caller is answered after it", () => {
    const cell: PositionCell = { position: undefined }
    const { entry, outcomes } = writeOf([1, 2], cell)
    const next = writeOf([3, 4])
    const { batch } = batchOf([entry, next.entry])
    const { wire, written } = recordingWire()
    batch.submit(wire)
    expect(written.slice(0, 19)).toEqual([
      ...statements(OPENING),
      `P ${UPDATE}`,
      "B",
      "D",
      "E",
      ...statements(["COMMIT", commitPosition])
    ])
    for (const text of answered) complete(batch, text)
    expect(outcomes).toEqual([])
    // The position's one row, as text (no Describe went for it), then its CommandComplete.
    batch.handleDataRow({ fields: [LSN] })
    complete(batch, "SELECT 1")
    expect(cell.position).toBe(LSN)
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]!.error).toBeNull()
    expect(outcomes[0]!.result).toMatchObject({ command: "UPDATE", rowCount: 1 })
    // The write behind it (no cell) is answered at its COMMIT, as before.
    for (const text of answered) complete(batch, text)
    expect(next.outcomes[0]!.result).toMatchObject({ command: "UPDATE", rowCount: 1 })
  })

  it.each<[string, unknown]>([
    ["the position read refused", serverError("XX000")],
    ["the connection lost once COMMIT answered", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })]
  ])("%s: the write is committed, its caller answered so, with no position", (_, error) => {
    const cell: PositionCell = { position: undefined }
    const { entry, outcomes } = writeOf([1, 2], cell)
    const { batch, ends } = batchOf([entry])
    batch.submit(recordingWire().wire)
    for (const text of answered) complete(batch, text)
    batch.handleError(error, undefined)
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]!.error).toBeNull()
    expect(outcomes[0]!.result).toMatchObject({ command: "UPDATE", rowCount: 1 })
    expect(cell.position).toBeUndefined()
    // Nothing left open: the block had ended at its COMMIT.
    expect(ends[0]!.rollback).toBe(false)
  })

  it.each<[string, number, boolean]>([
    ["the write refused: its block left aborted, no position read", 3, true],
    ["COMMIT refused: the block has ended, no position", 4, false]
  ])("%s", (_, before, rollback) => {
    const cell: PositionCell = { position: undefined }
    const { entry, outcomes } = writeOf([1, 2], cell)
    const { batch, ends } = batchOf([entry])
    batch.submit(recordingWire().wire)
    for (const text of answered.slice(0, before)) complete(batch, text)
    batch.handleError(serverError("23505"), undefined)
    expect(outcomes.map((o) => o.error?.code)).toEqual(["23505"])
    expect(cell.position).toBeUndefined()
    expect(ends[0]!.rollback).toBe(rollback)
  })

  it("a value pg cannot send: ROLLBACK in its place and no position read", () => {
    const circular: Record<string, unknown> = {}
    circular["self"] = circular
    const cell: PositionCell = { position: undefined }
    const { entry, outcomes } = writeOf([circular, 2], cell)
    const { batch } = batchOf([entry])
    const { wire, written } = recordingWire()
    batch.submit(wire)
    expect(outcomes[0]!.error).toBeInstanceOf(Error)
    expect(written.filter((w) => w.startsWith("P SELECT"))).toEqual([])
    expect(written.slice(-4)).toEqual(["P ROLLBACK", "B", "E", "S"])
  })
})

describe("connectionSurvives", () => {
  it.each<[string, unknown, boolean]>([
    ["a constraint violation", { code: "23505" }, true],
    ["an undefined table (letters and digits)", { code: "42P01" }, true],
    ["the server's statement timeout", { code: "57014" }, true],
    ["an internal error", { code: "XX000" }, true],
    ["the server shutting down", { code: "57P01" }, false],
    ["a connection failure class", { code: "08006" }, false],
    // Five letters like a SQLSTATE, but a socket's errno: the connection is lost.
    ["a write's EPIPE", { code: "EPIPE" }, false],
    ["EBADF", { code: "EBADF" }, false],
    ["ECONNRESET", { code: "ECONNRESET" }, false],
    ["no code", new Error("Connection terminated unexpectedly"), false]
  ])("%s", (_, error, expected) => {
    expect(connectionSurvives(error)).toBe(expected)
  })
})
