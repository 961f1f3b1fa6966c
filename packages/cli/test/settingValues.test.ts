/**
 * Reading a setting back: the value FastORM applied against the server's own form of it (PostgreSQL's units and
 * booleans, MySQL's booleans and expanded modes).
 */
import { describe, expect, it } from "@effect/vitest"
import { inUnit, matches } from "../src/internal/settingValues.js"

describe("setting values read back", () => {
  it.each(
    [
      ["64MB", "kB", 65536],
      ["65536kB", "kB", 65536],
      ["1GB", "8kB", 131072],
      ["300", "kB", 300],
      ["2min", "ms", 120000],
      ["1.5s", "ms", 1500],
      ["10 s", "s", 10],
      ["64MB", "ms", undefined],
      ["fast", "kB", undefined],
      ["64XB", "kB", undefined]
    ] as const
  )("inUnit(%s, %s) is %s", (applied, unit, want) => {
    expect(inUnit(applied, unit)).toBe(want)
  })

  it.each(
    [
      // [applied, read back, form, matches]
      ["64MB", "65536", { unit: "kB" }, true],
      ["64MB", "32768", { unit: "kB" }, false],
      ["1100us", "1", { unit: "ms" }, true],
      ["1.1", "1.1", {}, true],
      ["1.10", "1.1", {}, true],
      ["acme", "acme", {}, true],
      ["Acme", "other", {}, false],
      ["true", "on", {}, true],
      ["yes", "off", {}, false],
      ["ON", 1, {}, true],
      ["off", 0, {}, true],
      ["1", "on", {}, true],
      ["TRADITIONAL", "STRICT_TRANS_TABLES,STRICT_ALL_TABLES,TRADITIONAL,NO_ENGINE_SUBSTITUTION", {
        listsAreSets: true
      }, true],
      ["NO_ZERO_DATE,STRICT_TRANS_TABLES", "STRICT_TRANS_TABLES,NO_ZERO_DATE", { listsAreSets: true }, true],
      ["NO_ZERO_DATE,ANSI_QUOTES", "STRICT_TRANS_TABLES,NO_ZERO_DATE", { listsAreSets: true }, false],
      ["app, public", "public,app", {}, false],
      ["\"$user\", public", "\"$user\",public", {}, true],
      ["64MB", null, { unit: "kB" }, false]
    ] as const
  )("matches(%s, %s, %o) is %s", (applied, read, form, want) => {
    expect(matches(applied, read, form)).toBe(want)
  })
})
