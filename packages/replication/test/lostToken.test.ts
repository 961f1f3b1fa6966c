/**
 * A write that succeeded but whose position could not be read (the primary failed between the write and the
 * position query), or whose outcome is unknown (its connection was lost once it was sent): the session must not keep
 * reading from replicas that may not have that write, or may have it and lose it in a failover. The router is the
 * real one over in-process fake nodes; the consistency operations are scripted.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as SessionToken from "../src/SessionToken.js"
import { healthy, makeRouter as makeFakeRouter, readNode } from "./support/fakeRouter.js"

// Both replicas have replayed up to 0/20: they cover any token up to there.
const snapshot = [
  healthy("primary", "primary", "0/30"),
  healthy("replica-1", "replica", "0/20"),
  healthy("replica-2", "replica", "0/20")
]

const makeRouter = (positions: Array<"lost" | string>) => makeFakeRouter({ snapshot: () => snapshot, positions })

/**
 * The session's position is unknown: its reads go to the primary, until a later write records a real position
 * (0/18, the router's next position read) and replicas serve them once more.
 */
const primaryUntilNextWrite = (router: Effect.Effect.Success<ReturnType<typeof makeRouter>>) =>
  Effect.gen(function*() {
    expect(Option_value(yield* SessionToken.get("fake"))).toEqual(SessionToken.unknownPosition)
    yield* router.resetStats
    for (let i = 0; i < 5; i++) expect(yield* readNode(router)).toBe("primary")
    expect((yield* router.stats).byNodeAndReason).toEqual({ "primary|session": 5 })
    yield* router.write.unsafe("UPDATE t SET x = 3")
    expect(Option_value(yield* SessionToken.get("fake"))).toEqual({ kind: "lsn", value: "0/18" })
    expect(yield* readNode(router)).toMatch(/^replica-/)
  })

describe("a write whose position is lost or whose outcome is unknown", () => {
  it.scoped("sends the session's reads to the primary, and the next recorded write ends that", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter(["0/10", "lost", "0/18"])
      // A write with a position replicas cover: reads on replicas.
      yield* router.write.unsafe("UPDATE t SET x = 1")
      expect(yield* readNode(router)).toMatch(/^replica-/)
      // The next write succeeds, its position query fails: no replica can be shown to have it.
      yield* router.write.unsafe("UPDATE t SET x = 2")
      yield* primaryUntilNextWrite(router)
    }))

  it.scoped("a write does not wait for its position; writes that no read follows share one position read", () =>
    Effect.gen(function*() {
      const answers = ["0/10", "0/18", "0/19"]
      const router = yield* makeRouter(answers)
      yield* router.write.unsafe("UPDATE t SET x = 1")
      yield* router.write.unsafe("UPDATE t SET x = 2")
      // Neither write read its position: they joined one batch, which the session's next read starts and uses.
      expect(yield* readNode(router)).toMatch(/^replica-/)
      expect(Option_value(yield* SessionToken.get("fake"))).toEqual({ kind: "lsn", value: "0/10" })
      // A session replaced with an empty one has no pending write: its read is an ordinary one.
      yield* router.write.unsafe("UPDATE t SET x = 3")
      expect(yield* Effect.locally(readNode(router), SessionToken.currentTokens, {})).toMatch(/^replica-/)
      // The third write's own batch: a read after it that it covers.
      expect(Option_value(yield* SessionToken.get("fake"))).toEqual({ kind: "lsn", value: "0/18" })
    }))

  it.scoped("a write whose outcome is unknown sends the session's reads to the primary until its next write", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter(["0/10", "0/18"])
      yield* router.write.unsafe("UPDATE t SET x = 1")
      expect(yield* readNode(router)).toMatch(/^replica-/)
      // The connection breaks once the write was sent: it may have been applied, and no position can stand for it.
      const error = yield* Effect.flip(router.write.unsafe("UPDATE t SET x = 'lost'"))
      expect(error.cause).toMatchObject({ _tag: "WriteOutcomeUnknown", node: "primary" })
      yield* primaryUntilNextWrite(router)
    }))

  it.scoped("a write whose outcome is unknown drops the session's pending position read", () =>
    Effect.gen(function*() {
      // Only one answer: the unknown write's session must not read a position for the write before it.
      const router = yield* makeRouter(["0/10"])
      yield* router.write.unsafe("UPDATE t SET x = 1")
      yield* Effect.flip(router.write.unsafe("UPDATE t SET x = 'lost'"))
      expect(Option_value(yield* SessionToken.get("fake"))).toEqual(SessionToken.unknownPosition)
      expect(yield* readNode(router)).toBe("primary")
    }))

  it.scoped("under Effect.timeout too (each statement in a fork): the write before's pending read does not end it", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter(["0/10", "0/18"])
      // As an application bounds each call: the statement runs in a fork, whose session changes its join merges back.
      const bounded = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.timeoutFail(effect, { duration: "5 seconds", onTimeout: () => "timeout" })
      yield* bounded(router.write.unsafe("UPDATE t SET x = 1"))
      expect(yield* bounded(readNode(router))).toMatch(/^replica-/)
      yield* Effect.flip(bounded(router.write.unsafe("UPDATE t SET x = 'lost'")))
      // The first write's position read, settled in the read's fork, is merged back from the parent's side: it must
      // not stand for the unknown write.
      expect(yield* bounded(readNode(router))).toBe("primary")
      yield* primaryUntilNextWrite(router)
    }))

  it.scoped("a read whose connection is lost is not a write: the session keeps its position", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter(["0/10"])
      yield* router.write.unsafe("UPDATE t SET x = 1")
      const error = yield* Effect.flip(router.write.unsafe("SELECT 'lost'"))
      expect(error.cause).toMatchObject({ _tag: "PrimaryUnavailable" })
      expect(Option_value(yield* SessionToken.get("fake"))).toEqual({ kind: "lsn", value: "0/10" })
    }))

  it.scoped("a COMMIT whose connection is lost sends the session's reads to the primary until its next write", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter(["0/10", "0/18"])
      yield* router.write.unsafe("UPDATE t SET x = 1")
      expect(yield* readNode(router)).toMatch(/^replica-/)
      // @effect/sql's own `withTransaction` makes a failed COMMIT a defect (FastORM's `Database.transaction` types it).
      const exit = yield* Effect.exit(router.write.withTransaction(router.write.unsafe("UPDATE t SET x = 2")))
      expect(Exit.isFailure(exit) && String(Cause.squash(exit.cause))).toContain("connection lost under COMMIT")
      expect(Option_value(yield* SessionToken.get("fake"))).toEqual(SessionToken.unknownPosition)
      expect(yield* readNode(router)).toBe("primary")
      yield* router.write.unsafe("UPDATE t SET x = 3")
      expect(yield* readNode(router)).toMatch(/^replica-/)
    }))

  it.scoped("a session without writes keeps reading from replicas", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter([])
      expect(yield* readNode(router)).toMatch(/^replica-/)
    }))
})

const Option_value = <A>(option: { readonly _tag: "Some"; readonly value: A } | { readonly _tag: "None" }) =>
  option._tag === "Some" ? option.value : undefined
