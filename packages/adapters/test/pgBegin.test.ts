import { describe, expect, it } from "@effect/vitest"
import Pg from "pg"
import type { TextRow } from "../src/DatabaseAdapter.js"
import { canCarryBegin, isBegin, isRollback, withBegin } from "../src/internal/pgBegin.js"

describe("which statements BEGIN may wait for and travel with", () => {
  it.each([
    ["BEGIN", true],
    ["  begin;  ", true],
    ["BEGIN ISOLATION LEVEL SERIALIZABLE", true],
    ["START TRANSACTION READ ONLY", true],
    ["BEGIN; SET LOCAL lock_timeout = 1", false],
    ["BEGINNING", false],
    ["SELECT 1", false]
  ])("isBegin(%j) is %s", (sql, expected) => {
    expect(isBegin(sql)).toBe(expected)
  })

  it.each([
    ["ROLLBACK", true],
    [" rollback ; ", true],
    ["ROLLBACK TO SAVEPOINT a", false],
    ["ROLLBACK; SELECT 1", false]
  ])("isRollback(%j) is %s", (sql, expected) => {
    expect(isRollback(sql)).toBe(expected)
  })

  it.each([
    [{ text: "SELECT $1", values: [1] }, true],
    [{ text: "SELECT 1", values: [] }, false],
    [{ text: "SELECT 1" }, false],
    // A prepared statement carries it too: the transaction is opened afresh if the server refuses the statement.
    [{ text: "SELECT $1", values: [1], name: "s1" }, true],
    [{ text: "SELECT $1", values: [1], name: "" }, true]
  ])("canCarryBegin(%j) is %s", (query, expected) => {
    expect(canCarryBegin(query)).toBe(expected)
  })
})

describe("the statements that open a query answered before it (withBegin)", () => {
  /** A connection that records what is written, and the callback's outcome. */
  const setUp = (onRows?: (rows: ReadonlyArray<TextRow>) => void) => {
    const written: Array<string> = []
    const wire = {
      stream: { cork: () => written.push("cork"), uncork: () => written.push("uncork") },
      parsedStatements: {},
      submittedNamedStatements: {},
      parse: (q: { text: string }) => written.push(`parse ${q.text}`),
      bind: () => written.push("bind"),
      describe: () => written.push("describe"),
      execute: () => written.push("execute"),
      sync: () => written.push("sync"),
      flush: () => written.push("flush")
    }
    const query = { text: "SELECT $1::int AS x", values: [1] }
    const carrier = withBegin(Pg.Query, query, ["BEGIN", "SET LOCAL lock_timeout = 1"], onRows) as any
    const outcomes: Array<[unknown, unknown]> = []
    carrier.callback = (error: unknown, result: unknown) => outcomes.push([error, result])
    return { carrier, wire, written, outcomes }
  }
  const field = { name: "x", dataTypeID: 23, format: "text" }

  it("writes the opening statements, then the statement, in one corked write under the statement's Sync", () => {
    const { carrier, wire, written } = setUp()
    expect(carrier.submit(wire)).toBeNull()
    expect(written).toEqual([
      "cork",
      "parse BEGIN",
      "bind",
      "execute",
      "parse SET LOCAL lock_timeout = 1",
      "bind",
      "execute",
      // pg's own submit corks again: the socket sends once the outer cork is undone.
      "cork",
      "parse SELECT $1::int AS x",
      "bind",
      "describe",
      "execute",
      "sync",
      "uncork",
      "uncork"
    ])
  })

  it("answers the opening statements' replies itself: the statement's callback gets its one result", () => {
    const leads: Array<ReadonlyArray<TextRow>> = []
    const { carrier, outcomes, wire } = setUp((rows) => leads.push(rows))
    carrier.submit(wire)
    carrier.handleDataRow({ fields: ["0/3000060", "read committed"] })
    carrier.handleCommandComplete({ text: "SELECT 1" }, wire)
    carrier.handleCommandComplete({ text: "SET" }, wire)
    carrier.handleRowDescription({ fields: [field] })
    carrier.handleDataRow({ fields: ["7"] })
    carrier.handleCommandComplete({ text: "SELECT 1" }, wire)
    carrier.handleReadyForQuery(wire)
    expect(leads).toEqual([[["0/3000060", "read committed"]]])
    expect(outcomes).toHaveLength(1)
    const [error, result] = outcomes[0]!
    expect(error).toBeNull()
    // One result, not pg's array of results: pg's Query keeps the shape of every other query.
    expect(Array.isArray(result)).toBe(false)
    expect(result).toMatchObject({ command: "SELECT", rowCount: 1, rows: [{ x: 7 }] })
  })

  it("hands an error to the statement's callback, and no rows of the opening statements", () => {
    const leads: Array<ReadonlyArray<TextRow>> = []
    const { carrier, outcomes, wire } = setUp((rows) => leads.push(rows))
    carrier.submit(wire)
    carrier.handleDataRow({ fields: ["0/3000060", "read committed"] })
    carrier.handleCommandComplete({ text: "SELECT 1" }, wire)
    const refusal = new Error("relation does not exist")
    carrier.handleError(refusal, wire)
    expect(outcomes).toEqual([[refusal, undefined]])
    expect(leads).toEqual([])
  })

  it("writes nothing of its own when pg will refuse the statement's name", () => {
    const { carrier, wire, written } = setUp()
    const named = withBegin(Pg.Query, { name: "s1", text: "SELECT $1", values: [1] }, ["BEGIN"]) as any
    wire.parsedStatements = { s1: "SELECT $1, 2" }
    expect(named.submit(wire)).toBeInstanceOf(Error)
    expect(written).toEqual([])
    expect(carrier.name).toBeUndefined()
  })
})
