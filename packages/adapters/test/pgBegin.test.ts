import { describe, expect, it } from "@effect/vitest"
import { canCarryBegin, isBegin, isRollback, lastResult } from "../src/internal/pgBegin.js"

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

  it.each([
    ["BEGIN's and the statement's", [{ command: "BEGIN" }, { command: "SELECT" }], { command: "SELECT" }],
    ["the statement's alone", { command: "SELECT" }, { command: "SELECT" }]
  ])("the statement's result out of %s", (_, result, expected) => {
    expect(lastResult(result)).toEqual(expected)
  })
})
