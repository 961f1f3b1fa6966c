/**
 * Log positions and their order (`SessionToken`'s public face re-exports them): PostgreSQL LSNs and MariaDB GTID
 * lists, whether a node's position covers a session's, and the later of two.
 */

/**
 * A log position: PostgreSQL LSN ("16/B374D848") or MariaDB GTID list ("0-1-42,1-2-7"); or `unknown`: a write
 * succeeded but its position could not be read (the primary failed right after it). No replica covers an unknown
 * position, so the session reads from the primary until a later write of its own records a real one.
 */
export interface Position {
  readonly kind: "lsn" | "gtid" | "unknown"
  readonly value: string
}

/** A PostgreSQL LSN as text. */
export const lsnPattern = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/
/** A MariaDB GTID list as text. */
export const gtidPattern = /^\d+-\d+-\d+(?:,\d+-\d+-\d+)*$/

/** An LSN as a number, for comparison. */
export const lsnToBigInt = (lsn: string): bigint => {
  const [hi, lo] = lsn.split("/")
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`)
}

// One half of an LSN, `text` from `from` to `to`: 1 to 8 hex digits as a number, NaN for anything else. Read in
// place, with no slice and no regular expression: the router compares positions several times on every session read.
const lsnHalf = (text: string, from: number, to: number): number => {
  if (to <= from || to - from > 8) return NaN
  let n = 0
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k)
    const digit = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1
    if (digit < 0) return NaN
    n = n * 16 + digit
  }
  return n
}

/**
 * Orders two LSNs (negative, zero, positive) with no BigInt: each half is at most 32 bits, exact as a number; NaN when
 * either is not an LSN (`lsnPattern`). The router compares positions on every session read, for every candidate
 * replica.
 */
export const compareLsn = (a: string, b: string): number => {
  const i = a.indexOf("/")
  const j = b.indexOf("/")
  const hi = lsnHalf(a, 0, i) - lsnHalf(b, 0, j)
  return hi !== 0 ? hi : lsnHalf(a, i + 1, a.length) - lsnHalf(b, j + 1, b.length)
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
  // NaN (a position that is not an LSN) is not >= 0.
  if (token.kind === "lsn") return compareLsn(position, token.value) >= 0
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

/**
 * The later of two positions of one cluster; an unknown one may be later than anything, so it wins (of two unknown
 * ones, `b`: the newer, in a merge the child's and in `record` the one recorded now).
 */
export const later = (a: Position, b: Position): Position => {
  if (b.kind === "unknown") return b
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
