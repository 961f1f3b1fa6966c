/**
 * What the router's own waits learn a replica has replayed lets later sessions read there with no wait; a replica
 * that turns UNHEALTHY (it stopped replicating, went down) loses it: it may be rewound onto a promoted node's history
 * before it replicates again, and the old position would look like it covers positions it does not hold. A session
 * wait on a replica that turns UNHEALTHY while it waits is abandoned (PostgreSQL's polls stop).
 */
import { describe, expect, it } from "@effect/vitest"
import type { NodeHealth } from "@fastorm/health"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as SessionToken from "../src/SessionToken.js"
import { healthy, makeRouter, readNode } from "./support/fakeRouter.js"

const lsn = (value: string): SessionToken.Position => ({ kind: "lsn", value })

// replica-1 is down all along: every session read is decided on replica-2 alone.
const down: NodeHealth.NodeHealth = {
  ...healthy("replica-1", "replica", "0/0"),
  status: "UNHEALTHY",
  consecutiveFailures: 3,
  lastError: { tag: "ConnectionFailed", message: "refused", at: 0, source: "probe" }
}

/** A session of its own that must see `token`: the node that serves its read. */
const sessionRead = (router: Parameters<typeof readNode>[0], token: SessionToken.Position) =>
  Effect.locally(readNode(router), SessionToken.currentTokens, { fake: token })

describe("positions learnt by the router's waits", () => {
  it.scopedLive("serve later sessions with no wait, and are forgotten when the replica turns UNHEALTHY", () =>
    Effect.gen(function*() {
      // The monitor's probes say replica-2 replayed 0/10; a wait there shows 0/90.
      let replica2 = healthy("replica-2", "replica", "0/10")
      const changes = yield* Queue.unbounded<NodeHealth.StatusChange>()
      const waited: Array<string> = []
      let shows: SessionToken.Position | undefined = lsn("0/90")
      const router = yield* makeRouter({
        snapshot: () => [healthy("primary", "primary", "0/100"), down, replica2],
        changes,
        positions: [],
        waitFor: (name) => {
          waited.push(name)
          return shows
        }
      })
      // A session at 0/50: the probes do not cover it, a wait on replica-2 does, and shows 0/90.
      expect(yield* sessionRead(router, lsn("0/50"))).toBe("replica-2")
      expect(waited).toEqual(["replica-2"])
      // A session at 0/60: what the wait learnt covers it, no wait.
      expect(yield* sessionRead(router, lsn("0/60"))).toBe("replica-2")
      expect(waited).toEqual(["replica-2"])

      // replica-2 stops replicating, is rewound onto a promoted node's history and replicates again, at 0/20.
      const stopped: NodeHealth.NodeHealth = {
        ...replica2,
        status: "UNHEALTHY",
        replicating: false,
        lastError: { tag: "NotReplicating", message: "no WAL receiver", at: 1, source: "probe" }
      }
      replica2 = stopped
      yield* Queue.offer(changes, { node: "replica-2", from: "HEALTHY", to: "UNHEALTHY", at: 1, health: stopped })
      replica2 = healthy("replica-2", "replica", "0/20")
      yield* Queue.offer(changes, { node: "replica-2", from: "UNHEALTHY", to: "HEALTHY", at: 2, health: replica2 })
      yield* Effect.sleep("20 millis")
      // A session at 0/60 again: nothing known covers it now, so the router waits, and the replica is behind.
      shows = undefined
      expect(yield* sessionRead(router, lsn("0/60"))).toBe("primary")
      expect(waited).toEqual(["replica-2", "replica-2"])
    }))
})

describe("a session wait on a replica", () => {
  it.scopedLive("is abandoned when the monitor finds the replica failing while it waits, and only that wait", () =>
    Effect.gen(function*() {
      const changes = yield* Queue.unbounded<NodeHealth.StatusChange>()
      const replica2 = healthy("replica-2", "replica", "0/10")
      const seen: Array<[before: boolean, after: boolean]> = []
      let fails = true
      const router = yield* makeRouter({
        snapshot: () => [healthy("primary", "primary", "0/100"), down, replica2],
        changes,
        positions: [],
        waiting: (_name, abandoned) =>
          Effect.gen(function*() {
            const before = abandoned()
            if (fails) {
              // Found failing (a probe timed out) while the wait polls.
              const failing: NodeHealth.NodeHealth = {
                ...replica2,
                status: "UNHEALTHY",
                lastError: { tag: "Timeout", message: "probe timed out", at: 1, source: "probe" }
              }
              yield* Queue.offer(changes, {
                node: "replica-2",
                from: "HEALTHY",
                to: "UNHEALTHY",
                at: 1,
                health: failing
              })
              yield* Queue.offer(changes, {
                node: "replica-2",
                from: "UNHEALTHY",
                to: "HEALTHY",
                at: 2,
                health: replica2
              })
              // The router hears the change in a fiber of its own: given up to 2 s (a loaded machine), not a fixed sleep.
              for (let waited = 0; !abandoned() && waited < 2_000; waited += 5) yield* Effect.sleep("5 millis")
            }
            seen.push([before, abandoned()])
            return undefined
          })
      })
      expect(yield* sessionRead(router, lsn("0/50"))).toBe("primary")
      // A later wait, started after the replica was found failing, is not abandoned.
      fails = false
      expect(yield* sessionRead(router, lsn("0/50"))).toBe("primary")
      expect(seen).toEqual([[false, true], [false, false]])
    }))
})
