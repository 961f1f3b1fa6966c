/**
 * Session tokens: the primary's log position after a session's last write, per cluster. A session is the current
 * fiber and what it forks; a token also travels as an opaque string, like a bookmark, between requests.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { InvalidSessionToken } from "./RouterError.js"

/**
 * A log position: PostgreSQL LSN ("16/B374D848") or MariaDB GTID list ("0-1-42,1-2-7"); or `unknown`: a write
 * succeeded but its position could not be read (the primary failed right after it). No replica covers an unknown
 * position, so the session reads from the primary until a later write of its own records a real one.
 */
export interface Position {
  readonly kind: "lsn" | "gtid" | "unknown"
  readonly value: string
}

/** The position of a write whose position could not be read. */
export const unknownPosition: Position = { kind: "unknown", value: "" }

/** The positions a session must see, by cluster name. */
export type Tokens = Readonly<Record<string, Position>>

const lsnPattern = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/
const gtidPattern = /^\d+-\d+-\d+(?:,\d+-\d+-\d+)*$/

/** An LSN as a number, for comparison. */
export const lsnToBigInt = (lsn: string): bigint => {
  const [hi, lo] = lsn.split("/")
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`)
}

/**
 * Orders two LSNs (negative, zero, positive) with no BigInt: each half is at most 32 bits, exact as a number. The
 * router compares positions on every session read, for every candidate replica.
 */
export const compareLsn = (a: string, b: string): number => {
  const i = a.indexOf("/")
  const j = b.indexOf("/")
  const hi = parseInt(a.slice(0, i), 16) - parseInt(b.slice(0, j), 16)
  return hi !== 0 ? hi : parseInt(a.slice(i + 1), 16) - parseInt(b.slice(j + 1), 16)
}

// One GTID: domain, server id, sequence number (captured: domain and sequence number).
const singleGtid = /^(\d+)-\d+-(\d+)$/

/** Orders two GTID sequence numbers (decimal, up to 64 bits): as numbers while exact, else as BigInts. */
const compareSeq = (a: string, b: string): number =>
  a.length <= 15 && b.length <= 15 ? Number(a) - Number(b) : BigInt(a) > BigInt(b) ? 1 : BigInt(a) < BigInt(b) ? -1 : 0

const gtidMap = (list: string): Map<string, bigint> => {
  const out = new Map<string, bigint>()
  for (const gtid of list.split(",")) {
    const [domain, , seq] = gtid.trim().split("-")
    if (domain === undefined || seq === undefined || domain === "") continue
    const n = BigInt(seq)
    if ((out.get(domain) ?? -1n) < n) out.set(domain, n)
  }
  return out
}

/** Whether a node at `position` has everything up to `token` (same cluster, same kind). */
export const covers = (position: string | undefined, token: Position): boolean => {
  if (position === undefined || position === "" || token.kind === "unknown") return false
  if (token.kind === "lsn") return lsnPattern.test(position) && compareLsn(position, token.value) >= 0
  // The common case, one domain on both sides (a MariaDB session's GTID, a replica's position): no maps, no lists.
  const mine = singleGtid.exec(token.value)
  const theirs = mine === null ? null : singleGtid.exec(position)
  if (mine !== null && theirs !== null) return mine[1] === theirs[1] && compareSeq(theirs[2]!, mine[2]!) >= 0
  const have = gtidMap(position)
  for (const [domain, seq] of gtidMap(token.value)) {
    if ((have.get(domain) ?? -1n) < seq) return false
  }
  return true
}

/** The later of two positions of one cluster; an unknown one may be later than anything, so it wins. */
export const later = (a: Position, b: Position): Position => {
  if (a.kind === "unknown") return a
  if (a.kind !== b.kind) return b
  if (a.kind === "lsn") return compareLsn(a.value, b.value) >= 0 ? a : b
  // A MariaDB session mostly merges one GTID with another of the same domain, on every write: no lists to build.
  if (a.value === b.value) return a
  const x = singleGtid.exec(a.value)
  const y = x === null ? null : singleGtid.exec(b.value)
  if (x !== null && y !== null && x[1] === y[1]) return compareSeq(x[2]!, y[2]!) >= 0 ? a : b
  // GTID lists: the per-domain maximum of both.
  const merged = gtidMap(a.value)
  for (const [domain, seq] of gtidMap(b.value)) {
    if ((merged.get(domain) ?? -1n) < seq) merged.set(domain, seq)
  }
  const server = new Map<string, string>()
  for (const list of [a.value, b.value]) {
    for (const gtid of list.split(",")) {
      const [domain, serverId, seq] = gtid.split("-")
      if (domain !== undefined && seq !== undefined && merged.get(domain) === BigInt(seq)) server.set(domain, serverId!)
    }
  }
  return {
    kind: "gtid",
    value: [...merged].map(([domain, seq]) => `${domain}-${server.get(domain)}-${seq}`).join(",")
  }
}

const merge = (a: Tokens, b: Tokens): Tokens => {
  const out: Record<string, Position> = { ...a }
  for (const [cluster, position] of Object.entries(b)) {
    const mine = out[cluster]
    out[cluster] = mine === undefined ? position : later(mine, position)
  }
  return withPending(out, mergePending(pendingOf(a), pendingOf(b)))
}

/** The current session's tokens. Forked fibers inherit them; a joined fiber's writes count for its parent. */
export const currentTokens: FiberRef.FiberRef<Tokens> = FiberRef.unsafeMake<Tokens>({}, {
  fork: (tokens) => tokens,
  join: (parent, child) => merge(parent, child)
})

/**
 * Records a write's position for the current session: the one call for a position known when the write returns (a
 * COMMIT's own position read, a GTID its reply told), and for a pending read once read. Merged with the session's
 * position on the cluster (`later`); it replaces an unknown position: the session's writes are sequential on one
 * primary, so this later write's position covers the one that could not be read. The session's pending reads stay:
 * they may cover writes this position does not (a GTID of another replication domain).
 */
export const record = (cluster: string, position: Position): Effect.Effect<void> =>
  FiberRef.update(currentTokens, (tokens) => {
    const mine = tokens[cluster]
    return { ...tokens, [cluster]: mine === undefined || mine.kind === "unknown" ? position : later(mine, position) }
  })

/**
 * A write of the current session whose outcome is unknown (its connection was lost after it was sent): it may have
 * been applied, and may even be on a replica that a failover then discards, so no position can stand for it. The
 * session records an unknown position, and drops its pending reads on the cluster (the unknown covers them): its
 * reads go to the primary until its next write records a real position (ARCHITECTURE.md, "Read-your-writes").
 */
export const recordUnknown = (cluster: string): Effect.Effect<void> =>
  FiberRef.update(currentTokens, (tokens) => {
    const pending = pendingOf(tokens)
    const { [cluster]: _dropped, ...rest } = pending
    return withPending({ ...tokens, [cluster]: unknownPosition }, rest)
  })

/** Reads a position that covers every write that returned before the read started (on one primary). */
export type PositionRead = Effect.Effect<Position | undefined, unknown>

/** The session's writes whose positions are still to be read, by cluster: the reads that will cover them. */
export type Pending = Readonly<Record<string, ReadonlyArray<PositionRead>>>

// Pending writes travel in the tokens themselves, under a symbol key (`encode` and the routing see only the
// clusters' positions): whatever replaces a session's tokens (`Effect.locally(currentTokens, {})`) replaces its
// pending writes with them.
const pendingKey: unique symbol = Symbol.for("@fastorm/replication/SessionToken/pending")

/** The pending writes carried by `tokens`. */
export const pendingOf = (tokens: Tokens): Pending => (tokens as { readonly [pendingKey]?: Pending })[pendingKey] ?? {}

const withPending = (tokens: Tokens, pending: Pending): Tokens => {
  const out: Record<string | symbol, unknown> = { ...tokens }
  if (Object.keys(pending).length === 0) delete out[pendingKey]
  else out[pendingKey] = pending
  return out as Tokens
}

const mergePending = (a: Pending, b: Pending): Pending => {
  const out: Record<string, ReadonlyArray<PositionRead>> = { ...a }
  for (const [cluster, reads] of Object.entries(b)) {
    const mine = out[cluster] ?? []
    out[cluster] = [...mine, ...reads.filter((read) => !mine.includes(read))]
  }
  return out
}

/**
 * Marks a write of the current session on `cluster` whose position `read` gives, a read started after the write
 * returned (ARCHITECTURE.md, "Read-your-writes"): the session's next read on the cluster (or `get`, `current`) awaits
 * it first. It replaces the session's earlier pending reads on the cluster: read later on the same primary, its
 * position covers their writes too.
 */
export const markPending = (cluster: string, read: PositionRead): Effect.Effect<void> =>
  FiberRef.update(currentTokens, (tokens) => pendingMarked(tokens, cluster, read))

/**
 * `tokens` with `read` as the pending read of `cluster` (what `markPending` sets); the same tokens when it already
 * is (a session's writes that join one batch).
 */
export const pendingMarked = (tokens: Tokens, cluster: string, read: PositionRead): Tokens => {
  const pending = pendingOf(tokens)
  const mine = pending[cluster]
  if (mine !== undefined && mine.length === 1 && mine[0] === read) return tokens
  return withPending(tokens, { ...pending, [cluster]: [read] })
}

/**
 * Reads and records the positions of the session's pending writes on `cluster` (every cluster when undefined). A
 * read that fails records an unknown position: the session then reads from the primary until its next write.
 */
export const settle = (cluster?: string): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(currentTokens), (tokens) => {
    const pending = pendingOf(tokens)
    const clusters = cluster === undefined ? Object.keys(pending) : pending[cluster] === undefined ? [] : [cluster]
    if (clusters.length === 0) return Effect.void
    const settleRead = (name: string, read: PositionRead) =>
      read.pipe(
        Effect.flatMap((position) => position === undefined ? Effect.void : record(name, position)),
        Effect.catchAllCause(() => record(name, unknownPosition))
      )
    // One pending read is the usual case (`markPending` keeps one per cluster): no loop around it.
    const settleOne = (name: string) => {
      const reads = pending[name]!
      return reads.length === 1
        ? settleRead(name, reads[0]!)
        : Effect.forEach(reads, (read) => settleRead(name, read), { discard: true })
    }
    const forget = FiberRef.update(currentTokens, (now) => {
      const left: Record<string, ReadonlyArray<PositionRead>> = { ...pendingOf(now) }
      for (const name of clusters) {
        const reads = (left[name] ?? []).filter((read) => !pending[name]!.includes(read))
        if (reads.length === 0) delete left[name]
        else left[name] = reads
      }
      return withPending(now, left)
    })
    const all = clusters.length === 1 ? settleOne(clusters[0]!) : Effect.forEach(clusters, settleOne, { discard: true })
    return Effect.uninterruptible(Effect.zipRight(all, forget))
  })

/** The position the current session must see on a cluster, if it wrote there. */
export const get = (cluster: string): Effect.Effect<Option.Option<Position>> =>
  Effect.zipRight(
    settle(cluster),
    Effect.map(FiberRef.get(currentTokens), (tokens) => Option.fromNullable(tokens[cluster]))
  )

const prefix = "fo1."

/** The current session's tokens as an opaque string (empty session: undefined); pending writes are not in it. */
export const encode = (tokens: Tokens): string | undefined => {
  const entries = Object.entries(tokens)
  if (entries.length === 0) return undefined
  const text = entries.map(([cluster, p]) => `${encodeURIComponent(cluster)}|${p.kind}|${p.value}`).join(";")
  return prefix + Buffer.from(text, "utf8").toString("base64url")
}

/** Reads a string made by `encode`; anything else is `InvalidSessionToken`. */
export const decode = (token: string): Effect.Effect<Tokens, InvalidSessionToken> =>
  Effect.suspend(() => {
    if (!token.startsWith(prefix) || token.length > 4096) return Effect.fail(new InvalidSessionToken())
    const text = Buffer.from(token.slice(prefix.length), "base64url").toString("utf8")
    const out: Record<string, Position> = {}
    for (const part of text.split(";")) {
      const [cluster, kind, value] = part.split("|")
      if (cluster === undefined || value === undefined) return Effect.fail(new InvalidSessionToken())
      if (kind === "lsn" && lsnPattern.test(value)) out[decodeURIComponent(cluster)] = { kind, value }
      else if (kind === "gtid" && gtidPattern.test(value)) out[decodeURIComponent(cluster)] = { kind, value }
      else if (kind === "unknown" && value === "") out[decodeURIComponent(cluster)] = unknownPosition
      else return Effect.fail(new InvalidSessionToken())
    }
    return Effect.succeed(out)
  })

/** The current session's token string, to hand to a client (an HTTP header, a cookie). */
export const current: Effect.Effect<Option.Option<string>> = Effect.zipRight(
  settle(),
  Effect.map(FiberRef.get(currentTokens), (tokens) => Option.fromNullable(encode(tokens)))
)

/** Runs `effect` in a session that must see the writes behind `token` (merged with the current session's). */
export const withToken = <A, E, R>(
  token: string,
  effect: Effect.Effect<A, E | InvalidSessionToken, R>
): Effect.Effect<A, E | InvalidSessionToken, R> =>
  Effect.flatMap(
    decode(token),
    (tokens) =>
      Effect.flatMap(FiberRef.get(currentTokens), (mine) => Effect.locally(effect, currentTokens, merge(mine, tokens)))
  )
