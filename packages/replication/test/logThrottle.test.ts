/**
 * The throttle of repeated router warnings: the first line of each interval per kind and node is written, carrying
 * the number of lines left out since the last one written.
 */
import { describe, expect, it } from "@effect/vitest"
import * as LogThrottle from "../src/internal/logThrottle.js"

describe("LogThrottle.decide", () => {
  const rows: ReadonlyArray<
    readonly [string, LogThrottle.Slot | undefined, number, { write: boolean; suppressed: number; until: number }]
  > = [
    ["the first line is written", undefined, 5, { write: true, suppressed: 0, until: 1005 }],
    ["a line inside the interval is left out and counted", { until: 1005, suppressed: 0 }, 500, {
      write: false,
      suppressed: 1,
      until: 1005
    }],
    ["the count grows while the interval lasts", { until: 1005, suppressed: 41 }, 1004, {
      write: false,
      suppressed: 42,
      until: 1005
    }],
    ["the first line after the interval is written with the count", { until: 1005, suppressed: 42 }, 1005, {
      write: true,
      suppressed: 42,
      until: 2005
    }],
    ["a line long after, with none left out, is written plainly", { until: 1005, suppressed: 0 }, 99_000, {
      write: true,
      suppressed: 0,
      until: 100_000
    }]
  ]
  for (const [name, slot, now, expected] of rows) {
    it(name, () => {
      const verdict = LogThrottle.decide(slot, now, 1000)
      expect({ write: verdict.write, suppressed: verdict.suppressed, until: verdict.next.until }).toEqual(expected)
    })
  }
})

describe("LogThrottle.make", () => {
  it("keeps one slot per key: another node's line is written at once", () => {
    const throttle = LogThrottle.make(1000)
    expect(throttle.admit("fallback primary", 0)).toEqual({ write: true, suppressed: 0 })
    expect(throttle.admit("fallback primary", 10)).toEqual({ write: false, suppressed: 1 })
    expect(throttle.admit("retry replica-1", 10)).toEqual({ write: true, suppressed: 0 })
    expect(throttle.admit("fallback primary", 20)).toEqual({ write: false, suppressed: 2 })
    expect(throttle.admit("fallback primary", 1000)).toEqual({ write: true, suppressed: 2 })
  })
})
