/**
 * A session read that carries its replica's replay poll (`SessionReads.readCarried`), over the real router and fake
 * nodes: caught up, the read's own answer, counted once as a session read, with no wait; behind, the read is thrown
 * away uncounted and the session waits as before; a replica its polls keep finding behind gets reads without a poll,
 * more of them each time (`backoff`).
 */
import { describe, expect, it } from "@effect/vitest"
import type { NodeHealth } from "@fastorm/health"
import * as Effect from "effect/Effect"
import { backoff, MAX_SKIPS } from "../src/internal/sessionReads.js"
import * as SessionToken from "../src/SessionToken.js"
import { healthy, makeRouter, readNode } from "./support/fakeRouter.js"

const lsn = (value: string): SessionToken.Position => ({ kind: "lsn", value })

describe("backoff: session reads that wait without a poll after one found the replica behind", () => {
  const table: ReadonlyArray<readonly [last: number, foundBehind: boolean, next: number]> = [
    [0, true, 1],
    [1, true, 2],
    [2, true, 4],
    [32, true, 64],
    [MAX_SKIPS, true, MAX_SKIPS],
    [0, false, 0],
    [16, false, 0],
    [MAX_SKIPS, false, 0]
  ]
  for (const [last, foundBehind, next] of table) {
    it(`after ${last}, ${foundBehind ? "behind" : "caught up"}: ${next}`, () => {
      expect(backoff(last, foundBehind)).toBe(next)
    })
  }
})

// replica-1 is down: every session read is decided on replica-2, which the probes saw at 0/10.
const down: NodeHealth.NodeHealth = {
  ...healthy("replica-1", "replica", "0/0"),
  status: "UNHEALTHY",
  consecutiveFailures: 3,
  lastError: { tag: "ConnectionFailed", message: "refused", at: 0, source: "probe" }
}
const snapshot = () => [healthy("primary", "primary", "0/100"), down, healthy("replica-2", "replica", "0/10")]

/** A session of its own at `token`: the node that serves its read. */
const sessionRead = (router: Parameters<typeof readNode>[0], token: SessionToken.Position) =>
  Effect.locally(readNode(router), SessionToken.currentTokens, { fake: token })

/** The router over replicas whose carried polls show `polls` and whose waits show `waits`; where each ran. */
const recordingRouter = (polls: SessionToken.Position | undefined, waits: SessionToken.Position | undefined) => {
  const polled: Array<string> = []
  const waited: Array<string> = []
  return Effect.map(
    makeRouter({
      snapshot,
      positions: [],
      carried: (name) => {
        polled.push(name)
        return polls
      },
      waitFor: (name) => {
        waited.push(name)
        return waits
      }
    }),
    (router) => ({ router, polled, waited })
  )
}

describe("a session read carrying its replica's poll", () => {
  it.scopedLive("caught up: the replica's answer, counted once, no wait", () =>
    Effect.gen(function*() {
      const { polled, router, waited } = yield* recordingRouter(lsn("0/90"), undefined)
      expect(yield* sessionRead(router, lsn("0/50"))).toBe("replica-2")
      expect(polled).toEqual(["replica-2"])
      expect(waited).toEqual([])
      expect((yield* router.stats).byNodeAndReason).toEqual({ "replica-2|session": 1 })
      // What the poll showed is learnt: a session at 0/60 reads there with no poll and no wait.
      expect(yield* sessionRead(router, lsn("0/60"))).toBe("replica-2")
      expect(polled).toEqual(["replica-2"])
    }))

  it.scopedLive("behind: the read is thrown away uncounted, the session waits, then reads the replica", () =>
    Effect.gen(function*() {
      const { polled, router, waited } = yield* recordingRouter(lsn("0/40"), lsn("0/90"))
      expect(yield* sessionRead(router, lsn("0/50"))).toBe("replica-2")
      expect(polled).toEqual(["replica-2"])
      expect(waited).toEqual(["replica-2"])
      expect((yield* router.stats).byNodeAndReason).toEqual({ "replica-2|session": 1 })
    }))

  it.scopedLive("a carried wait that gave up: the read is thrown away and the primary answers, with no second wait", () =>
    Effect.gen(function*() {
      const polled: Array<string> = []
      const waited: Array<string> = []
      const router = yield* makeRouter({
        snapshot,
        positions: [],
        carried: (name) => {
          polled.push(name)
          return lsn("0/40")
        },
        carriedWaits: true,
        waitFor: (name) => {
          waited.push(name)
          return lsn("0/90")
        }
      })
      for (let i = 1; i <= 3; i++) {
        expect(yield* sessionRead(router, lsn("0/50"))).toBe("primary")
      }
      // Carried every time: a wait that gave up is no reason to stop carrying it.
      expect(polled).toEqual(["replica-2", "replica-2", "replica-2"])
      expect(waited).toEqual([])
      expect((yield* router.stats).byNode["replica-2"] ?? 0).toBe(0)
    }))

  it.scopedLive("a replica its polls keep finding behind: reads wait without one, 1, 2, 4, 8 ... of them", () =>
    Effect.gen(function*() {
      let polls = 0
      let waits = 0
      const router = yield* makeRouter({
        snapshot,
        positions: [],
        carried: () => {
          polls++
          return undefined
        },
        // Never caught up: every read goes on to the primary.
        waitFor: () => {
          waits++
          return undefined
        }
      })
      const polledAt: Array<number> = []
      for (let i = 1; i <= 40; i++) {
        const before = polls
        expect(yield* sessionRead(router, lsn("0/50"))).toBe("primary")
        if (polls > before) polledAt.push(i)
      }
      // Carried at read 1, then after 1, 2, 4, 8 and 16 reads without a poll.
      expect(polledAt).toEqual([1, 3, 6, 11, 20, 37])
      expect(waits).toBe(40)
      const stats = yield* router.stats
      expect(stats.byNode["replica-2"] ?? 0).toBe(0)
    }))
})
