/**
 * Session tokens: log position comparison (PostgreSQL LSN, MariaDB GTID lists), the opaque string form, and the
 * session as a fiber and what it forks.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { FastOrm, SessionToken } from "../src/index.js"
import { lsnPattern } from "../src/internal/positions.js"

const lsn = (value: string): SessionToken.Position => ({ kind: "lsn", value })
const gtid = (value: string): SessionToken.Position => ({ kind: "gtid", value })

describe("LSN", () => {
  it("orders by the high word first, then the low word (hex, any case)", () => {
    expect(SessionToken.lsnToBigInt("0/16B3748")).toBe(0x16b3748n)
    expect(SessionToken.lsnToBigInt("1/0")).toBe(1n << 32n)
    expect(SessionToken.lsnToBigInt("1/0") > SessionToken.lsnToBigInt("0/FFFFFFFF")).toBe(true)
    expect(SessionToken.lsnToBigInt("a/b")).toBe(SessionToken.lsnToBigInt("A/B"))
  })

  it("compareLsn orders LSNs as their numbers do, with no BigInt", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["0/16B3748", "0/16B3748"],
      ["0/16B3750", "0/16B3748"],
      ["0/9FFFFFF", "0/10000000"],
      ["1/0", "0/FFFFFFFF"],
      ["FFFFFFFF/FFFFFFFF", "FFFFFFFF/FFFFFFFE"],
      ["a/b", "A/B"],
      ["2/1", "10/0"]
    ]
    for (const [a, b] of cases) {
      const x = SessionToken.lsnToBigInt(a)
      const y = SessionToken.lsnToBigInt(b)
      expect(Math.sign(SessionToken.compareLsn(a, b))).toBe(x > y ? 1 : x < y ? -1 : 0)
      expect(Math.sign(SessionToken.compareLsn(b, a))).toBe(y > x ? 1 : y < x ? -1 : 0)
    }
  })

  it("a replica covers a token when its replay position is at or past it", () => {
    expect(SessionToken.covers("0/16B3748", lsn("0/16B3748"))).toBe(true)
    expect(SessionToken.covers("0/16B3750", lsn("0/16B3748"))).toBe(true)
    expect(SessionToken.covers("0/16B3740", lsn("0/16B3748"))).toBe(false)
    // String order would say "9" > "10": the comparison must be numeric.
    expect(SessionToken.covers("0/9FFFFFF", lsn("0/10000000"))).toBe(false)
    expect(SessionToken.covers("1/0", lsn("0/FFFFFFFF"))).toBe(true)
  })

  it("an unknown or malformed position covers nothing", () => {
    expect(SessionToken.covers(undefined, lsn("0/1"))).toBe(false)
    expect(SessionToken.covers("", lsn("0/1"))).toBe(false)
    expect(SessionToken.covers("not-an-lsn", lsn("0/1"))).toBe(false)
    expect(SessionToken.covers("0-1-5", lsn("0/1"))).toBe(false)
    // What `lsnPattern` refuses, read in place: a half not hex, empty, over 8 digits, a second slash.
    for (const malformed of ["0/1G", "G/1", "0/", "/1", "123456789/0", "0/123456789", "0/1/2", " 0/1", "0/1 "]) {
      expect(lsnPattern.test(malformed)).toBe(false)
      expect(SessionToken.covers(malformed, lsn("0/0"))).toBe(false)
    }
  })

  it("later keeps the larger LSN", () => {
    expect(SessionToken.later(lsn("0/10"), lsn("0/F"))).toEqual(lsn("0/10"))
    expect(SessionToken.later(lsn("0/F"), lsn("1/0"))).toEqual(lsn("1/0"))
  })
})

describe("an unknown position (a write whose position could not be read)", () => {
  const unknown = SessionToken.unknownPosition
  it("is covered by no replica", () => {
    expect(SessionToken.covers("FFFFFFFF/FFFFFFFF", unknown)).toBe(false)
    expect(SessionToken.covers("0-1-999999", unknown)).toBe(false)
  })

  it("wins a merge: it may be later than anything", () => {
    expect(SessionToken.later(unknown, lsn("1/0"))).toEqual(unknown)
    expect(SessionToken.later(lsn("1/0"), unknown)).toEqual(unknown)
  })

  it.effect("a later write of the session records a real position over it; a lost one replaces a real one", () =>
    Effect.gen(function*() {
      yield* SessionToken.record("c", lsn("0/10"))
      yield* SessionToken.record("c", unknown)
      expect(yield* SessionToken.get("c")).toEqual(Option.some(unknown))
      yield* SessionToken.record("c", lsn("0/8"))
      expect(yield* SessionToken.get("c")).toEqual(Option.some(lsn("0/8")))
    }))

  it.effect("travels in the opaque string", () =>
    Effect.gen(function*() {
      const tokens: SessionToken.Tokens = { pg: unknown, maria: gtid("0-1-4") }
      expect(yield* SessionToken.decode(SessionToken.encode(tokens)!)).toEqual(tokens)
    }))

  it.effect("a joined fiber's lost position counts for its parent", () =>
    Effect.gen(function*() {
      yield* SessionToken.record("c", lsn("0/10"))
      yield* Fiber.join(yield* Effect.fork(SessionToken.record("c", unknown)))
      expect(yield* SessionToken.get("c")).toEqual(Option.some(unknown))
    }))
})

describe("a session that reads after its writes", () => {
  it.effect("is noted per cluster, once it has written; its forks share the note", () =>
    Effect.gen(function*() {
      const now = FiberRef.get(SessionToken.currentTokens)
      // No write yet: nothing to note.
      SessionToken.noteReadAfterWrite(yield* now, "pg")
      expect(SessionToken.readsAfterWrites(yield* now, "pg")).toBe(false)
      yield* SessionToken.record("pg", lsn("0/10"))
      expect(SessionToken.readsAfterWrites(yield* now, "pg")).toBe(false)
      // Noted in a fork (a read there), seen by the parent and by a later fork.
      yield* Fiber.join(yield* Effect.fork(Effect.map(now, (tokens) => SessionToken.noteReadAfterWrite(tokens, "pg"))))
      expect(SessionToken.readsAfterWrites(yield* now, "pg")).toBe(true)
      expect(yield* Fiber.join(yield* Effect.fork(Effect.map(now, (t) => SessionToken.readsAfterWrites(t, "pg")))))
        .toBe(true)
      // Another cluster is another matter; a later write keeps the note.
      expect(SessionToken.readsAfterWrites(yield* now, "maria")).toBe(false)
      yield* SessionToken.record("pg", lsn("0/20"))
      expect(SessionToken.readsAfterWrites(yield* now, "pg")).toBe(true)
    }))

  it.effect("is not another session's: a fresh session starts without the note", () =>
    Effect.gen(function*() {
      yield* SessionToken.record("pg", lsn("0/10"))
      SessionToken.noteReadAfterWrite(yield* FiberRef.get(SessionToken.currentTokens), "pg")
      const fresh = yield* Effect.locally(
        Effect.zipRight(SessionToken.record("pg", lsn("0/30")), FiberRef.get(SessionToken.currentTokens)),
        SessionToken.currentTokens,
        {}
      )
      expect(SessionToken.readsAfterWrites(fresh, "pg")).toBe(false)
    }))
})

describe("GTID", () => {
  it("covers needs every domain of the token, each at or past its sequence number", () => {
    expect(SessionToken.covers("0-1-42", gtid("0-1-42"))).toBe(true)
    expect(SessionToken.covers("0-1-43", gtid("0-1-42"))).toBe(true)
    expect(SessionToken.covers("0-1-41", gtid("0-1-42"))).toBe(false)
    // Multi-domain: domain 1 is behind.
    expect(SessionToken.covers("0-1-50,1-2-6", gtid("0-1-42,1-2-7"))).toBe(false)
    expect(SessionToken.covers("1-2-7,0-1-50", gtid("0-1-42,1-2-7"))).toBe(true)
    // A domain the replica has never seen.
    expect(SessionToken.covers("0-1-50", gtid("0-1-42,2-3-1"))).toBe(false)
    // The server id does not matter (a failover changes it), the sequence number does; 10 > 9 numerically.
    expect(SessionToken.covers("0-7-10", gtid("0-1-9"))).toBe(true)
    expect(SessionToken.covers(undefined, gtid("0-1-1"))).toBe(false)
  })

  it("one GTID against one GTID (the fast path) agrees with the general comparison of lists", () => {
    const rows: ReadonlyArray<readonly [string, string, boolean]> = [
      ["0-1-42", "0-1-42", true],
      ["0-1-43", "0-1-42", true],
      ["0-1-41", "0-1-42", false],
      ["0-7-10", "0-1-9", true],
      ["0-1-9", "0-1-10", false],
      ["1-1-50", "0-1-1", false],
      ["0-3-100000000000000000000", "0-3-99999999999999999999", true],
      ["0-3-99999999999999999999", "0-3-100000000000000000000", false],
      ["0-3-1000000000000000", "0-3-999999999999999", true],
      // Beyond 2^53, one apart: exact, as MariaDB's 64-bit sequence numbers need.
      ["0-3-18446744073709551615", "0-3-18446744073709551614", true],
      ["0-3-18446744073709551614", "0-3-18446744073709551615", false],
      // Leading zeros are not significant.
      ["0-1-010", "0-1-9", true],
      ["0-1-0009", "0-1-10", false],
      ["0-1-0", "0-1-000", true],
      // A domain that only starts like the other's.
      ["10-1-50", "1-1-5", false],
      ["1-1-50", "10-1-5", false]
    ]
    for (const [position, token, expected] of rows) {
      expect(SessionToken.covers(position, gtid(token))).toBe(expected)
      // Another domain in the position changes nothing for this token, and takes the general path.
      expect(SessionToken.covers(`${position},99-1-1`, gtid(token))).toBe(expected)
    }
  })

  it("later of two single GTIDs of one domain is the larger sequence number, compared as a number", () => {
    const rows: ReadonlyArray<readonly [string, string, string]> = [
      ["0-1-10", "0-1-9", "0-1-10"],
      ["0-1-9", "0-1-10", "0-1-10"],
      ["0-1-7", "0-2-7", "0-1-7"],
      ["0-3-99999999999999999999", "0-3-100000000000000000000", "0-3-100000000000000000000"],
      ["0-1-5", "0-1-5", "0-1-5"],
      ["0-1-18446744073709551614", "0-2-18446744073709551615", "0-2-18446744073709551615"],
      ["0-1-010", "0-2-9", "0-1-010"]
    ]
    for (const [a, b, expected] of rows) expect(SessionToken.later(gtid(a), gtid(b))).toEqual(gtid(expected))
    // Another domain: both stay.
    expect(SessionToken.later(gtid("0-1-5"), gtid("1-1-2")).value.split(",").sort()).toEqual(["0-1-5", "1-1-2"])
  })

  it("later is the per-domain maximum, with the server id of the GTID that won", () => {
    const merged = SessionToken.later(gtid("0-1-42,1-2-7"), gtid("0-3-40,1-4-9,2-5-1"))
    expect(merged.kind).toBe("gtid")
    expect(merged.value.split(",").sort()).toEqual(["0-1-42", "1-4-9", "2-5-1"])
    expect(SessionToken.covers(merged.value, gtid("0-1-42,1-2-7"))).toBe(true)
    expect(SessionToken.covers(merged.value, gtid("0-3-40,1-4-9,2-5-1"))).toBe(true)
  })
})

describe("the opaque string", () => {
  it.effect("round-trips every cluster's position, whatever the cluster's name", () =>
    Effect.gen(function*() {
      const tokens: SessionToken.Tokens = {
        pg: lsn("16/B374D848"),
        "maria db|;=%": gtid("0-1-42,1-2-7")
      }
      const text = SessionToken.encode(tokens)!
      expect(text.startsWith("fo1.")).toBe(true)
      // Opaque: no position or cluster name in clear.
      expect(text).not.toContain("B374D848")
      expect(yield* SessionToken.decode(text)).toEqual(tokens)
    }))

  it("an empty session has no token", () => {
    expect(SessionToken.encode({})).toBeUndefined()
  })

  const invalid = [
    "",
    "garbage",
    "fo1.",
    "fo2." + Buffer.from("pg|lsn|0/1").toString("base64url"),
    "fo1." + Buffer.from("pg|lsn|not-an-lsn").toString("base64url"),
    "fo1." + Buffer.from("pg|gtid|0-1").toString("base64url"),
    "fo1." + Buffer.from("pg|xid|0/1").toString("base64url"),
    "fo1." + Buffer.from("pg|lsn").toString("base64url"),
    "fo1." + Buffer.from("pg|lsn|0/1;").toString("base64url"),
    "fo1." + Buffer.from("pg|lsn|0/1'; DROP TABLE x; --").toString("base64url"),
    "fo1." + "A".repeat(5000)
  ]
  it.effect.each(invalid)("rejects %j with InvalidSessionToken", (token) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SessionToken.decode(token))
      expect(error._tag).toBe("InvalidSessionToken")
      expect(error.message).toBe("Invalid FastORM session token")
    }))
})

describe("the session", () => {
  it.effect("a forked fiber inherits the session's tokens", () =>
    Effect.gen(function*() {
      yield* SessionToken.record("pg", lsn("0/10"))
      const seen = yield* Effect.fork(SessionToken.get("pg")).pipe(Effect.flatMap(Fiber.join))
      expect(seen).toEqual(Option.some(lsn("0/10")))
    }))

  it.effect("a joined fiber's writes count for its parent (merged, never moved back)", () =>
    Effect.gen(function*() {
      yield* SessionToken.record("pg", lsn("0/20"))
      const behind = yield* Effect.fork(SessionToken.record("pg", lsn("0/10")))
      const ahead = yield* Effect.fork(SessionToken.record("pg", lsn("0/30")))
      const other = yield* Effect.fork(SessionToken.record("maria", gtid("0-1-5")))
      yield* Fiber.join(behind)
      expect(yield* SessionToken.get("pg")).toEqual(Option.some(lsn("0/20")))
      yield* Fiber.join(ahead)
      yield* Fiber.join(other)
      expect(yield* SessionToken.get("pg")).toEqual(Option.some(lsn("0/30")))
      expect(yield* SessionToken.get("maria")).toEqual(Option.some(gtid("0-1-5")))
    }))

  it.effect("a fiber that is not joined does not change its parent's session", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(SessionToken.record("pg", lsn("0/99")))
      yield* Fiber.await(fiber)
      expect(yield* SessionToken.get("pg")).toEqual(Option.none())
    }))

  it.effect("FastOrm.sessionToken is none for a session that wrote nothing, then the encoded tokens", () =>
    Effect.gen(function*() {
      expect(yield* FastOrm.sessionToken).toEqual(Option.none())
      yield* SessionToken.record("pg", lsn("0/40"))
      const token = yield* FastOrm.sessionToken
      expect(Option.isSome(token)).toBe(true)
      expect(yield* SessionToken.decode(Option.getOrThrow(token))).toEqual({ pg: lsn("0/40") })
    }))

  it.effect("FastOrm.withSessionToken carries a request's token into another session, merged with its own", () =>
    Effect.gen(function*() {
      // Request 1 wrote and handed its token to the client.
      const token = yield* Effect.gen(function*() {
        yield* SessionToken.record("pg", lsn("0/50"))
        yield* SessionToken.record("maria", gtid("0-1-3"))
        return Option.getOrThrow(yield* FastOrm.sessionToken)
      }).pipe(Effect.locally(SessionToken.currentTokens, {}))

      // Request 2 is a fresh session with a write of its own on one cluster.
      yield* SessionToken.record("maria", gtid("0-1-7"))
      const inside = yield* FastOrm.withSessionToken(
        token,
        Effect.all([SessionToken.get("pg"), SessionToken.get("maria")])
      )
      expect(inside).toEqual([Option.some(lsn("0/50")), Option.some(gtid("0-1-7"))])
      // Scoped to the effect: the outer session is as it was.
      expect(yield* SessionToken.get("pg")).toEqual(Option.none())
    }))

  it.effect("FastOrm.withSessionToken rejects a token it did not issue, without running the effect", () =>
    Effect.gen(function*() {
      let ran = false
      const error = yield* Effect.flip(FastOrm.withSessionToken("fo1.bogus!", Effect.sync(() => (ran = true))))
      expect(error._tag).toBe("InvalidSessionToken")
      expect(ran).toBe(false)
    }))
})

describe("a position known when the write returns (`record`) beside the session's pending reads", () => {
  it.effect("is recorded at once, and the pending read of an earlier write stays: what it covers is still needed", () =>
    Effect.gen(function*() {
      // An earlier write in domain 1, its position read pending; then a write whose OK packet told a domain-0 GTID.
      yield* SessionToken.markPending("maria", Effect.succeed(gtid("0-1-40,1-3-7")))
      yield* SessionToken.record("maria", gtid("0-1-42"))
      const now = yield* FiberRef.get(SessionToken.currentTokens)
      expect(now["maria"]).toEqual(gtid("0-1-42"))
      expect(SessionToken.pendingOf(now)["maria"]).toHaveLength(1)
      // The next read merges both: the earlier write's domain stays required.
      const settled = Option.getOrThrow(yield* SessionToken.get("maria"))
      expect(settled.value.split(",").sort()).toEqual(["0-1-42", "1-3-7"])
      expect(SessionToken.pendingOf(yield* FiberRef.get(SessionToken.currentTokens))).toEqual({})
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("an earlier write whose pending read fails leaves the session on the primary (unknown)", () =>
    Effect.gen(function*() {
      yield* SessionToken.markPending("pg", Effect.fail("primary gone"))
      yield* SessionToken.record("pg", lsn("0/40"))
      expect(yield* SessionToken.get("pg")).toEqual(Option.some(SessionToken.unknownPosition))
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))
})

describe("pendingMarked", () => {
  it("sets the cluster's pending read, keeps the other clusters', and returns the same tokens for the same read", () => {
    const first: SessionToken.PositionRead = Effect.succeed(lsn("0/10"))
    const second: SessionToken.PositionRead = Effect.succeed(lsn("0/20"))
    const other: SessionToken.PositionRead = Effect.succeed(gtid("0-1-1"))
    const start: SessionToken.Tokens = { pg: lsn("0/1") }
    const marked = SessionToken.pendingMarked(start, "pg", first)
    expect(SessionToken.pendingOf(marked)).toEqual({ pg: [first] })
    expect(marked["pg"]).toEqual(lsn("0/1"))
    // A session's second write of the same batch: nothing changes, not even the object.
    expect(SessionToken.pendingMarked(marked, "pg", first)).toBe(marked)
    const both = SessionToken.pendingMarked(SessionToken.pendingMarked(marked, "maria", other), "pg", second)
    expect(SessionToken.pendingOf(both)).toEqual({ pg: [second], maria: [other] })
    expect(SessionToken.pendingOf(start)).toEqual({})
  })
})

describe("an unknown position and the session's pending reads", () => {
  const unknownOf = (option: Option.Option<SessionToken.Position>) => Option.getOrThrow(option).kind
  /** A write of the session lost in a fork, which then fails with the write's own error; the fork's exit. */
  const lostInFork = (cluster: string) =>
    Effect.flatMap(
      Effect.fork(Effect.zipRight(SessionToken.recordUnknown(cluster), Effect.fail("lost"))),
      (fiber) => Effect.exit(Fiber.join(fiber))
    )

  it.effect("a pending read marked before the unknown write does not end it, though a fork's join brings it back", () =>
    Effect.gen(function*() {
      // The write before: its position read still pending in the parent. The unknown write runs in a fork (as under
      // `Effect.timeout`): the fork drops the pending read, the join merges the parent's back.
      yield* SessionToken.markPending("pg", Effect.succeed(lsn("0/8")))
      yield* Fiber.join(yield* Effect.fork(SessionToken.recordUnknown("pg")))
      expect(SessionToken.pendingOf(yield* FiberRef.get(SessionToken.currentTokens))["pg"]).toHaveLength(1)
      expect(unknownOf(yield* SessionToken.get("pg"))).toBe("unknown")
      expect(SessionToken.pendingOf(yield* FiberRef.get(SessionToken.currentTokens))).toEqual({})
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("a pending read marked after it (the session's next write) ends it, in a fork too", () =>
    Effect.gen(function*() {
      yield* SessionToken.recordUnknown("pg")
      yield* Fiber.join(yield* Effect.fork(SessionToken.markPending("pg", Effect.succeed(lsn("0/18")))))
      expect(yield* SessionToken.get("pg")).toEqual(Option.some(lsn("0/18")))
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("a read marked after an older unknown position does not end a newer one", () =>
    Effect.gen(function*() {
      yield* SessionToken.recordUnknown("pg")
      // A write after the first unknown one; its read is still pending when a later write's outcome is unknown.
      yield* SessionToken.markPending("pg", Effect.succeed(lsn("0/18")))
      yield* Fiber.join(yield* Effect.fork(SessionToken.recordUnknown("pg")))
      expect(unknownOf(yield* SessionToken.get("pg"))).toBe("unknown")
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("a pending read that fails is not ended by another that succeeds after it", () =>
    Effect.gen(function*() {
      // Two pending reads (the parent's and a joined fork's): the first fails, the second gives a position that
      // covers only its own write.
      yield* SessionToken.markPending("pg", Effect.fail("primary gone"))
      yield* Fiber.join(yield* Effect.fork(SessionToken.markPending("pg", Effect.succeed(lsn("0/20")))))
      expect(SessionToken.pendingOf(yield* FiberRef.get(SessionToken.currentTokens))["pg"]).toHaveLength(2)
      expect(unknownOf(yield* SessionToken.get("pg"))).toBe("unknown")
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("recorded in a fork that then fails (a write's own error), it stands for the session, in its string too", () =>
    Effect.gen(function*() {
      yield* SessionToken.record("pg", lsn("0/10"))
      // Effect merges a joined fork's FiberRefs only when it succeeds: the session's cell keeps the unknown position.
      expect((yield* lostInFork("pg"))._tag).toBe("Failure")
      expect((yield* FiberRef.get(SessionToken.currentTokens))["pg"]).toEqual(lsn("0/10"))
      expect(unknownOf(yield* SessionToken.get("pg"))).toBe("unknown")
      const text = Option.getOrThrow(yield* SessionToken.current)
      expect((yield* SessionToken.decode(text))["pg"]?.kind).toBe("unknown")
      // The session's next write ends it.
      yield* SessionToken.markPending("pg", Effect.succeed(lsn("0/18")))
      expect(yield* SessionToken.get("pg")).toEqual(Option.some(lsn("0/18")))
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("a write sent before it was recorded (a concurrent fiber's lost write) does not end it", () =>
    Effect.gen(function*() {
      yield* SessionToken.record("maria", gtid("0-1-4"))
      const standing = SessionToken.positionOf(yield* FiberRef.get(SessionToken.currentTokens), "maria")
      // While this fiber's write runs, another fiber of the session loses its write.
      yield* lostInFork("maria")
      yield* SessionToken.record("maria", gtid("0-1-7"), { standing })
      expect(unknownOf(yield* SessionToken.get("maria"))).toBe("unknown")
      // A later write's read ends it; the concurrent write's position, newer than that read, still counts.
      yield* SessionToken.markPending("maria", Effect.succeed(gtid("0-1-6")))
      expect(yield* SessionToken.get("maria")).toEqual(Option.some(gtid("0-1-7")))
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it.effect("a write sent while it stood ends it", () =>
    Effect.gen(function*() {
      yield* SessionToken.record("maria", gtid("0-1-4"))
      yield* lostInFork("maria")
      const standing = SessionToken.positionOf(yield* FiberRef.get(SessionToken.currentTokens), "maria")
      expect(standing?.kind).toBe("unknown")
      yield* SessionToken.record("maria", gtid("0-1-7"), { standing })
      expect(yield* SessionToken.get("maria")).toEqual(Option.some(gtid("0-1-7")))
    }).pipe(Effect.locally(SessionToken.currentTokens, {})))

  it("of two unknown positions a merge keeps the newer (the child's)", () => {
    const older: SessionToken.Position = { kind: "unknown", value: "" }
    const newer: SessionToken.Position = { kind: "unknown", value: "" }
    expect(SessionToken.later(older, newer)).toBe(newer)
  })
})
