import { describe, expect, it } from "@effect/vitest"
import { gtidAhead } from "./support/mostAdvanced.js"

// Which replica fetched more once the primary died: the one to promote.
const rows: ReadonlyArray<readonly [a: string, b: string, ahead: boolean]> = [
  ["0-1-10", "0-1-9", true],
  ["0-1-9", "0-1-10", false],
  ["0-1-10", "0-1-10", false],
  ["0-1-10,1-2-3", "0-1-10", true],
  ["0-1-10", "0-1-10,1-2-3", false],
  ["0-1-10", "", true],
  ["", "0-1-10", false],
  ["0-1-10, 1-2-4", "1-2-3,0-1-10", true]
]

describe("gtidAhead", () => {
  it.each(rows)("%s ahead of %s: %s", (a, b, ahead) => {
    expect(gtidAhead(a, b)).toBe(ahead)
  })
})
