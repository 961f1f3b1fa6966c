/**
 * The replica to promote once the primary is gone, as MaxScale's failover picks it: the one that fetched the most
 * (`stopFetching`'s positions), the first listed on a tie. GTID order is `SessionToken.covers`'s.
 */
import type { NodeInfo } from "@fastorm/test-support"
import { SessionToken } from "../../src/index.js"

/** Whether GTID list `a` holds a transaction `b` does not: `b` does not cover it. */
export const gtidAhead = (a: string, b: string): boolean => !SessionToken.covers(b, { kind: "gtid", value: a })

/** The replica that fetched the most. */
export const mostAdvanced = (fetched: ReadonlyArray<{ readonly replica: NodeInfo; readonly fetched: string }>) => {
  let best = fetched[0]
  if (best === undefined) throw new Error("mostAdvanced: no replica")
  for (const candidate of fetched) if (gtidAhead(candidate.fetched, best.fetched)) best = candidate
  return best.replica
}
