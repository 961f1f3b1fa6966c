/**
 * Reader threads of a read-only SQLite node: worker threads, each with its own read-only connection to the node's
 * file, that run the reads sqliteOffload.ts sends them. In WAL mode a reader sees every commit made before its
 * statement starts and never blocks the writer, so a read gives the same answer on any of them.
 *
 * The worker's code is a string (a worker from a file would need a path that differs between the sources, under
 * tsx, and the published JavaScript); it loads the same better-sqlite3 the node loaded, by its resolved path.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import { MAX_STATEMENTS } from "./sqliteStatements.js"

/**
 * What a reader thread answers: the statement's error, or the column names, the rows as arrays of values and the
 * run's µs; `stopped` when the thread stopped before answering (the read did not run, or its answer is lost).
 */
export type Done = (
  error: SqlError | undefined,
  names: ReadonlyArray<string>,
  values: Array<ReadonlyArray<unknown>>,
  micros: number,
  stopped?: boolean
) => void

/** A node's reader threads, started at the first read that would go to one (none for a client that never has one). */
export interface ReaderThreads {
  /** Whether a thread is ready to take a read: none before `ready` has started them and one has opened the file. */
  readonly available: () => boolean
  /**
   * Starts the threads, once, and waits until one is ready (true) or none can be (false); at once after that. A
   * thread that cannot open the file in 10 s is stopped, with a warning: its reads stay on the node's connection.
   */
  readonly ready: Effect.Effect<boolean>
  /** Runs a read on the least busy ready thread; `stopped` at once if there is none. */
  readonly run: (sql: string, params: ReadonlyArray<unknown>, safeIntegers: boolean, done: Done) => void
}

// Messages: to a thread [id, sql, params, safeIntegers]; from it [id, true, names, values, micros] or
// [id, false, { message, code }]. Id -1 is the thread's readiness (or its failure to open the file).
const workerSource = `
const { parentPort, workerData } = require("node:worker_threads")
const Database = require(workerData.driver)
const failure = (error) => ({ message: String(error && error.message), code: error && error.code })
let db
try {
  db = new Database(workerData.filename, { readonly: true, fileMustExist: true, timeout: workerData.busyTimeoutMs })
  for (const pragma of workerData.pragmas) db.exec(pragma)
  parentPort.postMessage([-1, true])
} catch (error) {
  parentPort.postMessage([-1, false, failure(error)])
  process.exit(1)
}
const cache = new Map()
parentPort.on("message", (message) => {
  const id = message[0]
  try {
    let entry = cache.get(message[1])
    if (entry === undefined) {
      if (cache.size >= workerData.maxStatements) cache.clear()
      const statement = db.prepare(message[1])
      statement.raw(true)
      entry = { statement, safe: false }
      cache.set(message[1], entry)
    }
    if (entry.safe !== message[3]) {
      entry.statement.safeIntegers(message[3])
      entry.safe = message[3]
    }
    const start = performance.now()
    const values = entry.statement.all(message[2])
    const micros = (performance.now() - start) * 1000
    parentPort.postMessage([id, true, entry.statement.columns().map((column) => column.name), values, micros])
  } catch (error) {
    parentPort.postMessage([id, false, failure(error)])
  }
})
`

/** What a reader thread needs to open its connection. */
export interface ThreadOptions {
  readonly filename: string
  readonly pragmas: ReadonlyArray<string>
  readonly busyTimeoutMs: number
}

// A thread opens a file that the node has already opened: it is ready in milliseconds, or something is wrong.
const START_TIMEOUT_MS = 10_000

/** An error a thread reported, with the driver's code (SQLITE_BUSY, ...) as the cause's. */
const sqlError = (failure: { readonly message: string; readonly code?: string }, message: string) =>
  new SqlError({ cause: Object.assign(new Error(failure.message), { code: failure.code }), message })

interface Thread {
  readonly worker: Worker
  readonly pending: Map<number, Done>
  /** Until it stops (it is not replaced: its reads run on the node's connection). */
  alive: boolean
  /** Once it has opened its connection. */
  ready: boolean
  /** Why it did not start, when it said so before it stopped. */
  failure: SqlError | undefined
}

/**
 * Starts one thread; `changed` hears when it is ready or has stopped, `failed` why it did not start, once, if it
 * stops before it is ready.
 */
const spawn = (
  driver: string,
  options: ThreadOptions,
  changed: () => void,
  failed: (error: SqlError) => void
): Thread => {
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: { driver, maxStatements: MAX_STATEMENTS, ...options }
  })
  const thread: Thread = { worker, pending: new Map(), alive: true, ready: false, failure: undefined }
  // Bounded: a thread not ready in time is stopped, which ends it as any stopped thread (below).
  const deadline = setTimeout(() => {
    if (!thread.ready) {
      thread.failure = new SqlError({ cause: undefined, message: "A SQLite reader thread did not start in 10 s" })
      void worker.terminate()
    }
  }, START_TIMEOUT_MS)
  deadline.unref()
  // Idle threads do not keep the process alive; a thread with reads to answer does (`run`).
  worker.unref()
  worker.on("message", (message: [number, boolean, any, any?, number?]) => {
    if (message[0] === -1) {
      clearTimeout(deadline)
      // A thread that could not open the file exits next: it is then stopped (below).
      if (message[1]) {
        thread.ready = true
        changed()
      } else {
        thread.failure = sqlError(message[2], "Failed to open the SQLite database on a reader thread")
      }
      return
    }
    const done = thread.pending.get(message[0])
    if (done === undefined) return
    thread.pending.delete(message[0])
    if (thread.pending.size === 0) worker.unref()
    if (message[1]) done(undefined, message[2], message[3], message[4]!)
    else done(sqlError(message[2], "Failed to execute statement"), [], [], 0)
  })
  const stopped = (cause: unknown) => {
    if (!thread.alive) return
    thread.alive = false
    clearTimeout(deadline)
    if (!thread.ready) {
      failed(thread.failure ?? new SqlError({ cause, message: "A SQLite reader thread failed to start" }))
    }
    for (const done of thread.pending.values()) {
      done(new SqlError({ cause, message: "A SQLite reader thread stopped" }), [], [], 0, true)
    }
    thread.pending.clear()
    changed()
  }
  worker.on("error", stopped)
  worker.on("exit", (code) => stopped(new Error(`the thread exited with code ${code}`)))
  return thread
}

const resolveDriver = (): string | undefined => {
  try {
    return createRequire(import.meta.url).resolve("better-sqlite3")
  } catch {
    return undefined
  }
}

const noThread = (done: Done) =>
  done(new SqlError({ cause: undefined, message: "No SQLite reader thread is running" }), [], [], 0, true)

/** No threads: every read runs on the client's own connection. */
const none: ReaderThreads = {
  available: () => false,
  ready: Effect.succeed(false),
  run: (_sql, _params, _safe, done) => noThread(done)
}

/**
 * `count` reader threads, started by `ready` and stopped with the scope; none if the driver has no file a thread
 * could load. Starting them costs tens of milliseconds and a connection each: a client without a slow read never does.
 * `driverFile` finds that file (a test stands in for a bundle that has none).
 */
export const make = (
  count: number,
  options: ThreadOptions,
  driverFile: () => string | undefined = resolveDriver
): Effect.Effect<ReaderThreads, never, Scope.Scope> =>
  Effect.gen(function*() {
    // The better-sqlite3 this package loads (Drivers.sqlite), found from here as an import would find it. A bundle
    // may have no such file to find: then the client has no threads and runs every read on its own connection.
    const driver = driverFile()
    if (driver === undefined) {
      yield* Effect.logDebug("better-sqlite3 has no file a reader thread could load: reads stay on the event loop")
      return none
    }
    // A thread's failure is heard in a worker's event, outside any fiber: its warning goes through this runtime.
    const runtime = yield* Effect.runtime<never>()
    const threads: Array<Thread> = []
    // Whether a thread is ready (true) or none can be (false), once known.
    const settled = Deferred.unsafeMake<boolean>(FiberId.none)
    const changed = () => {
      if (threads.some((thread) => thread.ready && thread.alive)) Deferred.unsafeDone(settled, Exit.succeed(true))
      else if (threads.every((thread) => !thread.alive)) Deferred.unsafeDone(settled, Exit.succeed(false))
    }
    let closed = false
    let warned = false
    // Once per client, and not for a thread stopped by the scope's end before it was ready.
    const warn = (error: SqlError) => {
      if (closed || warned) return
      warned = true
      Runtime.runFork(runtime)(
        Effect.logWarning("A SQLite reader thread did not start: its reads run on the client's connection", error)
      )
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => {
        closed = true
        Deferred.unsafeDone(settled, Exit.succeed(false))
        return Promise.all(threads.map((thread) => thread.worker.terminate()))
      })
    )
    let nextId = 0

    const ready = Effect.suspend(() => {
      if (!closed && threads.length === 0) {
        for (let i = 0; i < count; i++) threads.push(spawn(driver, options, changed, warn))
      }
      return Deferred.await(settled)
    })
    const run = (sql: string, params: ReadonlyArray<unknown>, safeIntegers: boolean, done: Done) => {
      let best: Thread | undefined
      for (const thread of threads) {
        if (thread.alive && thread.ready && (best === undefined || thread.pending.size < best.pending.size)) {
          best = thread
        }
      }
      if (best === undefined) return noThread(done)
      const id = nextId++
      try {
        // Parameters are copied to the thread: a value that cannot be copied fails here, as a bad parameter.
        best.worker.postMessage([id, sql, params, safeIntegers])
      } catch (cause) {
        done(new SqlError({ cause, message: "Failed to execute statement" }), [], [], 0)
        return
      }
      if (best.pending.size === 0) best.worker.ref()
      best.pending.set(id, done)
    }
    return { available: () => threads.some((thread) => thread.alive && thread.ready), ready, run }
  })
