/**
 * A `Connection` (@effect/sql's five statement methods, and compiled statements) whose every statement runs through one
 * function: the shape of every router, recorder or guard that decides, per statement, which connection runs it and
 * what happens around.
 */
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import * as CompiledStatement from "./CompiledStatement.js"

/** Runs one statement, given its SQL and parameters, on the connection the wrapper chooses. */
export type Around = <A>(
  sql: string,
  params: ReadonlyArray<unknown>,
  run: (connection: Connection) => Effect.Effect<A, SqlError>
) => Effect.Effect<A, SqlError>

/** Runs one streamed statement on the connection the wrapper chooses. */
export type AroundStream = (
  sql: string,
  params: ReadonlyArray<unknown>,
  run: (connection: Connection) => Stream.Stream<any, SqlError>
) => Stream.Stream<any, SqlError>

/** Replaces a connection's `executeUnprepared`, given its plain one (a transaction's BEGIN or COMMIT doing more). */
export type Unprepared = (plain: Connection["executeUnprepared"]) => Connection["executeUnprepared"]

/**
 * The wrapper's connection: an instance of a class, not an object literal, so V8 never allocates it in the old
 * generation by its allocation site (one is made per transaction, and an old one would keep its closures alive until
 * a full collection: BENCHMARKS.md, lever 24). Its methods are own fields, as a literal's were, so a caller may still
 * spread a connection or pass its methods on their own.
 */
class Wrapped implements CompiledStatement.CountingConnection {
  readonly execute: Connection["execute"]
  readonly executeRaw: Connection["executeRaw"]
  readonly executeValues: Connection["executeValues"]
  readonly executeUnprepared: Connection["executeUnprepared"]
  readonly executeStream: Connection["executeStream"]
  // A compiled statement runs as the chosen connection runs one: prepared where it prepares (a transaction's own
  // connection too, BENCHMARKS.md lever 34), as ordinary SQL where it does not.
  readonly executePrepared: CompiledStatement.CountingConnection["executePrepared"]
  readonly executeCounted: CompiledStatement.CountingConnection["executeCounted"]
  constructor(statement: Around, stream: AroundStream, unprepared: Unprepared | undefined) {
    this.execute = (sql, params, transformRows) => statement(sql, params, (c) => c.execute(sql, params, transformRows))
    this.executeRaw = (sql, params) => statement(sql, params, (c) => c.executeRaw(sql, params))
    this.executeValues = (sql, params) => statement(sql, params, (c) => c.executeValues(sql, params))
    const plain: Connection["executeUnprepared"] = (sql, params, transformRows) =>
      statement(sql, params, (c) => c.executeUnprepared(sql, params, transformRows))
    this.executeUnprepared = unprepared === undefined ? plain : unprepared(plain)
    this.executeStream = (sql, params, transformRows) =>
      stream(sql, params, (c) => c.executeStream(sql, params, transformRows))
    this.executePrepared = (compiled, params) =>
      statement(compiled.sql, params, (c) => CompiledStatement.executeOn(c, compiled, params))
    this.executeCounted = (compiled, params) =>
      statement(compiled.sql, params, (c) => CompiledStatement.countOn(c, compiled, params))
  }
}

/**
 * The connection whose statements run through `statement` and whose streams run through `stream`; `unprepared`, if
 * given, replaces its `executeUnprepared`.
 */
export const make = (statement: Around, stream: AroundStream, unprepared?: Unprepared): Connection =>
  new Wrapped(statement, stream, unprepared)
