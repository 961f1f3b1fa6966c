/**
 * A statement sent in front of another whose rows the caller wants as well: a session read's replay poll, answered
 * by the replica in the read's own round trip (ARCHITECTURE.md, "Read-your-writes"). Both travel in one write, closed
 * by the read's Sync; under READ COMMITTED each statement takes its own snapshot, the read's after the poll's, so a
 * poll that shows the session's writes replayed proves that the read saw them.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type Pg from "pg"
import type { TextRow } from "../DatabaseAdapter.js"
import { canCarryBegin } from "./pgBegin.js"
import type { Run } from "./pgPrepared.js"
import { rowsOf } from "./pgRows.js"

/**
 * `run` with `lead` (SQL without parameters) sent in front of each query and its rows, as arrays of text, handed to
 * `onRows` before the query's result: in the query's own round trip where the query uses the extended protocol
 * (`canCarryBegin`), through `carry`, else as a query of its own just before it. A failure of either is the query's.
 */
export const leading = (
  run: Run,
  carry: Run,
  lead: string,
  onRows: (rows: ReadonlyArray<TextRow>) => void
): Run =>
<A>(query: Pg.QueryConfig, map: (result: any) => A): Effect.Effect<A, SqlError> =>
  canCarryBegin(query)
    ? carry(query, map)
    : Effect.flatMap(run({ text: lead, rowMode: "array" } as Pg.QueryConfig, rowsOf), (rows) => {
      onRows(rows)
      return run(query, map)
    })
