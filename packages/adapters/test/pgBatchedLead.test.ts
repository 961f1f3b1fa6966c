/**
 * A session read with its replay poll in front, in a batch behind a pooler (`pgBatchedLead.ts`, driven by
 * `pgBatch.ts`): what it writes on the wire (the poll just before the read, no Sync but the batch's), whose rows go
 * where (the poll's to `onRows`, just before the read's reply), and what a refusal leaves behind.
 */
import { describe, expect, it } from "@effect/vitest"
import Pg from "pg"
import type { TextRow } from "../src/DatabaseAdapter.js"
import type { Entry } from "../src/internal/pgBatch.js"
import { BatchedLead } from "../src/internal/pgBatchedLead.js"
import { batchOf, complete, recordingWire, serverError } from "./support/batchWire.js"

const POLL = "SELECT pg_last_wal_replay_lsn()::text, current_setting('transaction_isolation')"
const FIND = "SELECT id FROM users WHERE id = $1"

/** A read of `values` as a batch entry, with the poll in front when `led`; what its caller and `onRows` were told. */
const readOf = (values: ReadonlyArray<unknown>, led: boolean) => {
  const events: Array<string> = []
  const outcomes: Array<{ readonly error: unknown; readonly rows: ReadonlyArray<unknown> | undefined }> = []
  const leadRows: Array<ReadonlyArray<TextRow>> = []
  const query = new Pg.Query({ text: FIND, values: values as Array<unknown> }, (error, result) => {
    events.push("reply")
    outcomes.push({ error, rows: result?.rows })
  })
  const onRows = (rows: ReadonlyArray<TextRow>) => {
    events.push("lead rows")
    leadRows.push(rows)
  }
  const read = led ? new BatchedLead(query as never, { sql: POLL, onRows }) : query
  const entry: Entry = { read: read as never, key: query, refuse: () => {} }
  return { entry, events, outcomes, leadRows }
}

const ID_FIELD = { name: "id", tableID: 0, columnID: 0, dataTypeID: 23, dataTypeSize: 4, dataTypeModifier: -1 }
const describeId = { fields: [{ ...ID_FIELD, format: "text" }] }

describe("a led read in a batch", () => {
  it("its poll goes just before it, Parse/Bind/Execute with no Describe, under the batch's one Sync", () => {
    const plain = readOf([1], false)
    const led = readOf([2], true)
    const { batch } = batchOf([plain.entry, led.entry])
    const { wire, written } = recordingWire()
    batch.submit(wire)
    const read = [`P ${FIND}`, "B", "D", "E"]
    expect(written).toEqual([...read, `P ${POLL}`, "B", "E", ...read, "S"])
  })

  it("the poll's rows go to onRows just before the read's reply, which has its own rows", () => {
    const led = readOf([7], true)
    const behind = readOf([8], false)
    const { batch, ends } = batchOf([led.entry, behind.entry])
    batch.submit(recordingWire().wire)
    // The poll: no RowDescription (no Describe was sent), its row as text.
    batch.handleDataRow({ fields: ["0/3000060", "read committed"] })
    complete(batch, "SELECT 1")
    expect(led.events).toEqual([])
    batch.handleRowDescription(describeId)
    batch.handleDataRow({ fields: ["7"] })
    complete(batch, "SELECT 1")
    expect(led.events).toEqual(["lead rows", "reply"])
    expect(led.leadRows).toEqual([[["0/3000060", "read committed"]]])
    expect(led.outcomes).toEqual([{ error: null, rows: [{ id: 7 }] }])
    // The read behind it gets its own answer.
    batch.handleRowDescription(describeId)
    batch.handleDataRow({ fields: ["8"] })
    complete(batch, "SELECT 1")
    expect(behind.outcomes).toEqual([{ error: null, rows: [{ id: 8 }] }])
    batch.handleReadyForQuery()
    expect(ends).toEqual([{ skipped: 0, broken: undefined, rollback: false }])
  })

  it.each<[string, number]>([
    ["the poll refused", 0],
    ["the read refused", 1]
  ])("%s: the read fails with the refusal, no poll rows handed over; the read behind goes again", (_, answered) => {
    const led = readOf([7], true)
    const behind = readOf([8], false)
    const { batch, ends } = batchOf([led.entry, behind.entry])
    batch.submit(recordingWire().wire)
    if (answered > 0) {
      batch.handleDataRow({ fields: ["0/3000060", "read committed"] })
      complete(batch, "SELECT 1")
    }
    batch.handleError(serverError("42P01"), undefined)
    expect(led.events).toEqual(["reply"])
    expect((led.outcomes[0]!.error as { code?: unknown }).code).toBe("42P01")
    expect(behind.outcomes).toEqual([])
    expect(ends).toEqual([{ skipped: 1, broken: undefined, rollback: false }])
  })

  it("a value pg cannot send fails the read at once; its poll's answer is taken unseen", () => {
    const circular: Record<string, unknown> = {}
    circular["self"] = circular
    const led = readOf([circular], true)
    const next = readOf([9], false)
    const { batch } = batchOf([led.entry, next.entry])
    const { wire, written } = recordingWire()
    batch.submit(wire)
    expect(led.outcomes).toHaveLength(1)
    expect(led.outcomes[0]!.error).toBeInstanceOf(Error)
    expect(written.slice(0, 3)).toEqual([`P ${POLL}`, "B", "E"])
    batch.handleDataRow({ fields: ["0/3000060", "read committed"] })
    complete(batch, "SELECT 1")
    // Taken by the refused read: no second reply, no rows handed over.
    expect(led.events).toEqual(["reply"])
    batch.handleRowDescription(describeId)
    batch.handleDataRow({ fields: ["9"] })
    complete(batch, "SELECT 1")
    expect(next.outcomes).toEqual([{ error: null, rows: [{ id: 9 }] }])
  })
})
