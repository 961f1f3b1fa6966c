/**
 * Where a SQLite read runs: on the event loop's thread (better-sqlite3 returns before anything else can run) or on a
 * reader thread (sqliteThreads.ts), which frees the event loop and lets reads use another core. A hop to a thread
 * costs about 15 µs of CPU plus a copy of the rows, so only reads whose time is mostly SQLite's own work go there: a
 * count or an aggregate over many rows, not a point read, and not a long list, whose time is mostly rows to copy.
 * The decision follows each statement's measured time, wherever it last ran (ARCHITECTURE.md, "SQLite").
 */

/** A read costing at least this many µs may run on a reader thread. */
export const AWAY_MICROS = 200

/** ...if it costs at least this many µs per row returned: each row is copied from the thread. */
export const AWAY_MICROS_PER_ROW = 8

/** What is known of one statement's cost. */
export interface Cost {
  /** Runs measured so far (capped: only "more than one" matters). */
  runs: number
  /** Moving average of its time in µs. */
  micros: number
  /** Moving average of the rows it returns. */
  rows: number
  /** Whether it runs on a reader thread. */
  away: boolean
}

/** A statement not measured yet: it runs here first. */
export const unmeasured = (): Cost => ({ runs: 0, micros: 0, rows: 0, away: false })

/**
 * Whether a statement of this cost runs on a reader thread. One measurement does not decide (a first run reads
 * pages from disk); the way back takes half the cost the way there did, so a statement near the bound does not
 * go back and forth.
 */
export const away = (cost: Cost): boolean => {
  if (cost.runs < 2) return false
  const scale = cost.away ? 0.5 : 1
  return cost.micros >= AWAY_MICROS * scale && cost.micros >= cost.rows * AWAY_MICROS_PER_ROW * scale
}

/** Records one run's time and rows, and decides where the next run goes. */
export const observe = (cost: Cost, micros: number, rows: number): void => {
  if (cost.runs === 0) {
    cost.micros = micros
    cost.rows = rows
  } else {
    cost.micros += (micros - cost.micros) / 4
    cost.rows += (rows - cost.rows) / 4
  }
  if (cost.runs < 2) cost.runs++
  cost.away = away(cost)
}
