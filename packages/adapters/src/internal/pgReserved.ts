/**
 * A PostgreSQL connection reserved for a scope (a transaction, a stream): one pg client checked out until the scope
 * ends, retired instead of returned if it broke. A transaction's `BEGIN` is not sent when asked: it waits for the
 * first statement and travels in front of it (`pgBegin.ts`, ARCHITECTURE.md "Transactions on PostgreSQL").
 */
import { SqlError } from "@effect/sql/SqlError"
import type { CompiledStatement, ConnectionWrapper, HeldConnection } from "@fastorm/core"
import { Connections } from "@fastorm/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type Pg from "pg"
import type Cursor from "pg-cursor"
import type { PostgresOptimalConfig } from "../OptimalConfig.js"
import { cancellable } from "./cancellable.js"
import { settle } from "./deadline.js"
import type { InFlight } from "./inFlight.js"
import { canCarryBegin, isBegin, isRollback, withBegin } from "./pgBegin.js"
import type { StreamRows } from "./pgCursor.js"
import { streamOn } from "./pgCursor.js"
import type { NodePool } from "./pgPool.js"
import * as Prepared from "./pgPrepared.js"
import { openingStatements, transactionSettings } from "./pgSession.js"
import { acquireError, submitWithin } from "./pgSubmit.js"
import { acquireReleaseSync } from "./scopedRelease.js"

/** A client checked out for a scope; `broken` is why it must not go back to the pool. */
export interface Held {
  readonly client: Pg.PoolClient
  broken: Error | undefined
}

type Checked = Held & { readonly release: (e?: Error) => void }

/** A checked-out client: an instance of a class, as it lives as long as its transaction (BENCHMARKS.md, lever 24). */
class CheckedClient implements Checked {
  broken: Error | undefined = undefined
  constructor(readonly client: Pg.PoolClient, readonly release: (e?: Error) => void) {}
}

/**
 * Checks a client out and makes `as` of it, in the pool's callback. Its callers run it uninterruptibly
 * (`acquireReleaseSync`, `Connections.Holds`): a client must not be lost between its check-out and its release's
 * registration.
 */
const checkOutAs = <A>(pool: NodePool, alias: string, as: (held: Checked) => A): Effect.Effect<A, SqlError> =>
  cancellable<A, SqlError>((resume) => {
    const guard = settle()
    pool.connect((error, client, release) => {
      if (!guard.claim()) {
        if (!error && client) release()
        return
      }
      if (error || client === undefined) {
        return resume(Effect.fail(acquireError(alias, error ?? new Error("no client"))))
      }
      const held = new CheckedClient(client, release)
      client.on("error", (cause: Error) => {
        held.broken = cause
      })
      // What the caller makes of it, in this callback: no `map` over the checkout.
      resume(Effect.succeed(as(held)))
    })
    return () => {
      guard.claim()
    }
  })

/** Gives the client back to the pool, or destroys it if it broke. */
const giveBack = (held: Checked): void => {
  held.client.removeAllListeners("error")
  held.release(held.broken)
}

/** Checks a client out for the scope and gives it back (or destroys it, if it broke) when the scope ends. */
export const reserveClient = (pool: NodePool, alias: string): Effect.Effect<Held, SqlError, Scope.Scope> =>
  acquireReleaseSync(checkOutAs(pool, alias, (held): Checked => held), giveBack)

/** What a reserved connection needs from its node's client. */
export interface ReservedOptions {
  readonly pool: NodePool
  readonly Query: typeof Pg.Query
  readonly Cursor: typeof Cursor
  readonly alias: string
  readonly config: PostgresOptimalConfig
  /** The client-side deadline of each statement (`clientDeadlineMs`). */
  readonly deadlineMs: number
  /** Held for streams of reads: the node's reads in flight, whose `cutAll` ends them at once (`streamOn`). */
  readonly tracked?: InFlight | undefined
  /** Whether the session carries no settings (a pooler in front): each transaction then sets them. */
  readonly behindPooler: () => boolean
  /**
   * The node's statements over `run` and `stream`. `run` keeps a statement's name when it carries the transaction's
   * BEGIN, or when it cannot be refused for its name later in the transaction (`Prepared.keepsNameLater`); any other
   * runs unnamed.
   */
  readonly connection: (
    run: Prepared.Run,
    stream: StreamRows,
    unprepared: ConnectionWrapper.Unprepared
  ) => CompiledStatement.CountingConnection
}

const notQueryable = () =>
  new SqlError({
    message: "Failed to execute statement",
    cause: new Error("Client has encountered a connection error and is not queryable")
  })

/**
 * The statement without its name. In a transaction, a statement that carries BEGIN may run prepared: refused there (a
 * plan made stale by a schema change, 0A000; a pooler's shared server), it is tried again in a transaction opened
 * afresh. A later one keeps its name only where it cannot be refused for it (`Prepared.keepsNameLater`).
 */
const unnamed = (query: Pg.QueryConfig): Pg.QueryConfig => {
  if (query.name === undefined) return query
  const { name: _, ...rest } = query
  return rest
}

/**
 * A connection held until its `release` (`Connections.Holds`; `NodeClient.scopedHold` makes a scope's of it), with
 * its transaction's `BEGIN` sent in front of the first statement.
 */
export const make = (options: ReservedOptions): Effect.Effect<HeldConnection, SqlError> => {
  const { alias, deadlineMs } = options
  // The timeouts a transaction sets behind a pooler: the same text for every transaction of the node.
  const settings = transactionSettings(options.config)

  /** One statement on a checked-out client, within the deadline; `retire` is told when the client must go. */
  const send = <A>(
    client: Pg.PoolClient,
    query: Pg.QueryConfig | Pg.Query,
    map: (result: any) => A,
    retire: (cause: Error | undefined) => void
  ) =>
    cancellable<A, SqlError>((resume) => {
      const guard = settle()
      const timer = submitWithin(client, query, map, { alias, deadlineMs, guard, Query: options.Query }, resume, retire)
      return () => {
        // Interrupted: the statement may still run; this connection must not serve anyone else.
        if (!guard.claim()) return
        clearTimeout(timer)
        retire(new Error("statement interrupted"))
      }
    })

  return checkOutAs(options.pool, alias, (held): HeldConnection => {
    // Told after every statement: an error means the client broke and must not go back to the pool.
    const retire = (cause: Error | undefined) => {
      if (cause !== undefined) held.broken = cause
    }
    // The transaction's opening statements, not sent yet: they travel in front of the first statement (`pgBegin.ts`).
    let begin: ReadonlyArray<string> | undefined
    const sendBegin = (opening: ReadonlyArray<string>) =>
      send(held.client, { text: opening.join("; ") }, () => undefined, retire)
    /** The statements held back, if any, now to be sent: they go once. */
    const takeBegin = (): ReadonlyArray<string> | undefined => {
      const opening = begin
      begin = undefined
      return opening
    }
    /**
     * A prepared statement that carried BEGIN, refused (a stale plan, parameter types that may be stale, a pooler's
     * shared server): BEGIN ran and the transaction is aborted, with nothing of the caller's in it. Rolled back, BEGIN
     * waits again for the try that follows (`Prepared.triesAgain`), so the retry is as transparent as outside a
     * transaction.
     */
    const reopenFor = (opening: ReadonlyArray<string>) => (error: SqlError): Effect.Effect<void> =>
      Prepared.triesAgain(error) && held.broken === undefined
        ? Effect.ignore(Effect.zipRight(
          send(held.client, { text: "ROLLBACK" }, () => undefined, retire),
          Effect.sync(() => {
            begin = opening
          })
        ))
        : Effect.void
    // Whether a later statement goes under its name: one rule for the send and for the answer after a failure.
    const keepsName = (sql: string) =>
      Prepared.keepsNameLater(sql, options.pool.direct(held.client), options.config.preparedStatements)
    const runHeld: Prepared.Run = (query, map) =>
      Effect.suspend(() => {
        if (held.broken !== undefined) return Effect.fail(notQueryable())
        const opening = takeBegin()
        if (opening === undefined) {
          return send(
            held.client,
            query.name !== undefined && keepsName(query.text) ? query : unnamed(query),
            map,
            retire
          )
        }
        if (!canCarryBegin(query)) {
          return Effect.zipRight(sendBegin(opening), send(held.client, unnamed(query), map, retire))
        }
        const carried = send(held.client, withBegin(options.Query, query, opening), map, retire)
        return query.name === undefined ? carried : Effect.tapError(carried, reopenFor(opening))
      })
    // After a failure another try can run only if BEGIN is held back again (`reopenFor`); otherwise the failure aborted
    // the open transaction, and nothing can be tried again in it. Whether the statement went under its name follows
    // from the statement, as `runHeld` decided it (the one that opened the transaction unnamed had no parameters, and
    // `Prepared` asks only about statements with some).
    const run: Prepared.Run = Object.assign(runHeld, {
      afterFailure: (sql: string) =>
        begin !== undefined ? "retry" as const : keepsName(sql) ? "named" as const : "unnamed" as const
    })
    const flushBegin = Effect.suspend(() => {
      const opening = takeBegin()
      return opening === undefined ? Effect.void : sendBegin(opening)
    })
    // The transaction's own executeUnprepared: BEGIN held back, with the timeouts behind a pooler (whose sessions
    // carry none: the transaction gets them, and they end with it).
    const unprepared: ConnectionWrapper.Unprepared = (plain) => (sql, params, transformRows) => {
      if (params.length === 0 && isBegin(sql) && held.broken === undefined) {
        return Effect.sync(() => {
          begin = openingStatements(sql, settings, options.behindPooler())
          return []
        })
      }
      // Nothing was sent since BEGIN: there is nothing to roll back.
      if (begin !== undefined && isRollback(sql)) {
        return Effect.sync(() => {
          begin = undefined
          return []
        })
      }
      return plain(sql, params, transformRows)
    }
    const connection = options.connection(
      run,
      (sql, params, arrays) =>
        Stream.unwrapScoped(
          Effect.zipRight(
            flushBegin,
            streamOn(options.Cursor, held, sql, params, alias, deadlineMs, options.tracked, arrays)
          )
        ),
      unprepared
    )
    return Connections.heldConnection(connection, () => Effect.sync(() => giveBack(held)))
  })
}
