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
import type { CompiledStatement } from "@fastorm/core"
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
import { PgConnection } from "./pgConnection.js"
import * as PgCursor from "./pgCursor.js"
import * as Lanes from "./pgLanes.js"
import * as Lead from "./pgLead.js"
import * as NodePool from "./pgPool.js"
import type { PgEndpoint, PgNodeOptions } from "./pgPoolConfig.js"
import { clientDeadlineMs, poolConfig } from "./pgPoolConfig.js"
import { submitPooled } from "./pgPooledSubmit.js"
import * as Prepared from "./pgPrepared.js"
import * as Reserved from "./pgReserved.js"
import { rowsFor } from "./pgRows.js"
import { poolerRefusal, writeOpening } from "./pgSession.js"
import type { Within } from "./pgSubmit.js"
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
     * Sends one statement: by default on a client checked out of the pool for it (`submitPooled`), which with `expired`
     * (a caller's own deadline, `executeWithin`) counts the checkout against `ms` too, `expired` the outcome past it. With
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
        // The statement's own deadline; a caller's deadline (`expired`) counts the checkout too (`submitPooled`).
        const within: Within<A> = expired === undefined
          ? { alias: options.alias, deadlineMs: ms, guard, Query: Pg.Query }
          : { alias: options.alias, deadlineMs: ms, guard, Query: Pg.Query, expired }
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
        return submitPooled(pool, statement, map, within, resume)
      }
      return cancellable(reads === undefined ? register : reads.track(register))
    }

    const prepared = Prepared.make(config.preparedStatements, pool.behindPooler)
    const behindPooler = () => prepared.sharedServers() || pool.behindPooler()

    /**
     * The pooled connection: it also bounds a statement by a caller's deadline (`executeWithin`). With `tracked`, every
     * statement, stream and caller-bounded wait (a session's, on a replica) is tracked while in flight (`cutReads`).
     */
    class PooledPgConnection extends PgConnection implements CompiledStatement.BoundedConnection {
      readonly executeWithin: CompiledStatement.BoundedConnection["executeWithin"]
      constructor(tracked: InFlight | undefined) {
        super(prepared, (query, map) => pooled(query, map, deadlineMs, undefined, tracked), pooledStream(tracked), true)
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
        connection: (run, stream, unprepared) => new PgConnection(prepared, run, stream, true, unprepared)
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
        prepared,
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
            prepared,
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
