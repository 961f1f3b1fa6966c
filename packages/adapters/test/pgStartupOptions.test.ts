import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import { settings as settingKinds } from "../src/internal/overrides.js"
import { assignments, parse, words } from "../src/internal/pgStartupOptions.js"

describe("libpq's options text", () => {
  it.each(
    [
      ["-c a=1 -c b=2", ["-c", "a=1", "-c", "b=2"]],
      ["  -c   a=1  ", ["-c", "a=1"]],
      ["-c application_name=my\\ app", ["-c", "application_name=my app"]],
      ["-c x=back\\\\slash", ["-c", "x=back\\slash"]],
      ["", []]
    ] as const
  )("%j splits into %j", (text, expected) => {
    expect(words(text)).toEqual(expected)
  })

  it.each(
    [
      ["-c statement_timeout=5s", [["statement_timeout", "5s"]]],
      ["-cjit=off --lock-timeout=1s", [["jit", "off"], ["lock_timeout", "1s"]]],
      ["-c Search_Path=app", [["search_path", "app"]]],
      ["-c", undefined],
      ["-c =1", undefined],
      ["statement_timeout=5s", undefined],
      ["-k", undefined]
    ] as const
  )("%j assigns %j", (text, expected) => {
    expect(assignments(text)).toEqual(expected)
  })

  it("every setting it gives is a PostgreSQL setting FastORM has", () => {
    const all = "-c statement_timeout=1 -c lock_timeout=1 -c idle_in_transaction_session_timeout=1 " +
      "-c search_path=app -c application_name=a -c jit=on"
    const parsed = parse(all)
    expect(parsed._tag).toBe("settings")
    const names = parsed._tag === "settings" ? Object.keys(parsed.settings) : []
    expect(names).toHaveLength(6)
    for (const name of names) expect(Object.keys(settingKinds.postgresql)).toContain(name)
  })

  it.each(
    [["250", 250], ["250ms", 250], ["5s", 5000], ["2min", 120_000], ["1h", 3_600_000]] as const
  )("a time as the server reads it: %j is %d ms", (text, ms) => {
    const parsed = parse(`-c statement_timeout=${text}`)
    const timeout = parsed._tag === "settings" ? parsed.settings.statementTimeout : undefined
    expect(Duration.isDuration(timeout) ? Duration.toMillis(timeout) : timeout).toBe(ms)
  })

  it.each(["-c statement_timeout=5 seconds", "-c statement_timeout=1.5s", "-c jit=maybe", "-c search_path=a b"])(
    "%j is invalid",
    (text) => {
      expect(parse(text)._tag).toBe("invalid")
    }
  )

  it("a server setting FastORM has no setting of its own for becomes one of serverSettings, as given", () => {
    const parsed = parse("-c work_mem=64MB -c statement_timeout=5s --random-page-cost=1.1 -c app.tenant=a\\ b")
    expect(parsed).toEqual({
      _tag: "settings",
      settings: {
        statementTimeout: Duration.millis(5000),
        serverSettings: { work_mem: "64MB", random_page_cost: "1.1", "app.tenant": "a b" }
      }
    })
  })

  it.each(["client_encoding", "DateStyle", "default_transaction_read_only"])(
    "%s, which FastORM sets itself without a setting for it, is refused with the reason",
    (name) => {
      const parsed = parse(`-c ${name}=x`)
      expect(parsed).toMatchObject({ _tag: "unsupported" })
      expect(parsed._tag === "unsupported" ? parsed.instead : "").toContain(`FastORM sets ${name.toLowerCase()} itself`)
    }
  )

  it("a name no server setting has is invalid, and not shown", () => {
    expect(parse("-c work-mem!=1")).toEqual({ _tag: "invalid", expected: "server settings' names" })
  })
})
