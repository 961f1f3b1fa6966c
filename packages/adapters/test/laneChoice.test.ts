/**
 * The choice of a pipelined connection for a statement, as a table: the lanes' loads at one moment, the lane chosen
 * and whether another opens. No server, no clock.
 */
import { describe, expect, it } from "@effect/vitest"
import type { LaneLoad } from "../src/internal/laneChoice.js"
import { LANE_DEPTH, LANE_STALL_MS, laneFor, opensAnother } from "../src/internal/laneChoice.js"

const NOW = 10_000

/** A lane with `inFlight` statements, the oldest sent `ageMs` ago. */
const lane = (inFlight: number, ageMs = 1): LaneLoad => ({
  sent: Array.from({ length: inFlight }, (_, i) => NOW - ageMs + i * 0.001)
})

describe("laneFor", () => {
  const rows: ReadonlyArray<[string, ReadonlyArray<LaneLoad>, number]> = [
    ["no lane: the pool", [], -1],
    ["an idle lane", [lane(0)], 0],
    ["the first idle lane, however loaded the others", [lane(3), lane(0), lane(0)], 1],
    ["the least loaded when none is idle", [lane(5), lane(2), lane(3)], 1],
    ["ties: the first", [lane(2), lane(2)], 0],
    ["a full lane takes no more", [lane(LANE_DEPTH)], -1],
    ["one below full takes one more", [lane(LANE_DEPTH - 1)], 0],
    ["a full lane is passed over for a busier-looking free one", [lane(LANE_DEPTH), lane(LANE_DEPTH - 1)], 1],
    ["a held-up lane takes no more", [lane(1, LANE_STALL_MS)], -1],
    ["just under the stall bound it does", [lane(1, LANE_STALL_MS - 1)], 0],
    ["a held-up lane is passed over for a loaded one", [lane(1, 500), lane(4)], 1],
    ["an idle lane is never held up", [lane(0, 10_000)], 0]
  ]
  for (const [why, lanes, expected] of rows) {
    it(`${why}: ${expected}`, () => {
      expect(laneFor(lanes, NOW)).toBe(expected)
    })
  }
})

describe("opensAnother", () => {
  const rows: ReadonlyArray<[string, ReadonlyArray<LaneLoad>, number, number, boolean, boolean]> = [
    ["no lane yet: opens the first", [], 0, 2, true, true],
    ["no lane yet, one opening: waits for it", [], 1, 1, true, false],
    ["no lane yet, one opening, room for two", [], 1, 2, true, true],
    ["the chosen lane is idle: no need", [lane(0)], 0, 2, true, false],
    ["the chosen lane is busy, room for more", [lane(1)], 0, 2, true, true],
    ["the chosen lane is busy, at the most", [lane(1), lane(2)], 0, 2, true, false],
    ["none could take it, room for more", [lane(LANE_DEPTH)], 0, 2, true, true],
    ["backing off after a failed open", [], 0, 2, false, false],
    ["pipelining off (0 lanes)", [], 0, 0, true, false]
  ]
  for (const [why, lanes, opening, max, canOpen, expected] of rows) {
    it(`${why}: ${expected}`, () => {
      expect(opensAnother(lanes, laneFor(lanes, NOW), opening, max, canOpen)).toBe(expected)
    })
  }
})
