/**
 * FastORM's own failover, the decisions as a table: when a replica may be promoted (lost long enough, a majority of
 * witnesses, stable positions) and which one (the most advanced, ties by name: every instance chooses the same).
 */
import { describe, expect, it } from "@effect/vitest"
import { decide, type Witness } from "../src/internal/failover/decide.js"
import { withEndpoint } from "../src/internal/failover/ops.js"

const lsn = (a: string, b: string) => {
  const n = (s: string) => BigInt(`0x${s.replace("/", "")}`)
  return n(a) > n(b) ? 1 : n(a) < n(b) ? -1 : 0
}
const lost = (node: string, received?: string): Witness => ({ node, lostPrimary: true, received })
const streaming = (node: string, received?: string): Witness => ({ node, lostPrimary: false, received })

const rows: ReadonlyArray<{
  readonly situation: string
  readonly downForMs: number | undefined
  readonly witnesses: ReadonlyArray<Witness>
  readonly replicas?: number
  readonly stable?: boolean
  readonly expected: string
}> = [
  { situation: "the primary answers", downForMs: undefined, witnesses: [], expected: "Healthy" },
  {
    situation: "lost, but not for long enough",
    downForMs: 4_000,
    witnesses: [lost("r1", "0/10"), lost("r2", "0/20")],
    expected: "Waiting"
  },
  {
    situation: "lost from here, but the replicas still stream from it (this app is cut off): never",
    downForMs: 60_000,
    witnesses: [streaming("r1", "0/10"), streaming("r2", "0/20")],
    expected: "Waiting"
  },
  {
    situation: "one replica of two confirms: no majority",
    downForMs: 60_000,
    witnesses: [lost("r1", "0/10"), streaming("r2", "0/20")],
    expected: "Waiting"
  },
  {
    situation: "one replica of two answers at all: no majority (an unreachable replica confirms nothing)",
    downForMs: 60_000,
    witnesses: [lost("r1", "0/10")],
    expected: "Waiting"
  },
  {
    situation: "both confirm, still applying: wait for stable positions",
    downForMs: 60_000,
    witnesses: [lost("r1", "0/10"), lost("r2", "0/20")],
    stable: false,
    expected: "Waiting"
  },
  {
    situation: "both confirm: the most advanced is promoted",
    downForMs: 60_000,
    witnesses: [lost("r1", "0/10"), lost("r2", "0/20")],
    expected: "Promote r2"
  },
  {
    situation: "both confirm at the same position: the first by name, whichever instance decides",
    downForMs: 60_000,
    witnesses: [lost("r2", "0/20"), lost("r1", "0/20")],
    expected: "Promote r1"
  },
  {
    situation: "two of three confirm: a majority",
    downForMs: 60_000,
    witnesses: [lost("r1", "0/10"), lost("r2", "0/30"), streaming("r3", "0/40")],
    replicas: 3,
    expected: "Promote r2"
  },
  {
    situation: "both confirm but no position could be read",
    downForMs: 60_000,
    witnesses: [lost("r1"), lost("r2")],
    expected: "Waiting"
  }
]

describe("failover: when to promote, and which replica", () => {
  for (const row of rows) {
    it(row.situation, () => {
      const verdict = decide({
        downForMs: row.downForMs,
        afterMs: 10_000,
        witnesses: row.witnesses,
        replicas: row.replicas ?? 2,
        stable: row.stable ?? true,
        compare: lsn
      })
      expect(verdict._tag === "Promote" ? `Promote ${verdict.node}` : verdict._tag).toBe(row.expected)
    })
  }

  it("re-pointing keeps every setting of primary_conninfo but its host and port", () => {
    expect(
      withEndpoint(
        "user=postgres passfile='/var/lib/postgresql/.pgpass' channel_binding=prefer host=127.0.0.1 port=40089 " +
          "sslmode=disable application_name='pg replica 1'",
        { host: "10.0.0.7", port: 5433 }
      )
    ).toBe(
      "user=postgres passfile='/var/lib/postgresql/.pgpass' channel_binding=prefer sslmode=disable " +
        "application_name='pg replica 1' host=10.0.0.7 port=5433"
    )
  })
})
