/**
 * The services every repository and query runs against. Core knows nothing of drivers or routing: the adapters and
 * replication packages (or `Testing`) provide these tags.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"

/** The client used for ordinary reads; may route each statement to a different replica. */
export class ReadConnection extends Context.Tag("@fastorm/core/ReadConnection")<
  ReadConnection,
  SqlClient.SqlClient
>() {}

/** The client of the primary: every write, every forced or locking read, and every transaction. */
export class WriteConnection extends Context.Tag("@fastorm/core/WriteConnection")<
  WriteConnection,
  SqlClient.SqlClient
>() {}

/**
 * While true, every read goes to the primary. Set by `Database.transaction`, `Database.forceWrite`, forced reads;
 * a routing `ReadConnection` checks it per statement.
 */
export class WriteOnly extends Context.Reference<WriteOnly>()("@fastorm/core/WriteOnly", {
  defaultValue: () => false
}) {}

/** What the primary's server can do; the adapters package provides it from the detected server version. */
export interface DialectFeaturesShape {
  /**
   * `INSERT ... RETURNING`. Undefined: decide by dialect (pg and sqlite yes, mysql no). MariaDB 10.5+ has it;
   * MySQL has none.
   */
  readonly supportsReturning?: boolean | undefined
  /** `UPDATE ... RETURNING`. Undefined: pg and sqlite yes, mysql no (MariaDB 10.11 has no UPDATE ... RETURNING). */
  readonly supportsUpdateReturning?: boolean | undefined
}

/** Server features of the primary that change the SQL core emits. */
export class DialectFeatures extends Context.Reference<DialectFeatures>()("@fastorm/core/DialectFeatures", {
  defaultValue: (): DialectFeaturesShape => ({})
}) {}

/** The node the reads of one unit of work keep to: set by the first read that a router places. */
export interface ReadPinShape {
  node: string | undefined
}

/**
 * While set, a routing `ReadConnection` runs every read of the unit of work (an eager load: its rows, then each
 * relation level) on the node it picked for the first, so the children match the parents; when that node cannot
 * serve, the read is placed as usual. Clients of one node ignore it.
 */
export class ReadPin extends Context.Reference<ReadPin>()("@fastorm/core/ReadPin", {
  defaultValue: (): ReadPinShape | undefined => undefined
}) {}

/** A connection held for one transaction, and how to give it back. */
export interface HeldConnection {
  readonly connection: Connection
  /**
   * Gives the connection back (a pool may drop it when `exit` failed); run once, when the transaction is over.
   */
  readonly release: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
}

/**
 * A held connection and its release. An instance of a class, not an object literal: it lives as long as its
 * transaction, and V8 may allocate a literal's objects in the old generation, where one would keep the transaction's
 * closures alive until a full collection (BENCHMARKS.md, lever 24).
 */
class Held implements HeldConnection {
  constructor(readonly connection: Connection, readonly release: HeldConnection["release"]) {}
}

/** A `HeldConnection` of `connection`, given back by `release`. */
export const heldConnection = (connection: Connection, release: HeldConnection["release"]): HeldConnection =>
  new Held(connection, release)

/** The key under which a client offers `Holds`. */
export const HoldTypeId: unique symbol = Symbol.for("@fastorm/core/Connections/Hold")

/**
 * A client that holds a connection with no `Scope` in the fiber's context: `Database.transaction` gives it back
 * itself, so it saves the scope and the context change `client.reserve` needs. The adapters' node clients offer it.
 * The hold is run uninterruptibly (no scope would give back a connection lost to an interruption after it).
 */
export interface Holds {
  readonly [HoldTypeId]: Effect.Effect<HeldConnection, SqlError>
}

/** The client's `Holds`, if it offers it. */
export const holdOf = (client: SqlClient.SqlClient): Effect.Effect<HeldConnection, SqlError> | undefined =>
  (client as Partial<Holds>)[HoldTypeId]
