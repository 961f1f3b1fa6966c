/**
 * Which statements a read batch behind a pooler can carry (`pgBatches.ts` `batchable`): plain text (without
 * parameters only one statement with no semicolon), unnamed, rows as objects or arrays, not a submittable of its own.
 */
import { describe, expect, it } from "@effect/vitest"
import type Pg from "pg"
import { batchable } from "../src/internal/pgBatches.js"

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
