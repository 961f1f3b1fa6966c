/**
 * Which pipelined connection (a lane: `pgLanes.ts` on PostgreSQL, `mysqlLanes.ts` on MySQL / MariaDB) a statement
 * goes to, as pure functions of the lanes' loads: an idle lane first; else the least loaded one that is neither full
 * (`LANE_DEPTH` statements on the wire) nor stalled (its oldest statement unanswered for `LANE_STALL_MS`: a slow
 * statement holds up every one behind it on its lane, so no more join it); else none, and the statement takes a
 * connection of the pool (ARCHITECTURE.md, "Pipelined connections").
 */

/** The most statements on the wire of one lane. */
export const LANE_DEPTH = 8

/** A lane whose oldest statement has waited this long (milliseconds) takes no more: it is held up. */
export const LANE_STALL_MS = 50

/** What the choice looks at in one lane. */
export interface LaneLoad {
  /** When each statement sent and not answered yet was sent (`performance.now()`), oldest first: answers come in that order. */
  readonly sent: ReadonlyArray<number>
}

/** The index of the lane the next statement goes to, at `now`; -1: none may take it (the pool does). */
export const laneFor = (lanes: ReadonlyArray<LaneLoad>, now: number): number => {
  let best = -1
  for (let i = 0; i < lanes.length; i++) {
    const lane = lanes[i]!
    if (lane.sent.length === 0) return i
    if (lane.sent.length >= LANE_DEPTH || now - lane.sent[0]! >= LANE_STALL_MS) continue
    if (best === -1 || lane.sent.length < lanes[best]!.sent.length) best = i
  }
  return best
}

/**
 * Whether to open another lane for the statement that got `chosen` (`laneFor`): no idle lane took it, fewer than `max`
 * are open or opening, and opening is allowed now (not backing off after a failed open).
 */
export const opensAnother = (
  lanes: ReadonlyArray<LaneLoad>,
  chosen: number,
  opening: number,
  max: number,
  canOpen: boolean
): boolean => canOpen && lanes.length + opening < max && (chosen === -1 || lanes[chosen]!.sent.length > 0)
