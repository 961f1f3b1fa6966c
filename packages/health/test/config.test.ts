/** The monitor's configuration check: every problem in one InvalidHealthConfig, a bad duration never a defect. */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import { checkConfig, resolveThresholds } from "../src/HealthMonitor.js"

const problems = (config: Parameters<typeof checkConfig>[0]): ReadonlyArray<string> =>
  Either.match(checkConfig(config), { onLeft: (e) => e.problems, onRight: () => [] })

describe("HealthMonitor.checkConfig", () => {
  const table: ReadonlyArray<readonly [string, Parameters<typeof checkConfig>[0], ReadonlyArray<string>]> = [
    ["the defaults", {}, []],
    ["durations in any Effect form", { interval: 100, timeout: "1 second", backoffCap: Duration.seconds(3) }, []],
    ["a duration that does not parse", { interval: "soon" as any }, [
      "interval must be a finite duration, e.g. \"2 seconds\" or a number of milliseconds"
    ]],
    ["every bad duration, each once", { timeout: "x" as any, maxLag: {} as any, authBackoffCap: "Infinity" as any }, [
      "timeout must be a finite duration, e.g. \"2 seconds\" or a number of milliseconds",
      "authBackoffCap must be a finite duration, e.g. \"2 seconds\" or a number of milliseconds",
      "maxLag must be a finite duration, e.g. \"2 seconds\" or a number of milliseconds"
    ]],
    ["a negative number of milliseconds", { degradedAfter: -1 }, [
      "degradedAfter must be a finite duration, e.g. \"2 seconds\" or a number of milliseconds"
    ]],
    ["a bad duration and a bad threshold together", { backoffBase: "later" as any, failureThreshold: 0 }, [
      "backoffBase must be a finite duration, e.g. \"2 seconds\" or a number of milliseconds",
      "failureThreshold must be an integer >= 1"
    ]],
    ["a misspelt key, with the options it could be", { intervall: 100, timeout: 1000 } as any, [
      "unknown option \"intervall\" (options: interval, timeout, degradedAfter, unhealthyAfter, failureThreshold, " +
      "recoveryThreshold, backoffBase, backoffCap, authBackoffBase, authBackoffCap, smoothing, maxLag, applicationName, " +
      "probe)"
    ]],
    ["a key that could hide a secret is not echoed", { "pw=hunter2 x": 1 } as any, [
      "an option with an unexpected name (not shown)"
    ]],
    ["the layer's own keys and the probe are known", { applicationName: "x", probe: () => undefined } as any, []],
    ["thresholds out of range", { degradedAfter: 3000, unhealthyAfter: 1000, recoveryThreshold: 1.5, smoothing: 0 }, [
      "unhealthyAfter must not be below degradedAfter",
      "recoveryThreshold must be an integer >= 1",
      "smoothing must be in (0, 1]"
    ]]
  ]
  for (const [name, config, expected] of table) {
    it(name, () => {
      expect(problems(config)).toEqual(expected)
    })
  }

  it("resolves the defaults and the given values", () => {
    const t = resolveThresholds({ interval: "500 millis", maxLag: "3 seconds" })
    expect(Duration.toMillis(t.interval)).toBe(500)
    expect(Duration.toMillis(t.backoffBase)).toBe(500)
    expect(Duration.toMillis(t.timeout)).toBe(5000)
    expect(t.maxLag && Duration.toMillis(t.maxLag)).toBe(3000)
    expect(() => resolveThresholds({ interval: "soon" as any })).toThrow("Invalid health monitor configuration")
  })
})
