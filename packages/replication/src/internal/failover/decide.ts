/**
 * FastORM's own failover, opt-in (`failover: { mode: "promote" }`): the decisions, as pure functions. When may a
 * replica be promoted, and which one (ARCHITECTURE.md, "Topology"). The coordinator only gathers the facts and
 * carries the verdict out.
 *
 * A promotion needs two things: the primary has been lost for `after` (the monitor has seen it UNHEALTHY that long,
 * or no node has been the primary that long), and a majority of the replicas confirm they lost it too (their WAL
 * receiver / IO thread is down). The replicas are the witnesses: an app cut off from a healthy primary sees it down,
 * but the replicas still stream from it, and nothing is promoted. The replica chosen is the most advanced (what it
 * received is applied before it takes writes), ties broken by name, so that several app instances looking at the same
 * stopped replicas choose the same one.
 */

/** What one replica told the coordinator. */
export interface Witness {
  readonly node: string
  /** It lost its primary: no WAL receiver streaming (PostgreSQL), IO thread not running (MariaDB). */
  readonly lostPrimary: boolean
  /** What it received, as a comparable position; undefined when it could not be read. */
  readonly received: string | undefined
}

/** The verdict of one look at the cluster. */
export type Verdict =
  | { readonly _tag: "Healthy" }
  | { readonly _tag: "Waiting"; readonly why: string }
  | { readonly _tag: "Promote"; readonly node: string }

/**
 * Whether to promote now. `downForMs` is how long the primary has been lost (undefined: it is not); `witnesses` the
 * replicas that answered; `replicas` how many replicas the cluster has (the majority is of all of them: an
 * unreachable replica confirms nothing); `compare` orders positions; `stable` says the positions did not move between
 * two reads (a replica still applying would change the choice).
 */
export const decide = (input: {
  readonly downForMs: number | undefined
  readonly afterMs: number
  readonly witnesses: ReadonlyArray<Witness>
  readonly replicas: number
  readonly stable: boolean
  readonly compare: (a: string, b: string) => number
}): Verdict => {
  if (input.downForMs === undefined) return { _tag: "Healthy" }
  if (input.downForMs < input.afterMs) return { _tag: "Waiting", why: "the primary has not been lost for long enough" }
  const lost = input.witnesses.filter((w) => w.lostPrimary)
  if (lost.length * 2 <= input.replicas) {
    return {
      _tag: "Waiting",
      why: `${lost.length} of ${input.replicas} replicas confirm they lost the primary: no majority`
    }
  }
  if (!input.stable) return { _tag: "Waiting", why: "the replicas are still applying what they received" }
  const candidates = lost.filter((w) => w.received !== undefined)
  if (candidates.length === 0) return { _tag: "Waiting", why: "no replica's position could be read" }
  const best = candidates.reduce((a, b) => {
    const order = input.compare(a.received!, b.received!)
    return order > 0 || (order === 0 && a.node <= b.node) ? a : b
  })
  return { _tag: "Promote", node: best.node }
}
