/**
 * `query.stream()`: matching rows read through a server-side cursor and decoded chunk by chunk, on the client
 * `engine.withClient` would pick, so a stream is routed like every read.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as CompiledStatement from "../CompiledStatement.js"
import * as CompiledStream from "../CompiledStream.js"
import { ReadConnection, WriteConnection, WriteOnly } from "../Connections.js"
import { connectionErrorOf, MissingWriteConnection } from "../Errors.js"
import type { RowsDecoder } from "./decodeRows.js"
import type { QueryState } from "./engine.js"
import * as engine from "./engine.js"
import * as Sql from "./sql.js"
import * as Shape from "./sqlShape.js"

/** The client a stream runs on, chosen as `engine.withClient` chooses. */
const streamClient = (
  mode: "read" | "write",
  name: string
): Effect.Effect<SqlClient.SqlClient, MissingWriteConnection, ReadConnection | WriteConnection> => {
  if (mode === "write") return WriteConnection
  return Effect.withFiberRuntime((fiber) => {
    const context = fiber.currentContext
    if (!Context.get(context, WriteOnly)) return ReadConnection
    const client = Context.getOption(context, WriteConnection)
    return Option.isSome(client)
      ? Effect.succeed(client.value)
      : Effect.fail(new MissingWriteConnection({ operation: name }))
  })
}

/** The rows of a chunk of batches, decoded (one batch per chunk, as a connection's stream gives them). */
const decodeBatches = (decode: RowsDecoder, batches: Chunk.Chunk<ReadonlyArray<any>>) =>
  batches.length === 1
    ? Effect.map(decode(Chunk.unsafeHead(batches)), Chunk.unsafeFromArray)
    : Effect.map(Effect.forEach(batches, decode), (decoded) => Chunk.unsafeFromArray(decoded.flat()))

/**
 * Matching rows as a stream, read through a server-side cursor (pg-cursor, mysql2's row stream, SQLite's
 * iteration), decoded chunk by chunk. Placed like any read, but never retried: rows already delivered cannot be
 * taken back (README, "Routing").
 */
export const stream = (state: QueryState) => {
  const name = `${state.info.table}.stream`
  return Stream.unwrap(
    Effect.zipRight(
      engine.guard(state),
      Effect.map(streamClient(state.mode, name), (sql) => {
        const dialect = engine.dialectOf(sql)
        const s = engine.selectOf(state)
        const statement = engine.compiled(
          state.info,
          dialect,
          `select|${Shape.selectShape(dialect, s)}`,
          () => Sql.select(dialect, s)
        )
        const decode = state.info.decoderFor(state.columns)
        // A batch at a time, as arrays where the connection gives them: the decoder reads them by column.
        const rows = CompiledStream.stream(
          sql,
          CompiledStatement.asArrays(statement),
          engine.selectParams(dialect, s)
        ).pipe(
          Stream.mapChunksEffect((batches) => decodeBatches(decode, batches))
        )
        const forced = state.mode === "write" ? Stream.provideService(rows, WriteOnly, true) : rows
        return Stream.catchAll(forced, (error) => {
          const lifted = connectionErrorOf(error)
          return Stream.fail(Option.isSome(lifted) ? lifted.value : error)
        })
      })
    )
  )
}
