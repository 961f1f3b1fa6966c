/**
 * Session tokens: the primary's log position after a session's last write, per cluster. A session is the current
 * fiber and what it forks; a token also travels as an opaque string, like a bookmark, between requests.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type { Position } from "./internal/positions.js"
import { gtidPattern, later, lsnPattern } from "./internal/positions.js"
import { InvalidSessionToken } from "./RouterError.js"

export { compareLsn, covers, later, lsnToBigInt, type Position } from "./internal/positions.js"

/** The position of a write whose position could not be read. */
export const unknownPosition: Position = { kind: "unknown", value: "" }

/**
 * The pending reads that may end each unknown position: those marked after it, for a later write of the session. Each
 * unknown position is an object of its own (`freshUnknown`), so a read marked before it, which a fork's join may bring
 * back into the session, never ends it.
 */
const clearedBy = new WeakMap<Position, Set<PositionRead>>()

/** A new unknown position, that only the pending reads of the session's later writes can end. */
const freshUnknown = (): Position => ({ kind: "unknown", value: "" })

/**
 * The session's standing unknown positions, in one mutable object all its fibers share (a fork inherits the tokens,
 * and the cell with them). Effect merges a joined fiber's FiberRefs only when it succeeds, and a write whose outcome
 * is unknown fails: under `Effect.timeout`, or in any fork, its unknown position would vanish with the failed fiber
 * and the session would read replicas again. Made when the session first records or marks a write.
 */
interface Cell {
  readonly unknown: Map<string, Position>
  /** The clusters on which the session read after a write whose position was still to be read (`noteReadAfterWrite`). */
  readonly readsAfterWrites: Set<string>
}
const cellKey: unique symbol = Symbol.for("@fastorm/replication/SessionToken/cell")
const cellOf = (tokens: Tokens): Cell | undefined => (tokens as { readonly [cellKey]?: Cell })[cellKey]
const withCell = (tokens: Tokens): Tokens =>
  cellOf(tokens) !== undefined
    ? tokens
    : { ...tokens, [cellKey]: { unknown: new Map<string, Position>(), readsAfterWrites: new Set<string>() } }

/**
 * Notes that the session read on `cluster` after a write whose position was pending: a session that reads its writes,
 * whose later writes may pay a statement of their own to tell their positions (`readsAfterWrites`).
 */
export const noteReadAfterWrite = (tokens: Tokens, cluster: string): void => {
  cellOf(tokens)?.readsAfterWrites.add(cluster)
}

/** Whether the session has read on `cluster` after one of its writes (`noteReadAfterWrite`). */
export const readsAfterWrites = (tokens: Tokens, cluster: string): boolean =>
  cellOf(tokens)?.readsAfterWrites.has(cluster) === true

/** The position the session must see on `cluster`: an unknown one its cell holds, else its token's. */
export const positionOf = (tokens: Tokens, cluster: string): Position | undefined =>
  cellOf(tokens)?.unknown.get(cluster) ?? tokens[cluster]

/** The positions a session must see, by cluster name. */
export type Tokens = Readonly<Record<string, Position>>

const merge = (a: Tokens, b: Tokens): Tokens => {
  const out: Record<string | symbol, unknown> = { ...a }
  for (const [cluster, position] of Object.entries(b)) {
    const mine = out[cluster] as Position | undefined
    out[cluster] = mine === undefined ? position : later(mine, position)
  }
  // The session's one cell: the parent's, or the one a child made at the session's first write.
  if (cellOf(a) === undefined && cellOf(b) !== undefined) out[cellKey] = cellOf(b)
  return withPending(out as Tokens, mergePending(pendingOf(a), pendingOf(b)))
}

/** The current session's tokens. Forked fibers inherit them; a joined fiber's writes count for its parent. */
export const currentTokens: FiberRef.FiberRef<Tokens> = FiberRef.unsafeMake<Tokens>({}, {
  fork: (tokens) => tokens,
  join: (parent, child) => merge(parent, child)
})

/** A known position recorded over the token's own: merged with a known one, in place of an unknown one or none. */
const known = (mine: Position | undefined, position: Position): Position =>
  mine === undefined || mine.kind === "unknown" ? position : later(mine, position)

/**
 * Records a write's position for the current session, a position known when the write returns (a COMMIT's own
 * position read, a GTID its reply told; a pending read once read goes through `recordRead`). Merged with the
 * session's position on the cluster (`later`); it replaces an unknown position that stood when the write was sent:
 * the write came after the one whose outcome is unknown, so its position covers that one too. `sent.standing` is
 * what `positionOf` gave when the write was sent; an unknown position recorded since (a concurrent fiber's write,
 * lost while this one ran) stays, since this write may have committed before it. Without `sent`, the session's writes
 * are taken to be sequential: any unknown position ends. The session's pending reads stay: they may cover writes
 * this position does not (a GTID of another replication domain).
 */
export const record = (
  cluster: string,
  position: Position,
  sent?: { readonly standing: Position | undefined }
): Effect.Effect<void> =>
  FiberRef.update(currentTokens, (tokens) => {
    const now = positionOf(tokens, cluster)
    // An unknown position recorded since the write was sent stays (in the cell, or in the token itself); this write's
    // position joins the token beneath it, for when a later write's read ends it (`recordRead` merges with it).
    if (sent !== undefined && now?.kind === "unknown" && now !== sent.standing) {
      const mine = tokens[cluster]
      return withCell({ ...tokens, [cluster]: mine === undefined ? position : later(mine, position) })
    }
    cellOf(tokens)?.unknown.delete(cluster)
    return withCell({ ...tokens, [cluster]: known(tokens[cluster], position) })
  })

/**
 * A write of the current session whose outcome is unknown (its connection was lost after it was sent): it may have
 * been applied, and may even be on a replica that a failover then discards, so no position can stand for it. The
 * session records an unknown position, and drops its pending reads on the cluster (the unknown covers them): its
 * reads go to the primary until its next write records a real position (ARCHITECTURE.md, "Read-your-writes").
 */
export const recordUnknown = (cluster: string): Effect.Effect<void> =>
  FiberRef.update(currentTokens, (tokens) => {
    const unknown = freshUnknown()
    // In the cell too: it stands even if this fiber fails (the usual case: the write's own error follows).
    cellOf(tokens)?.unknown.set(cluster, unknown)
    const pending = pendingOf(tokens)
    const { [cluster]: _dropped, ...rest } = pending
    return withPending({ ...tokens, [cluster]: unknown }, rest)
  })

/**
 * Records what a pending read of the session gave. It ends an unknown position only if it was marked after that
 * position was recorded (a later write's): a read marked before (the write before the unknown one, kept by a parent
 * fiber and merged back when a fork that recorded the unknown joins) covers less than the unknown write.
 */
const recordRead = (cluster: string, read: PositionRead, position: Position): Effect.Effect<void> =>
  FiberRef.update(currentTokens, (tokens) => {
    const mine = positionOf(tokens, cluster)
    if (mine === undefined) return withCell({ ...tokens, [cluster]: position })
    if (mine.kind !== "unknown") return { ...tokens, [cluster]: later(mine, position) }
    if (clearedBy.get(mine)?.has(read) !== true) return tokens
    const cell = cellOf(tokens)
    if (cell?.unknown.get(cluster) === mine) cell.unknown.delete(cluster)
    // A known position beneath it (a concurrent write's, recorded while the unknown one stood) still counts.
    return { ...tokens, [cluster]: known(tokens[cluster], position) }
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
  const position = positionOf(tokens, cluster)
  // A write after the session's unknown position: its read may end that position (`recordRead`).
  if (position?.kind === "unknown") {
    const reads = clearedBy.get(position)
    if (reads === undefined) clearedBy.set(position, new Set([read]))
    else reads.add(read)
  }
  const pending = pendingOf(tokens)
  const mine = pending[cluster]
  if (mine !== undefined && mine.length === 1 && mine[0] === read) return tokens
  return withPending(withCell(tokens), { ...pending, [cluster]: [read] })
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
        Effect.flatMap((position) => position === undefined ? Effect.void : recordRead(name, read, position)),
        Effect.catchAllCause(() => recordUnknown(name))
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
    Effect.map(FiberRef.get(currentTokens), (tokens) => Option.fromNullable(positionOf(tokens, cluster)))
  )

const prefix = "fo1."

/** The current session's tokens as an opaque string (empty session: undefined); pending writes are not in it. */
export const encode = (tokens: Tokens): string | undefined => {
  const entries = Object.entries({ ...tokens, ...Object.fromEntries(cellOf(tokens)?.unknown ?? []) })
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
      else if (kind === "unknown" && value === "") out[decodeURIComponent(cluster)] = freshUnknown()
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
