/**
 * A PostgreSQL `SqlClient` over a pg pool that FastORM owns, with the @effect/sql-pg compiler.
 *
 * Why not `PgClient.make` / `fromPool`: `make` connects at start (a replica that is down must not fail the layer);
 * both interrupt a statement by sending a cancel through another connection and waiting for it, which a frozen server
 * never answers; and a statement deadline on top costs fibers. Here every statement carries a client-side deadline
 * (a timer in the driver callback: on expiry the connection is destroyed), and session settings travel in the
 * startup packet (`options=-c ...`), so they cost no round trip and hold on every connection the pool opens; behind a
 * pooler that refuses them they travel another way (`pgSession.ts`).
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import type { SqlError } from "@effect/sql/SqlError"
import type { CompiledStatement, ConnectionWrapper } from "@fastorm/core"
import { CompiledStream } from "@fastorm/core"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type Pg from "pg"
import type { DriverNotInstalled } from "../AdapterError.js"
import type { CommitPositions, NodeClient as Shape, PoolStatus, TextRow } from "../DatabaseAdapter.js"
import * as NodeClient from "../NodeClient.js"
import type { PostgresOptimalConfig } from "../OptimalConfig.js"
import { poolBounds } from "../OptimalConfig.js"
import { cancellable, type Register } from "./cancellable.js"
import { settle } from "./deadline.js"
import * as Drivers from "./drivers.js"
import { InFlight } from "./inFlight.js"
import type { Carried, CarriedWrite } from "./pgBatchedSubmit.js"
import { PLAIN_WRITE, submitBatched } from "./pgBatchedSubmit.js"
import { writeBatchable } from "./pgBatchedWrite.js"
import * as Batches from "./pgBatches.js"
import { withBegin } from "./pgBegin.js"
import * as PgCursor from "./pgCursor.js"
import * as Lanes from "./pgLanes.js"
import * as Lead from "./pgLead.js"
import * as NodePool from "./pgPool.js"
import type { PgEndpoint, PgNodeOptions } from "./pgPoolConfig.js"
import { clientDeadlineMs, poolConfig } from "./pgPoolConfig.js"
import * as Prepared from "./pgPrepared.js"
import * as Reserved from "./pgReserved.js"
import { rowsFor, rowsOf } from "./pgRows.js"
import { poolerRefusal, writeOpening } from "./pgSession.js"
import { acquireError, submitWithin } from "./pgSubmit.js"
import { endWithin } from "./scopedRelease.js"

/** Builds the client; no connection is opened until the first statement. */
export const make = (
  endpoint: PgEndpoint,
  config: PostgresOptimalConfig,
  options: PgNodeOptions
): Effect.Effect<Shape, DriverNotInstalled, Scope.Scope | Reactivity> =>
  Effect.gen(function*() {
    const { Cursor, Pg, PgClient } = yield* Drivers.pg.load
    const deadlineMs = clientDeadlineMs(config)
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() =>
        NodePool.make(
          Pg.Pool,
          (behindPooler) => poolConfig(endpoint, config, options, behindPooler),
          poolerRefusal(config),
          // Only "auto" needs to know: a transaction's later writes run prepared on a direct connection.
          config.preparedStatements === "auto"
        )
      ),
      (pool) => endWithin(options.alias, Effect.promise(() => pool.end()), pool.destroyAll)
    )
    // Pipelined connections (`pgLanes.ts`), on direct connections only, once the pool has connected; ended before it.
    const lanes = yield* Lanes.scoped(options.alias, {
      Client: Pg.Client,
      max: config.pipelinedConnections,
      config: () => poolConfig(endpoint, config, options, false),
      // Not behind a pooler that refused the startup parameters: lanes run on direct connections only.
      settled: () => pool.connected() && !pool.behindPooler(),
      connectMs: Duration.toMillis(config.connectTimeout),
      idleMs: Duration.toMillis(config.idleTimeout),
      lifetimeMs: Duration.toMillis(config.maxLifetime)
    })

    // Behind a pooler, where no lane serves: reads batched under one Sync on pooled connections (`pgBatches.ts`).
    const batches = config.pipelinedConnections > 0
      ? Batches.make({
        pool,
        alias: options.alias,
        max: config.pipelinedConnections,
        writeOpening: writeOpening(config),
        deadlineMs
      })
      : undefined
    const batching = () => behindPooler() || lanes?.pooler() === true

    /**
     * Checks a client out for one statement and gives it back (or destroys it) after. With `expired` (a caller's own
     * deadline, `executeWithin`), the checkout counts against `ms` too, and `expired` is the outcome past it. With
     * lanes, a statement goes on one when a lane may take it (`laneChoice.ts`), a session read with its `lead` as a
     * statement of its own just before it (`pgLaneCarried.ts`); not a caller-bounded wait, nor a query pg would refuse in
     * pipeline mode (a submittable: one that carries statements in front of it under its own Sync, `pgBegin.ts`).
     * Behind a pooler a read (`reads`) that a batch can carry goes in the node's batches instead, with its `lead` (a
     * session read's replay poll) in front where it has one, and so does a write (`pgBatchedWrite.ts`), in a
     * transaction of its own, unless the batches out are held up by a slow statement. A led read no batch takes
     * carries its lead on a pooled connection of its own (`pgBegin.ts`).
     */
    const pooled = <A>(
      query: Pg.QueryConfig,
      map: (result: any) => A,
      ms: number = deadlineMs,
      expired?: Effect.Effect<A, SqlError>,
      reads?: InFlight,
      carried?: Carried
    ) => {
      const lead = carried !== undefined && "lead" in carried ? carried.lead : undefined
      const register: Register<A, SqlError> = (resume) => {
        const guard = settle()
        // The statement's own deadline; a caller's deadline (`expired`) counts the checkout too, below.
        const within = { alias: options.alias, deadlineMs: ms, guard, Query: Pg.Query }
        const lane = lanes === undefined || expired !== undefined ||
            typeof (query as { readonly submit?: unknown }).submit === "function"
          ? undefined
          : lanes.pick()
        if (lane !== undefined) {
          return Lanes.submitOnLane(lane, query, map, within, resume, carried)
        }
        if (batches !== undefined && expired === undefined && batching()) {
          if (reads !== undefined) {
            if (Batches.batchable(query)) return submitBatched(batches, query, map, within, resume, carried)
          } else if (writeBatchable(query) && batches.takesWrite()) {
            return submitBatched(batches, query, map, within, resume, carried ?? PLAIN_WRITE)
          }
        }
        // A led read no batch takes: a submittable carrying its lead in its round trip (`pgBegin.ts`).
        const statement = lead === undefined ? query : withBegin(Pg.Query, query, [lead.sql], lead.onRows)
        let timer: ReturnType<typeof setTimeout> | undefined
        let giveBack: ((cause?: Error) => void) | undefined
        const onError = (cause: Error) => {
          // The socket died under a statement in flight; pg reports it on the query as well.
          giveBack?.(cause)
          giveBack = undefined
        }
        const started = expired === undefined ? 0 : performance.now()
        const checkout = expired === undefined ? undefined : setTimeout(() => {
          if (guard.claim()) resume(expired)
        }, ms)
        pool.connect((error, client, release) => {
          if (checkout !== undefined) clearTimeout(checkout)
          if (error || client === undefined) {
            if (!error && client) release()
            if (guard.claim()) resume(Effect.fail(acquireError(options.alias, error ?? new Error("no client"))))
            return
          }
          let released = false
          giveBack = (cause?: Error) => {
            if (released) return
            released = true
            client.off("error", onError)
            release(cause)
          }
          if (guard.settled()) return giveBack()
          client.on("error", onError)
          timer = submitWithin(
            client,
            statement,
            map,
            expired === undefined
              ? within
              : {
                alias: options.alias,
                deadlineMs: Math.max(1, ms - (performance.now() - started)),
                guard,
                Query: Pg.Query,
                expired
              },
            resume,
            (broken) => giveBack?.(broken)
          )
        })
        return () => {
          if (checkout !== undefined) clearTimeout(checkout)
          if (!guard.claim()) return
          if (timer !== undefined) clearTimeout(timer)
          giveBack?.(new Error("statement interrupted"))
        }
      }
      return cancellable(reads === undefined ? register : reads.track(register))
    }

    const countOf = (result: any): number => Number(result?.rowCount ?? 0)
    const textQuery = (sql: string, params: ReadonlyArray<unknown>): Pg.QueryConfig => ({
      text: sql,
      values: params as Array<any>
    })
    const arrayQuery = (sql: string, params: ReadonlyArray<unknown>): Pg.QueryConfig => ({
      text: sql,
      values: params as Array<any>,
      rowMode: "array"
    } as Pg.QueryArrayConfig)

    const prepared = Prepared.make(config.preparedStatements, pool.behindPooler)
    const behindPooler = () => prepared.sharedServers() || pool.behindPooler()

    /**
     * A connection whose statements run through `run` (pooled, or a transaction's reserved client). An instance of a
     * class, not an object literal: a transaction makes one, and V8 may allocate a literal's objects in the old
     * generation, where it would keep the transaction's closures alive until a full collection (BENCHMARKS.md, lever
     * 24). The methods are own fields, as a literal's were: a caller may spread the connection or pass a method on
     * its own. `unprepared` replaces `executeUnprepared` (a transaction's BEGIN held back, `pgReserved.ts`).
     */
    class PgConnection implements CompiledStatement.CountingConnection, CompiledStream.BatchConnection {
      readonly executePrepared: CompiledStatement.CountingConnection["executePrepared"]
      readonly executeCounted: CompiledStatement.CountingConnection["executeCounted"]
      readonly execute: CompiledStatement.CountingConnection["execute"]
      readonly executeRaw: CompiledStatement.CountingConnection["executeRaw"]
      readonly executeValues: CompiledStatement.CountingConnection["executeValues"]
      readonly executeUnprepared: CompiledStatement.CountingConnection["executeUnprepared"]
      readonly executeStream: CompiledStatement.CountingConnection["executeStream"]
      readonly executeStreamBatches: CompiledStream.BatchConnection["executeStreamBatches"]
      constructor(
        run: <A>(query: Pg.QueryConfig, map: (result: any) => A) => Effect.Effect<A, SqlError>,
        stream: PgCursor.StreamRows,
        prepare: boolean,
        unprepared?: ConnectionWrapper.Unprepared
      ) {
        this.executePrepared = prepare
          ? (statement, params) => prepared.run(run, statement, params, rowsFor(statement))
          : (statement, params) => prepared.unnamed(run, statement, params, rowsFor(statement))
        // A write's count comes with its CommandComplete, prepared or not: no RETURNING needed to count.
        this.executeCounted = prepare
          ? (statement, params) => prepared.run(run, statement, params, countOf)
          : (statement, params) => prepared.unnamed(run, statement, params, countOf)
        this.execute = (sql, params, transformRows) =>
          run(textQuery(sql, params), (r) => transformRows ? transformRows(rowsOf(r)) : rowsOf(r))
        this.executeRaw = (sql, params) => run(textQuery(sql, params), (r) => r)
        this.executeValues = (sql, params) => run(arrayQuery(sql, params), (r) => (r as Pg.QueryResult).rows)
        const plain: CompiledStatement.CountingConnection["executeUnprepared"] = (sql, params, transformRows) =>
          run(textQuery(sql, params), (r) => transformRows ? transformRows(rowsOf(r)) : rowsOf(r))
        this.executeUnprepared = unprepared === undefined ? plain : unprepared(plain)
        this.executeStream = (sql, params, transformRows) =>
          transformRows
            ? Stream.mapChunks(
              stream(sql, params, false),
              (c) => Chunk.unsafeFromArray(transformRows(Chunk.toArray(c)))
            )
            : stream(sql, params, false)
        // A compiled statement's stream: its chunks as read, arrays when it asks for them (`asArrays`).
        this.executeStreamBatches = (statement, params) =>
          CompiledStream.batchesOf(stream(statement.sql, params, statement.arrays === true))
      }
    }

    /**
     * The pooled connection: it also bounds a statement by a caller's deadline (`executeWithin`). With `tracked`, every
     * statement, stream and caller-bounded wait (a session's, on a replica) is tracked while in flight (`cutReads`).
     */
    class PooledPgConnection extends PgConnection implements CompiledStatement.BoundedConnection {
      readonly executeWithin: CompiledStatement.BoundedConnection["executeWithin"]
      constructor(tracked: InFlight | undefined) {
        super((query, map) => pooled(query, map, deadlineMs, undefined, tracked), pooledStream(tracked), true)
        this.executeWithin = (statement, params, ms) =>
          prepared.run(within(ms, tracked), statement, params, rowsFor(statement))
      }
    }

    // Reads a router may run elsewhere, and their streams: tracked while in flight (`cutReads`).
    const reads = new InFlight(options.alias)
    // Transactions and streams: a client reserved for their scope (`pgReserved.ts`); `tracked` for streams of reads.
    const reservedFor = (tracked: InFlight | undefined) =>
      Reserved.make({
        pool,
        Query: Pg.Query,
        Cursor,
        alias: options.alias,
        config,
        deadlineMs,
        behindPooler,
        tracked,
        // Named where the node prepares; the reserved connection keeps the name only where a refusal cannot abort the
        // transaction unseen (`pgReserved.ts`): on the statement that carries BEGIN, on a later write without rows.
        connection: (run, stream, unprepared) => new PgConnection(run, stream, true, unprepared)
      })
    const reserve = reservedFor(undefined)
    // A caller's deadline (a session wait): no answer in time is `undefined`, not an error.
    const noAnswer: Effect.Effect<any> = Effect.succeed(undefined)
    const within = (ms: number, tracked: InFlight | undefined): Prepared.Run => (query, map) =>
      pooled(query, map, Math.min(ms, deadlineMs), noAnswer, tracked)
    const pooledStream = (tracked: InFlight | undefined): PgCursor.StreamRows => (sql, params, arrays) =>
      Stream.unwrapScoped(
        Effect.flatMap(
          Reserved.reserveClient(pool, options.alias),
          (held) => PgCursor.streamOn(Cursor, held, sql, params, options.alias, deadlineMs, tracked, arrays)
        )
      )
    const connection = new PooledPgConnection(undefined)
    // Reads a router may run elsewhere: the same statements, tracked while in flight (`cutReads`).
    const readConnection = new PooledPgConnection(reads)
    const readRun: Prepared.Run = (query, map) => pooled(query, map, deadlineMs, undefined, reads)
    const readStream = pooledStream(reads)
    // A session read with its replay poll in front (`pgLead.ts`): made per read, for the poll's rows. A poll never
    // waits on the server; a lead that may (`waitMs`) extends the read's deadline.
    const leading = (sql: string, onRows: (rows: ReadonlyArray<TextRow>) => void, waitMs = 0) => {
      const ms = deadlineMs + waitMs
      const carried: Carried = { lead: { sql, onRows } }
      return new PgConnection(
        Lead.leading(
          waitMs > 0 ? (query, map) => pooled(query, map, ms, undefined, reads) : readRun,
          (query, map) => pooled(query, map, ms, undefined, reads, carried),
          sql,
          onRows
        ),
        readStream,
        true
      )
    }
    const spanAttributes: ReadonlyArray<readonly [string, unknown]> = [
      ...Object.entries(options.spanAttributes ?? {}),
      ["db.system.name", "postgresql"],
      ["db.namespace", endpoint.database ?? endpoint.username ?? "postgres"],
      ["server.address", endpoint.host],
      ["server.port", endpoint.port],
      ["fastorm.node", options.alias]
    ]
    // Behind a pooler a write in a batch reads the primary's position after its COMMIT, in its own batch
    // (`pgBatchedWrite.ts`); on a lane just after the write (`pgLaneCarried.ts`): each run gets a connection of its own
    // whose writes leave their position in its cell.
    const commitPositions: CommitPositions = {
      costsStatement: true,
      runCommitted: (use) =>
        Effect.suspend(() => {
          const carried: CarriedWrite = { write: true, cell: { position: undefined } }
          const committing = new PgConnection(
            (query, map) => pooled(query, map, deadlineMs, undefined, undefined, carried),
            pooledStream(undefined),
            true
          )
          return Effect.map(use(committing), (value) => [value, carried.cell!.position] as const)
        }),
      // A transaction's COMMIT carries its position itself where it needs one (`COMMIT; SELECT ...`, the router's).
      lastCommit: () => undefined
    }
    const client = yield* NodeClient.make({
      connection,
      reads: {
        connection: readConnection,
        reserve: NodeClient.scopedHold(reservedFor(reads)),
        // The reads first: they end with the cut's error (and run elsewhere) before their lanes close under them.
        cut: () => {
          const ended = reads.cutAll()
          lanes?.cutAll()
          batches?.cutAll()
          return ended
        },
        leading
      },
      hold: reserve,
      compiler: PgClient.makeCompiler(),
      spanAttributes,
      statementDeadline: Duration.millis(deadlineMs),
      poolStatus: (): PoolStatus => ({
        open: pool.current().totalCount,
        idle: pool.current().idleCount,
        waiting: pool.current().waitingCount,
        max: poolBounds(config).max,
        pipelined: lanes?.open() ?? 0
      })
    })
    // Offered behind a pooler once found (with batches), and on a direct connection with lanes (`pgLaneCarried.ts`: a
    // write on a lane reads the position just after it; one the pool takes reads none). Elsewhere a write's position
    // is read on its own.
    return Object.defineProperty(client, "commitPositions", {
      get: () => (batching() ? batches !== undefined : lanes !== undefined) ? commitPositions : undefined,
      enumerable: true
    })
  })
