/**
 * Test layers for users of @fastorm/core: a recording layer that shows where each statement ran. Connections to
 * record come from any layer; @fastorm/adapters' `SqliteTesting.layer` gives a writer and a read-only reader on one
 * SQLite file without a server.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ReadConnection, WriteConnection } from "./Connections.js"
import * as ConnectionWrapper from "./ConnectionWrapper.js"

/** One statement as seen by the recording layer. */
export interface StatementRecord {
  /** Which service's client the connection came from. */
  readonly role: "read" | "write"
  /** The alias given to that client (e.g. "primary", "replica-1"). */
  readonly alias: string
  /** A number per reserved connection: one pooled connection held for one statement, or for a whole transaction. */
  readonly connection: number
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
}

/** The log of the recording layer. */
export interface RecorderShape {
  /** Every statement so far, in order (recorded before it is sent, so failed statements appear too). */
  readonly records: Effect.Effect<ReadonlyArray<StatementRecord>>
  /** Forgets the records so far. */
  readonly clear: Effect.Effect<void>
}

/** Access to the statements recorded by `recording`. */
export class Recorder extends Context.Tag("@fastorm/core/Testing/Recorder")<Recorder, RecorderShape>() {}

/** Options of `recording`. */
export interface RecordingOptions {
  readonly readAlias?: string | undefined
  readonly writeAlias?: string | undefined
}

interface Log {
  readonly records: Array<StatementRecord>
  next: number
}

const wrapConnection = (
  connection: Connection,
  tag: Pick<StatementRecord, "role" | "alias" | "connection">,
  log: Log
): Connection => {
  const record = (sql: string, params: ReadonlyArray<unknown>) =>
    Effect.sync(() => {
      log.records.push({ ...tag, sql, params })
    })
  return ConnectionWrapper.make(
    (sql, params, run) => Effect.zipRight(record(sql, params), run(connection)),
    (sql, params, run) => Stream.concat(Stream.drain(Stream.fromEffect(record(sql, params))), run(connection))
  )
}

/**
 * A client that runs every statement on a connection reserved from `client` and records it. Its compiler and row
 * transforms are the wrapped client's own (read from a statement it builds, since the client does not expose them).
 */
const makeRecordingClient = (
  client: SqlClient.SqlClient,
  role: "read" | "write",
  alias: string,
  log: Log
): Effect.Effect<SqlClient.SqlClient, never, Reactivity.Reactivity> => {
  const probe = client.unsafe("SELECT 1") as unknown as {
    readonly compiler: SqlClient.SqlClient.MakeOptions["compiler"]
    readonly transformRows: SqlClient.SqlClient.MakeOptions["transformRows"]
  }
  const acquirer: Effect.Effect<Connection, SqlError, Scope.Scope> = Effect.map(
    client.reserve,
    (connection) => wrapConnection(connection, { role, alias, connection: ++log.next }, log)
  )
  return SqlClient.make({
    acquirer,
    transactionAcquirer: acquirer,
    compiler: probe.compiler,
    transformRows: probe.transformRows,
    spanAttributes: [["fastorm.alias", alias]]
  })
}

/**
 * Wraps the `ReadConnection` and `WriteConnection` provided to it and records, for each statement, which of them
 * it ran on (role, alias and connection number). `Database.transaction` reserves through the recorded write client,
 * so statements inside a transaction show the write role and one connection number.
 */
export const recording = (
  options?: RecordingOptions
): Layer.Layer<ReadConnection | WriteConnection | Recorder, never, ReadConnection | WriteConnection> =>
  Layer.effectContext(Effect.gen(function*() {
    const log: Log = { records: [], next: 0 }
    const read = yield* makeRecordingClient(yield* ReadConnection, "read", options?.readAlias ?? "read", log)
    const write = yield* makeRecordingClient(yield* WriteConnection, "write", options?.writeAlias ?? "write", log)
    return Context.make(ReadConnection, read).pipe(
      Context.add(WriteConnection, write),
      Context.add(Recorder, {
        records: Effect.sync(() => [...log.records]),
        clear: Effect.sync(() => {
          log.records.length = 0
        })
      })
    )
  })).pipe(Layer.provide(Reactivity.layer))
