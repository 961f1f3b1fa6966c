/**
 * The GTID a MariaDB commit was given, from the statement's mysql2 result (`last_gtid` in the OK packet's session
 * state): only an OK packet that reports one well-formed GTID counts; anything else means "read it instead".
 */
import { describe, expect, it } from "@effect/vitest"
import { committedGtid, TRACK_LAST_GTID } from "../src/internal/mysqlPositions.js"

const ok = (systemVariables: Record<string, unknown> | undefined) => ({
  fieldCount: 0,
  affectedRows: 1,
  ...(systemVariables === undefined ? {} : { stateChanges: { systemVariables, schema: null, gtids: [] } })
})

describe("the GTID a commit was given", () => {
  it.each([
    ["an OK packet reporting last_gtid", ok({ last_gtid: "0-1-47771" }), "0-1-47771"],
    ["with other variables beside it", ok({ autocommit: "ON", last_gtid: "3-12-9" }), "3-12-9"],
    ["an OK packet without session state (nothing committed, or tracking off)", ok(undefined), undefined],
    ["session state without last_gtid (a SET)", ok({ character_set_client: "utf8mb4" }), undefined],
    ["an empty last_gtid", ok({ last_gtid: "" }), undefined],
    ["a list, not one GTID", ok({ last_gtid: "0-1-2,1-1-3" }), undefined],
    ["malformed", ok({ last_gtid: "0-1-x" }), undefined],
    ["rows", [{ id: 1 }], undefined],
    ["nothing", undefined, undefined],
    ["null", null, undefined]
  ])("%s", (_name, results, expected) => {
    expect(committedGtid(results)).toBe(expected)
  })

  it("keeps the variables already tracked when it adds last_gtid", () => {
    expect(TRACK_LAST_GTID).toContain("@@session_track_system_variables")
    expect(TRACK_LAST_GTID).toContain("'last_gtid'")
  })
})
