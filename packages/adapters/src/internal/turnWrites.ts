/**
 * One write a turn for a pipelined connection (ARCHITECTURE.md, "Pipelined connections"; BENCHMARKS.md, lever 51):
 * its socket's writes are held (`Writable.cork`) from the first statement of a turn of the event loop to the end of it
 * (`process.nextTick`, which runs once the microtasks are done, where the callers resumed by one answer queue their
 * next statements), so the statements sent on it meanwhile go out in one write: one system call and one server
 * wakeup, where each cost its own. A driver that corks around each statement's messages itself (pg) keeps doing so
 * inside: only the last uncork writes.
 */

/** A socket whose writes can be held. */
export interface Corkable {
  readonly cork?: (() => void) | undefined
  readonly uncork?: (() => void) | undefined
}

/** A connection's writes of the current turn, held until its end. */
export class TurnWrites {
  private holding: Corkable | undefined = undefined

  /** Holds `stream`'s writes until the end of this turn (once per turn; a socket that cannot cork is left as it is). */
  hold(stream: Corkable | undefined): void {
    if (this.holding !== undefined || stream?.cork === undefined) return
    stream.cork()
    this.holding = stream
    process.nextTick(release, this)
  }

  /** The end of the turn: what was held goes out. */
  release(): void {
    const stream = this.holding
    this.holding = undefined
    stream?.uncork?.()
  }
}

const release = (writes: TurnWrites) => writes.release()
