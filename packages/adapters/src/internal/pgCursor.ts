/**
 * A statement's rows streamed through pg-cursor on a reserved client (`pgReserved.ts`), a bounded read at a time.
 */
import { SqlError } from "@effect/sql/SqlError"
import { CompiledStatement } from "@fastorm/core"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type Pg from "pg"
import type Cursor from "pg-cursor"
import { cancellable } from "./cancellable.js"
import { settle, timeoutError } from "./deadline.js"
import type { InFlight } from "./inFlight.js"
import { cutError } from "./inFlight.js"
import type { Held } from "./pgReserved.js"

/**
 * Waits for `start`'s answer at most `ms`; past it, `expire` (called then) gives the outcome and a later answer is
 * ignored. An interruption only stops the wait: what `start` sent is left to finish on the connection.
 */
const boundedWait = <A, E>(
  ms: number,
  start: (answer: (outcome: Effect.Effect<A, E>) => void) => void,
  expire: () => Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  cancellable<A, E>((resume) => {
    const guard = settle()
    const timer = setTimeout(() => {
      if (guard.claim()) resume(expire())
    }, ms)
    start((outcome) => {
      if (!guard.claim()) return
      clearTimeout(timer)
      resume(outcome)
    })
    return () => {
      if (guard.claim()) clearTimeout(timer)
    }
  })

/**
 * Rows per cursor read: at 128 a consumer with an Effect per row cost about half as much again per row (young objects
 * promoted, BENCHMARKS.md lever 33). pg-cursor cannot bound a read by bytes: one read holds 512 rows in memory.
 */
const CURSOR_ROWS = 512

/**
 * The rows of `sql` read through a cursor on `held`'s client, `CURSOR_ROWS` at a time (with `arrays`, pg's array row
 * mode: each chunk's array marked with its columns, for `CompiledStream.batchesOf`); the cursor closes with the scope.
 * Each read waits at most `deadlineMs` for its rows, and the close as long: past it (a server that stopped answering) the
 * client is marked broken, so it is destroyed, not given back, and nothing more is sent on it (ARCHITECTURE.md,
 * "Deadlines"). An interrupted read leaves the client usable: the cursor's close follows its rows on the connection
 * (a transaction streaming through a buffer goes on). A stream of reads (`tracked`: its node's reads in flight) is
 * ended at once by their `cutAll`: the client is marked broken (destroyed, no close sent) and a waiting read fails.
 */
export const streamOn = (
  CursorClass: typeof Cursor,
  held: Held,
  sql: string,
  params: ReadonlyArray<unknown>,
  alias: string,
  deadlineMs: number,
  tracked: InFlight | undefined,
  arrays: boolean
): Effect.Effect<Stream.Stream<any, SqlError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const cursor = held.client.query(
      arrays ? new CursorClass(sql, params as Array<any>, arrayRows) : new CursorClass(sql, params as Array<any>)
    )
    // The result's column names, read once from its description (the first batch's).
    let columns: ReadonlyArray<string> | undefined
    // The read waiting for rows, if any: a cut answers it.
    let waiting: ((outcome: Effect.Effect<never, Option.Option<SqlError>>) => void) | undefined
    // The cursor gave its last row: nothing left to end.
    let finished = false
    const unwatch = tracked?.watch(() => {
      if (finished || held.broken !== undefined) return false
      const error = cutError(alias)
      held.broken = error.cause as Error
      waiting?.(Effect.fail(Option.some(error)))
      return true
    })
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        unwatch?.()
        return held.broken !== undefined ? Effect.void : boundedWait<void, never>(
          deadlineMs,
          (answer) => cursor.close().catch(() => undefined).then(() => answer(Effect.void)),
          () => {
            held.broken = new Error("stream close deadline passed")
            return Effect.void
          }
        )
      })
    )
    const pull = Effect.suspend(() =>
      held.broken !== undefined
        ? Effect.fail(Option.some(new SqlError({ cause: held.broken, message: "Failed to stream" })))
        : boundedWait<Chunk.Chunk<any>, Option.Option<SqlError>>(
          deadlineMs,
          (answer) => {
            waiting = answer
            cursor.read(CURSOR_ROWS, (error: Error | undefined, rows: Array<any>, result?: Pg.QueryResult) => {
              waiting = undefined
              if (!error && rows.length === 0) finished = true
              if (error) {
                return answer(Effect.fail(Option.some(new SqlError({ cause: error, message: "Failed to stream" }))))
              }
              if (rows.length === 0) return answer(Effect.fail(Option.none()))
              if (arrays) {
                columns ??= (result?.fields ?? []).map((field) => field.name)
                CompiledStatement.withColumns(rows, columns)
              }
              answer(Effect.succeed(Chunk.unsafeFromArray(rows)))
            })
          },
          () => {
            held.broken = new Error("stream read deadline passed")
            return Effect.fail(Option.some(timeoutError(alias, deadlineMs)))
          }
        )
    )
    return Stream.repeatEffectChunkOption(pull)
  })

// pg-cursor's option for rows as arrays of values.
const arrayRows = { rowMode: "array" } as const

/** A statement's rows streamed in chunks, as arrays marked with their columns when `arrays` (`streamOn`). */
export type StreamRows = (sql: string, params: ReadonlyArray<unknown>, arrays: boolean) => Stream.Stream<any, SqlError>
