/**
 * Keyset cursors without a server: what a cursor carries comes back unchanged, and a cursor that was altered, cut,
 * or made for another query is refused with the reason.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Cursor from "../src/internal/cursor.js"

const print = Cursor.fingerprint("users", [["name", "asc"], ["id", "asc"]])

describe("cursor", () => {
  it("carries strings, numbers, booleans, Dates, bigints and bytes unchanged", () => {
    const values = [
      "é \"quoted\" \u0000",
      1.5,
      true,
      new Date("2024-02-29T12:00:00.000Z"),
      2n ** 70n,
      new Uint8Array([0, 255])
    ]
    const cursor = Cursor.encode(print, values)
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(Cursor.decode(print, values.length, cursor)).toEqual(Either.right(values))
  })

  it("refuses a cursor that was altered, cut, made for another query, or is not a cursor", () => {
    const cursor = Cursor.encode(print, ["Bob", 3])
    const other = Cursor.fingerprint("users", [["name", "desc"], ["id", "asc"]])
    const reason = (c: unknown, p = print, arity = 2) =>
      Either.match(Cursor.decode(p, arity, c), {
        onLeft: (r) => r,
        onRight: () => "accepted"
      })
    expect(reason(cursor)).toBe("accepted")
    for (let i = 0; i < cursor.length; i += 7) {
      const altered = cursor.slice(0, i) + (cursor[i] === "A" ? "B" : "A") + cursor.slice(i + 1)
      expect(reason(altered)).not.toBe("accepted")
    }
    expect(reason(cursor.slice(0, -3))).not.toBe("accepted")
    expect(reason(cursor, other)).toBe("made by another query (table or order)")
    expect(reason(cursor, Cursor.fingerprint("people", [["name", "asc"], ["id", "asc"]]))).toBe(
      "made by another query (table or order)"
    )
    expect(reason(cursor, print, 3)).toBe("made by another query (table or order)")
    expect(reason(Cursor.encode(print, ["Bob", null]))).toBe("unknown value")
    expect(reason(12)).toBe("expected a string, got number")
    expect(reason("not/base64")).toBe("not a cursor of this query")
    expect(reason("a".repeat(5000))).toBe("not a cursor of this query")
    expect(reason(Buffer.from("[1,\"x\",[]]00000000").toString("base64url"))).toBe("altered or truncated")
  })

  it("the keyset condition: rows after the values, each order column in its direction", () => {
    const condition = Cursor.after([["status", "asc"], ["age", "desc"], ["id", "asc"]], ["a", 30, 7])
    expect(condition).toEqual({
      _tag: "Group",
      connector: "AND",
      not: false,
      conditions: [
        {
          _tag: "Group",
          connector: "OR",
          not: false,
          conditions: [{ _tag: "Compare", connector: "AND", column: "status", operator: ">", value: "a" }]
        },
        {
          _tag: "Group",
          connector: "OR",
          not: false,
          conditions: [
            { _tag: "Compare", connector: "AND", column: "status", operator: "=", value: "a" },
            { _tag: "Compare", connector: "AND", column: "age", operator: "<", value: 30 }
          ]
        },
        {
          _tag: "Group",
          connector: "OR",
          not: false,
          conditions: [
            { _tag: "Compare", connector: "AND", column: "status", operator: "=", value: "a" },
            { _tag: "Compare", connector: "AND", column: "age", operator: "=", value: 30 },
            { _tag: "Compare", connector: "AND", column: "id", operator: ">", value: 7 }
          ]
        }
      ]
    })
  })
})
