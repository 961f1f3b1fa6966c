/** Identifier checks: what every query's column names pass through before any SQL. */
import { describe, expect, it } from "@effect/vitest"
import * as validation from "../src/internal/validation.js"

describe("identifierProblem", () => {
  const cases: ReadonlyArray<readonly [unknown, string | undefined]> = [
    ["status", undefined],
    ["_a1", undefined],
    ["a".repeat(63), undefined],
    ["a".repeat(64), "longer than 63 bytes"],
    // 32 two-byte characters: 64 bytes, though only 32 characters.
    ["é".repeat(32), "longer than 63 bytes"],
    ["é", "only letters, digits and _ are allowed, not starting with a digit"],
    ["1a", "only letters, digits and _ are allowed, not starting with a digit"],
    ["a b", "only letters, digits and _ are allowed, not starting with a digit"],
    ["", "only letters, digits and _ are allowed, not starting with a digit"],
    [1, "not a string"]
  ]
  for (const [name, problem] of cases) {
    it(`${JSON.stringify(name)}: ${problem ?? "an identifier"}`, () => {
      expect(validation.identifierProblem(name)).toBe(problem)
    })
  }
})
