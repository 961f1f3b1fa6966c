/**
 * The cluster's Promise-based controls and queries, for tests written as Effects: a rejection is a defect, so the test
 * fails with the control's own message (node name, driver code, no password).
 */
import * as Effect from "effect/Effect"
import { adminQuery } from "./cluster/sql.js"
import type { NodeInfo } from "./cluster/types.js"

/** Runs a promise-returning cluster control (`stopNode`, `pauseReplay`, ...) as an Effect. */
export const control = (f: () => Promise<unknown>): Effect.Effect<void> => Effect.asVoid(Effect.promise(f))

/** `adminQuery` as an Effect: one statement as the node's admin, in the app database; its rows. */
export const admin = <R = Record<string, unknown>>(
  node: NodeInfo,
  sql: string,
  params: ReadonlyArray<unknown> = []
): Effect.Effect<Array<R>> => Effect.promise(() => adminQuery<R>(node, sql, params))
