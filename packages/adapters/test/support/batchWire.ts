/**
 * A batch behind a pooler driven by hand (`pgBatch.ts`): a wire that records what its statements write, and the
 * server's answers fed to the batch one message at a time.
 */
import type Pg from "pg"
import type { Entry, Wire } from "../../src/internal/pgBatch.js"
import { Batch } from "../../src/internal/pgBatch.js"

/**
 * A wire that records what is written, as `P text`, `B`, `D`, `E`, `C` (Close) and `S` (Sync). A class, as pg's
 * connection is: a batch shadows `sync` on the instance while it writes and falls back to the prototype's.
 */
class RecordingWire {
  readonly written: Array<string> = []
  readonly parsedStatements = {}
  readonly submittedNamedStatements = {}
  readonly stream = {}
  parse(q: { text: string }) {
    this.written.push(`P ${q.text}`)
  }
  bind(config: { values?: ReadonlyArray<unknown>; valueMapper?: (v: unknown, i: number) => unknown }) {
    // As pg's writer: each value through the mapper, which throws for a value it cannot send.
    config.values?.forEach((v, i) => config.valueMapper?.(v, i))
    this.written.push("B")
  }
  describe() {
    this.written.push("D")
  }
  execute() {
    this.written.push("E")
  }
  close() {
    this.written.push("C")
  }
  flush() {}
  sync() {
    this.written.push("S")
  }
}

/** A recording wire, as a batch takes it, and what was written on it. */
export const recordingWire = () => {
  const wire = new RecordingWire()
  return { wire: wire as unknown as Wire, written: wire.written }
}

/** A batch of `entries`; what its end reported. */
export const batchOf = (entries: ReadonlyArray<Entry>) => {
  const ends: Array<{ skipped: number; broken: Error | undefined; rollback: boolean }> = []
  const batch = new Batch(entries, {} as Pg.PoolClient, (_, skipped, broken, rollback) => {
    ends.push({ skipped: skipped.length, broken, rollback })
  })
  return { batch, ends }
}

/** The server's CommandComplete of `text`. */
export const complete = (batch: Batch, text: string) => batch.handleCommandComplete({ text }, undefined)
/** A server's refusal with its SQLSTATE. */
export const serverError = (code: string) => Object.assign(new Error(`server says ${code}`), { code })
