import { describe, expect, it } from "@effect/vitest"
import { keepsNameLater } from "../src/internal/pgPrepared.js"

describe("a transaction's later statement keeps its name only where nothing can refuse it (keepsNameLater)", () => {
  it.each(
    [
      ["an update, direct", "UPDATE t SET a = $1 WHERE id = $2", true, "auto", true],
      ["a delete, direct", "DELETE FROM t WHERE id = $1", true, "auto", true],
      ["an insert, direct, lower case and indented", "  insert into t (a) values ($1)", true, "auto", true],
      ["an update returning rows", "UPDATE t SET a = $1 WHERE id = $2 RETURNING *", true, "auto", false],
      ["an insert returning rows", "INSERT INTO t (a) VALUES ($1) returning id", true, "auto", false],
      ["a read", "SELECT * FROM t WHERE id = $1", true, "auto", false],
      ["a write in a WITH", "WITH x AS (SELECT 1) UPDATE t SET a = 1", true, "auto", false],
      ["an update, not known direct", "UPDATE t SET a = $1 WHERE id = $2", false, "auto", false],
      ["an update, through a pooler said to keep names", "UPDATE t SET a = $1 WHERE id = $2", false, true, true],
      ["an update, never prepared", "UPDATE t SET a = $1 WHERE id = $2", false, false, false],
      ["a read through a pooler said to keep names", "SELECT * FROM t WHERE id = $1", false, true, false]
    ] as const
  )("%s", (_, sql, direct, setting, keeps) => {
    expect(keepsNameLater(sql, direct, setting)).toBe(keeps)
  })
})
