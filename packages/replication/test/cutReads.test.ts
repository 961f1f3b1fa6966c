/**
 * When the router ends the reads waiting on a node (`CutReads.cutsReads`): only when the monitor turns it UNHEALTHY
 * because it does not answer; when it forgets the position its waits learnt there (`forgetsPosition`): whenever the
 * monitor turns it UNHEALTHY.
 */
import { describe, expect, it } from "@effect/vitest"
import type { NodeHealth } from "@fastorm/health"
import * as CutReads from "../src/internal/cutReads.js"

const change = (
  from: NodeHealth.Status,
  to: NodeHealth.Status,
  tag?: NodeHealth.ErrorTag
): NodeHealth.StatusChange => ({
  node: "replica-1",
  from,
  to,
  at: 0,
  health: {
    name: "replica-1",
    configuredRole: "replica",
    roleMismatch: false,
    status: to,
    consecutiveFailures: 2,
    consecutiveSuccesses: 0,
    ...(tag === undefined ? {} : { lastError: { tag, message: "m", at: 0, source: "probe" as const } })
  }
})

describe("CutReads.cutsReads", () => {
  const rows: ReadonlyArray<readonly [string, NodeHealth.StatusChange, boolean]> = [
    ["found down: its probes time out", change("HEALTHY", "UNHEALTHY", "Timeout"), true],
    ["found down: it refuses or breaks connections", change("DEGRADED", "UNHEALTHY", "ConnectionFailed"), true],
    ["found down from its first probes", change("UNKNOWN", "UNHEALTHY", "Timeout"), true],
    ["it only stopped replicating: it still answers", change("HEALTHY", "UNHEALTHY", "NotReplicating"), false],
    ["it answers too slowly: its reads still get answers", change("HEALTHY", "UNHEALTHY", "TooSlow"), false],
    [
      "it refuses logins: the connections it has still answer",
      change("HEALTHY", "UNHEALTHY", "AuthenticationFailed"),
      false
    ],
    ["a statement failed on it", change("HEALTHY", "UNHEALTHY", "StatementFailed"), false],
    [
      "already UNHEALTHY (a role mismatch change): cut once, when it turned",
      change("UNHEALTHY", "UNHEALTHY", "Timeout"),
      false
    ],
    ["DEGRADED, not down", change("HEALTHY", "DEGRADED", "Timeout"), false],
    ["back", change("UNHEALTHY", "HEALTHY"), false]
  ]
  for (const [name, input, expected] of rows) {
    it(name, () => expect(CutReads.cutsReads(input)).toBe(expected))
  }
})

describe("CutReads.forgetsPosition", () => {
  const rows: ReadonlyArray<readonly [string, NodeHealth.StatusChange, boolean]> = [
    [
      "it stopped replicating: it may be rewound before it replicates again",
      change("HEALTHY", "UNHEALTHY", "NotReplicating"),
      true
    ],
    ["found down", change("HEALTHY", "UNHEALTHY", "ConnectionFailed"), true],
    ["it answers too slowly", change("DEGRADED", "UNHEALTHY", "TooSlow"), true],
    ["already UNHEALTHY: forgotten once, when it turned", change("UNHEALTHY", "UNHEALTHY", "Timeout"), false],
    ["DEGRADED: it still replicates", change("HEALTHY", "DEGRADED", "Timeout"), false],
    ["back", change("UNHEALTHY", "HEALTHY"), false]
  ]
  for (const [name, input, expected] of rows) {
    it(name, () => expect(CutReads.forgetsPosition(input)).toBe(expected))
  }
})
