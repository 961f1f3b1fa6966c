/**
 * Which queued mysql2 command is written at once on a busy connection (`startQueued`), as a table over a fake
 * connection and fake commands: what was started, what stays in mysql2's queue, and the packet count the answer being
 * read keeps. No server.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Wire } from "../src/internal/mysqlPipeline.js"
import { startQueued } from "../src/internal/mysqlPipeline.js"

const CACHED = "SELECT 1"

/** A fake mysql2 command: records its start, and whether it fails before writing (mysql2 told its callback). */
class FakeCommand {
  next: ((packet: unknown, connection: Wire) => unknown) | null = null
  started = 0
  constructor(readonly options: { readonly sql: string } | undefined, private readonly failsAtStart = false) {}
  execute(packet: unknown, connection: Wire): boolean {
    if (this.next === null) {
      // mysql2's Command.execute resets the count of packets at a command's start.
      connection.sequenceId = 0
      this.started++
      if (this.failsAtStart) return true
      this.next = this.writes(connection)
      return this.next === null
    }
    this.next = this.next(packet, connection) as typeof this.next
    return this.next === null
  }
  /** A start that writes one packet; a `Prepare` of a cached statement writes nothing and is done. */
  protected writes(connection: Wire): FakeCommand["next"] {
    connection.sequenceId++
    return () => null
  }
}
class Query extends FakeCommand {}
class Execute extends FakeCommand {}
class Prepare extends FakeCommand {
  protected override writes(connection: Wire): FakeCommand["next"] {
    if (this.options?.sql === CACHED) return null
    connection.sequenceId++
    return () => null
  }
}

/** A fake busy connection: the current command, the queue, the statements it has prepared. */
const wire = (queue: Array<FakeCommand>, options: { compress?: boolean; idle?: boolean } = {}) => {
  const w = {
    sequenceId: 3,
    _command: options.idle ? null : new Query(undefined),
    _commands: {
      get length() {
        return queue.length
      },
      peekAt: (i: number) => queue[i],
      removeOne: (i: number) => queue.splice(i, 1)
    },
    _statements: new Set([CACHED]),
    config: { compress: options.compress ?? false },
    constructor: { statementKey: (o: { sql: string }) => o.sql }
  }
  return w as unknown as Wire & { readonly sequenceId: number }
}

/** A command already started ahead (its state set). */
const started = () => Object.assign(new Query(undefined), { next: () => null })

describe("startQueued", () => {
  const rows: ReadonlyArray<
    [string, () => { queue: Array<FakeCommand>; w: ReturnType<typeof wire> }, boolean, number, number]
  > = [
    [
      "a text query behind the current command goes at once",
      () => {
        const queue: Array<FakeCommand> = [new Query({ sql: "SELECT 2" })]
        return { queue, w: wire(queue) }
      },
      true,
      1,
      1
    ],
    [
      "a cached statement: its Prepare is done and leaves the queue, the Execute goes",
      () => {
        const queue: Array<FakeCommand> = [new Prepare({ sql: CACHED }), new Execute({ sql: CACHED })]
        return { queue, w: wire(queue) }
      },
      true,
      1,
      1
    ],
    [
      "behind commands started ahead, it goes too",
      () => {
        const queue: Array<FakeCommand> = [started(), started(), new Query({ sql: "SELECT 2" })]
        return { queue, w: wire(queue) }
      },
      true,
      3,
      1
    ],
    [
      "a statement not prepared on the connection waits for its Prepare's answer",
      () => {
        const queue: Array<FakeCommand> = [new Prepare({ sql: "SELECT 3" }), new Execute({ sql: "SELECT 3" })]
        return { queue, w: wire(queue) }
      },
      false,
      2,
      0
    ],
    [
      "behind a command not started, nothing may overtake it",
      () => {
        const queue: Array<FakeCommand> = [new Query({ sql: "SELECT 2" }), new Query({ sql: "SELECT 4" })]
        return { queue, w: wire(queue) }
      },
      false,
      2,
      0
    ],
    [
      "an Execute whose Prepare is being answered waits for it",
      () => {
        const queue: Array<FakeCommand> = [new Execute({ sql: "SELECT 3" })]
        return { queue, w: wire(queue) }
      },
      false,
      1,
      0
    ],
    [
      "an idle connection: mysql2 wrote it itself",
      () => {
        const queue: Array<FakeCommand> = [new Query({ sql: "SELECT 2" })]
        return { queue, w: wire(queue, { idle: true }) }
      },
      false,
      1,
      0
    ],
    [
      "a compressed connection is never pipelined",
      () => {
        const queue: Array<FakeCommand> = [new Query({ sql: "SELECT 2" })]
        return { queue, w: wire(queue, { compress: true }) }
      },
      false,
      1,
      0
    ],
    [
      "a command that fails before writing leaves the queue (its callback was told)",
      () => {
        const queue: Array<FakeCommand> = [new Query({ sql: "SELECT 2" }, true)]
        return { queue, w: wire(queue) }
      },
      true,
      0,
      1
    ]
  ]
  for (const [why, setUp, went, left, starts] of rows) {
    it(why, () => {
      const { queue, w } = setUp()
      const last = queue[queue.length - 1]!
      expect(startQueued(w)).toBe(went)
      expect(queue.length).toBe(left)
      expect(last.started).toBe(starts)
      // The answer being read keeps its place in the count of packets, whatever was written.
      expect(w.sequenceId).toBe(3)
    })
  }

  it("a command started ahead takes its turn without a packet, its answer numbered from 1", () => {
    const queue: Array<FakeCommand> = [new Query({ sql: "SELECT 2" })]
    const w = wire(queue)
    startQueued(w)
    const command = queue[0]! // mysql2 hands the turn: count reset, no packet.
    ;(w as { sequenceId: number }).sequenceId = 0
    expect(command.execute(undefined, w)).toBe(false)
    expect(w.sequenceId).toBe(1)
    expect(command.started).toBe(1)
    // Its answer then runs through the state its start left.
    expect(command.execute({}, w)).toBe(true)
  })
})
