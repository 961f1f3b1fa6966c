/**
 * Replica selection strategies: pure functions of the candidates and a little state the router keeps.
 */
import type { Strategy } from "../ReadWriteConfig.js"

/** One replica that may serve a read, with what the strategies look at. */
export interface Candidate {
  readonly index: number
  readonly name: string
  /** The configured weight times the health factor (1 for HEALTHY, `degradedWeight` for DEGRADED). */
  readonly weight: number
  /** Smoothed latency in milliseconds; undefined when not measured yet. */
  readonly latencyMs: number | undefined
  /** Statements in flight on this replica. */
  readonly outstanding: number
}

/** Mutable state of the strategies: the round-robin cursor and the smooth-weighted counters. */
export interface SelectionState {
  cursor: number
  readonly current: Array<number>
}

/** A fresh state for `size` replicas. */
export const makeState = (size: number): SelectionState => ({
  cursor: 0,
  current: Array.from({ length: size }, () => 0)
})

const byWeight = (candidates: ReadonlyArray<Candidate>, state: SelectionState): Candidate => {
  // Smooth weighted round robin (nginx): deterministic, and interleaves instead of sending bursts to one node.
  let total = 0
  let best: Candidate | undefined
  for (const c of candidates) {
    total += c.weight
    state.current[c.index] = (state.current[c.index] ?? 0) + c.weight
    if (best === undefined || state.current[c.index]! > state.current[best.index]!) best = c
  }
  state.current[best!.index] = state.current[best!.index]! - total
  return best!
}

const randomByWeight = (candidates: ReadonlyArray<Candidate>, random: () => number): Candidate => {
  const total = candidates.reduce((sum, c) => sum + c.weight, 0)
  let point = random() * total
  for (const c of candidates) {
    point -= c.weight
    if (point < 0) return c
  }
  return candidates[candidates.length - 1]!
}

const minimal = (candidates: ReadonlyArray<Candidate>, cost: (c: Candidate) => number, state: SelectionState) => {
  // Ties rotate, so equal replicas share the load instead of the first one taking it all.
  const start = state.cursor++ % candidates.length
  let best = candidates[start]!
  for (let i = 1; i < candidates.length; i++) {
    const c = candidates[(start + i) % candidates.length]!
    if (cost(c) < cost(best)) best = c
  }
  return best
}

/**
 * Orders the candidates for one read: the first is tried first, the others are the retry order. Weight already
 * carries health (a DEGRADED replica has less), so every strategy that looks at weights sends it less traffic.
 */
export const order = (
  strategy: Strategy,
  candidates: ReadonlyArray<Candidate>,
  state: SelectionState,
  random: () => number = Math.random
): ReadonlyArray<Candidate> => {
  if (candidates.length <= 1) return candidates
  let first: Candidate
  switch (strategy) {
    case "roundRobin": {
      // Plain rotation skews towards healthy nodes only through weights; with equal weights it is exact.
      const degradedFree = candidates.every((c) => c.weight === candidates[0]!.weight)
      first = degradedFree ? candidates[state.cursor++ % candidates.length]! : byWeight(candidates, state)
      break
    }
    case "weighted":
      first = byWeight(candidates, state)
      break
    case "random":
      first = randomByWeight(candidates, random)
      break
    case "leastLatency":
      first = minimal(candidates, (c) => (c.latencyMs ?? 0) / Math.max(c.weight, 1e-6), state)
      break
    case "leastOutstanding":
      first = minimal(candidates, (c) => (c.outstanding + 1) / Math.max(c.weight, 1e-6), state)
      break
  }
  return [first, ...candidates.filter((c) => c !== first)]
}
