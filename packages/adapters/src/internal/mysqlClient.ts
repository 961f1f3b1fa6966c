/**
 * A MySQL / MariaDB `SqlClient` over a mysql2 pool that FastORM owns.
 *
 * `MysqlClient.make` from @effect/sql-mysql2 cannot be used for a cluster node: it connects at start (a replica that
 * is down would fail the layer), it hides its pool (no per-session settings such as `SET SESSION TRANSACTION READ
 * ONLY`), and mysql2's pool waits for a free connection without any bound. This client keeps the same compiler and
 * row semantics and adds those three things.
 */
import type { Reactivity } from "@effect/experimental/Reactivity"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Mysql from "mysql2"
import type { DriverNotInstalled } from "../AdapterError.js"
import type { NodeClient as Shape, PoolStatus } from "../DatabaseAdapter.js"
import * as NodeClient from "../NodeClient.js"
import type { MysqlOptimalConfig } from "../OptimalConfig.js"
import { outlived, poolBounds } from "../OptimalConfig.js"
import { settle, timeoutError } from "./deadline.js"
import * as Drivers from "./drivers.js"
import type { MysqlTlsOptions } from "./mysqlTls.js"

/** Where one MySQL / MariaDB node is and how to log in. */
export interface MysqlEndpoint {
  readonly host: string
  readonly port: number
  readonly database?: string | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  /** The node's TLS, as the health probe applies it too (`mysqlTls.ts`). */
  readonly tls: MysqlTlsOptions
  /** "mariadb" when the URL already says so; otherwise the server's handshake decides. */
  readonly productHint?: "mariadb" | "mysql" | undefined
}

/** Options of one node's client. */
export interface MysqlNodeOptions {
  readonly alias: string
  readonly readOnly: boolean
  readonly spanAttributes?: Record<string, unknown> | undefined
}

/** The statements run once on every new connection, before it serves anything. */
export const sessionStatements = (config: MysqlOptimalConfig, isMariaDb: boolean, readOnly: boolean) => {
  const seconds = (d: Duration.Duration) => Math.max(1, Math.ceil(Duration.toSeconds(d)))
  const statementLimit = isMariaDb
    ? `max_statement_time = ${Duration.toSeconds(config.statementTimeout)}`
    : `max_execution_time = ${Math.round(Duration.toMillis(config.statementTimeout))}`
  const statements = [
    `SET NAMES ${config.charset} COLLATE ${config.collation}`,
    `SET SESSION net_read_timeout = ${seconds(config.readTimeout)}, net_write_timeout = ${
      seconds(config.writeTimeout)
    }, ${statementLimit}`
  ]
  if (readOnly) statements.push("SET SESSION TRANSACTION READ ONLY")
  return statements
}

const isMariaDbHandshake = (conn: Mysql.PoolConnection, hint: MysqlEndpoint["productHint"]): boolean => {
  // mysql2 keeps the server's handshake greeting (e.g. "5.5.5-10.11.6-MariaDB") on the connection.
  const version = (conn as unknown as { _handshakePacket?: { serverVersion?: string } })._handshakePacket
    ?.serverVersion
  return typeof version === "string" ? /mariadb/i.test(version) : hint === "mariadb"
}

/** Builds the client; no connection is opened until the first statement. */
export const make = (
  endpoint: MysqlEndpoint,
  config: MysqlOptimalConfig,
  options: MysqlNodeOptions
): Effect.Effect<Shape, DriverNotInstalled, Scope.Scope | Reactivity> =>
  Effect.gen(function*() {
    const { Mysql, MysqlClient } = yield* Drivers.mysql.load
    const compiler = MysqlClient.makeCompiler()
    const bounds = poolBounds(config)
    const connectTimeout = config.connectTimeout
    // maxLifetime (mysql2 has no such option): when each connection opened, so that an expired one is destroyed
    // instead of released, and a sweep closes expired idle ones, as pg-pool's maxLifetimeSeconds does.
    const openedAt = new WeakMap<Mysql.PoolConnection, number>()
    const expired = (conn: Mysql.PoolConnection) =>
      outlived(openedAt.get(conn) ?? Date.now(), Date.now(), config.maxLifetime)
    /** Gives a healthy connection back to the pool, or closes it when it has outlived `maxLifetime`. */
    const giveBack = (conn: Mysql.PoolConnection) => {
      if (expired(conn)) conn.destroy()
      else conn.release()
    }

    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const pool = Mysql.createPool({
          host: endpoint.host,
          port: endpoint.port,
          ...(endpoint.database !== undefined ? { database: endpoint.database } : {}),
          ...(endpoint.username !== undefined ? { user: endpoint.username } : {}),
          ...(endpoint.password !== undefined ? { password: Redacted.value(endpoint.password) } : {}),
          ...(endpoint.tls.ssl === undefined ? {} : { ssl: endpoint.tls.ssl }),
          ...(endpoint.tls.stream === undefined ? {} : { stream: endpoint.tls.stream }),
          // Stacked statements are an injection amplifier; nothing in FastORM needs them.
          multipleStatements: false,
          supportBigNumbers: true,
          connectionLimit: bounds.max,
          maxIdle: bounds.min,
          idleTimeout: Duration.toMillis(config.idleTimeout),
          connectTimeout: Duration.toMillis(connectTimeout),
          charset: config.collation.toUpperCase(),
          enableKeepAlive: config.keepAlive,
          waitForConnections: true,
          queueLimit: 0
        })
        pool.on("connection", (conn) => {
          openedAt.set(conn, Date.now())
          for (
            const statement of sessionStatements(
              config,
              isMariaDbHandshake(conn, endpoint.productHint),
              options.readOnly
            )
          ) {
            // A connection whose session settings failed must not serve: destroying it makes its next use fail.
            conn.query(statement, (error) => {
              if (error) conn.destroy()
            })
          }
        })
        return pool
      }),
      (pool) =>
        Effect.async<void>((resume) => {
          pool.end(() => resume(Effect.void))
        }).pipe(Effect.timeoutOption(Duration.seconds(2)), Effect.asVoid)
    )
    // mysql2 keeps its counts in private queues; read them defensively.
    const queues = pool as unknown as {
      readonly _allConnections?: { readonly length: number }
      readonly _freeConnections?: { readonly length: number; readonly get: (i: number) => Mysql.PoolConnection }
    }
    const lifetimeMs = Duration.toMillis(config.maxLifetime)
    if (lifetimeMs > 0) {
      // Idle connections are in the free queue only (one being handed out has left it already); a tenth of the
      // lifetime, between 100 ms and 30 s, keeps an idle connection at most that much past its lifetime.
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const timer = setInterval(() => {
            const free = queues._freeConnections
            if (free === undefined) return
            const idle: Array<Mysql.PoolConnection> = []
            for (let i = 0; i < free.length; i++) idle.push(free.get(i))
            for (const conn of idle) if (expired(conn)) conn.destroy()
          }, Math.min(30_000, Math.max(100, lifetimeMs / 10)))
          timer.unref()
          return timer
        }),
        (timer) => Effect.sync(() => clearInterval(timer))
      )
    }

    let waiting = 0
    // The router tells an exhausted pool from a dead server by this message (and the pool's counts).
    const acquireTimeout = () =>
      new SqlError({
        message: `Timed out acquiring a connection to ${options.alias}`,
        cause: Object.assign(new Error("acquire timeout"), { code: "ETIMEDOUT" })
      })
    // mysql2 queues getConnection without a bound; a frozen server would hold callers forever.
    const acquireRaw = Effect.async<Mysql.PoolConnection, SqlError>((resume) => {
      let done = false
      waiting++
      const finish = () => {
        done = true
        waiting--
      }
      const timer = setTimeout(() => {
        finish()
        resume(Effect.fail(acquireTimeout()))
      }, Duration.toMillis(connectTimeout))
      pool.getConnection((cause, conn) => {
        if (done) {
          if (!cause) giveBack(conn)
          return
        }
        finish()
        clearTimeout(timer)
        if (cause) {
          resume(Effect.fail(new SqlError({ cause, message: `Failed to acquire a connection to ${options.alias}` })))
        } else resume(Effect.succeed(conn))
      })
      return Effect.sync(() => {
        if (!done) finish()
        clearTimeout(timer)
      })
    })

    const acquire = Effect.acquireRelease(acquireRaw, (conn, exit) =>
      Effect.sync(() => {
        // An interrupted statement may still be running on the server: never hand that connection to anyone else.
        if (Exit.isInterrupted(exit) || broken.has(conn)) conn.destroy()
        else giveBack(conn)
      }))

    // Connections whose statement outlived its deadline: destroyed, never returned to the pool.
    const broken = new WeakSet<Mysql.PoolConnection>()
    const deadlineMs = Math.round(Duration.toMillis(config.statementTimeout)) + 100

    /** One statement on a connection, within the client-side deadline (a timer, not a fiber). */
    const send = (
      conn: Mysql.PoolConnection,
      sql: string,
      values: ReadonlyArray<unknown>,
      rowsAsArray: boolean,
      method: "execute" | "query",
      resume: (result: Effect.Effect<unknown, SqlError>) => void,
      after: (survives: boolean) => void
    ): () => void => {
      const guard = settle()
      const timer = setTimeout(() => {
        if (!guard.claim()) return
        broken.add(conn)
        conn.destroy()
        after(false)
        resume(Effect.fail(timeoutError(options.alias, deadlineMs)))
      }, deadlineMs)
      const reply = (cause: any, results: unknown) => {
        if (!guard.claim()) return
        clearTimeout(timer)
        // mysql2 marks errors that kill the connection `fatal`; the pool drops those connections itself.
        after(!(cause && cause.fatal))
        if (cause) resume(Effect.fail(new SqlError({ cause, message: "Failed to execute statement" })))
        else resume(Effect.succeed(results))
      }
      // The options-object form costs mysql2 ~10 µs more per statement than the positional one (measured with
      // bench/src/probes/mysqlProbe.ts); it is needed only for rows as arrays.
      if (rowsAsArray) (conn as any)[method]({ sql, values, rowsAsArray }, reply)
      else (conn as any)[method](sql, values, reply)
      return () => {
        if (!guard.claim()) return
        clearTimeout(timer)
        broken.add(conn)
        conn.destroy()
        after(false)
      }
    }

    const run = (
      conn: Mysql.PoolConnection,
      sql: string,
      values: ReadonlyArray<unknown>,
      rowsAsArray: boolean,
      method: "execute" | "query"
    ) =>
      Effect.async<unknown, SqlError>((resume) => {
        if (broken.has(conn)) {
          return resume(Effect.fail(
            new SqlError({
              message: "Failed to execute statement",
              cause: new Error("Can't add new command when connection is in closed state")
            })
          ))
        }
        const cancel = send(conn, sql, values, rowsAsArray, method, resume, () => {})
        return Effect.sync(cancel)
      })

    /** Borrows a connection for one statement and gives it back, all in driver callbacks (no scope, no fiber). */
    const pooledRun = (
      sql: string,
      values: ReadonlyArray<unknown>,
      rowsAsArray: boolean,
      method: "execute" | "query"
    ) =>
      Effect.async<unknown, SqlError>((resume) => {
        const guard = settle()
        let cancelStatement: (() => void) | undefined
        waiting++
        // mysql2 hands a free connection over on the next tick: only a caller that may wait needs the bound (a timer).
        const timer = (queues._freeConnections?.length ?? 0) > 0 ? undefined : setTimeout(() => {
          if (!guard.claim()) return
          waiting--
          resume(Effect.fail(acquireTimeout()))
        }, Duration.toMillis(connectTimeout))
        pool.getConnection((cause, conn) => {
          if (!guard.claim()) {
            if (!cause) giveBack(conn)
            return
          }
          waiting--
          clearTimeout(timer)
          if (cause) {
            return resume(
              Effect.fail(new SqlError({ cause, message: `Failed to acquire a connection to ${options.alias}` }))
            )
          }
          cancelStatement = send(conn, sql, values, rowsAsArray, method, resume, (survives) => {
            if (survives) giveBack(conn)
            else conn.destroy()
          })
        })
        return Effect.sync(() => {
          if (guard.claim()) {
            waiting--
            clearTimeout(timer)
          }
          cancelStatement?.()
        })
      })

    const asRows = (results: unknown): ReadonlyArray<any> => Array.isArray(results) ? results : []

    const makeConnection = (
      exec: (
        sql: string,
        values: ReadonlyArray<unknown>,
        rowsAsArray: boolean,
        method: "execute" | "query"
      ) => Effect.Effect<unknown, SqlError>
    ): Connection => ({
      execute: (sql, params, transformRows) =>
        Effect.map(exec(sql, params, false, "execute"), (r) => transformRows ? transformRows(asRows(r)) : asRows(r)),
      executeRaw: (sql, params) => exec(sql, params, false, "execute"),
      executeValues: (sql, params) => Effect.map(exec(sql, params, true, "execute"), asRows),
      executeUnprepared: (sql, params, transformRows) =>
        Effect.map(exec(sql, params, false, "query"), (r) => transformRows ? transformRows(asRows(r)) : asRows(r)),
      executeStream: (sql, params, transformRows) =>
        Stream.unwrapScoped(Effect.map(acquire, (conn) => queryStream(conn, sql, params, transformRows)))
    })

    // Outside a transaction each statement borrows a connection for its own duration only.
    const pooled = makeConnection(pooledRun)
    const transactionAcquirer = Effect.map(
      acquire,
      (conn) => makeConnection((sql, values, rowsAsArray, method) => run(conn, sql, values, rowsAsArray, method))
    )

    const spanAttributes: ReadonlyArray<readonly [string, unknown]> = [
      ...Object.entries(options.spanAttributes ?? {}),
      ["db.system.name", "mysql"],
      ["server.address", endpoint.host],
      ["server.port", endpoint.port],
      ["fastorm.node", options.alias],
      ...(endpoint.database !== undefined ? [["db.namespace", endpoint.database] as const] : [])
    ]
    // mysql2's execute already prepares each text once per connection (its own statement cache).
    return yield* NodeClient.make({
      connection: pooled,
      reserve: transactionAcquirer,
      compiler,
      spanAttributes,
      statementDeadline: Duration.millis(deadlineMs),
      poolStatus: (): PoolStatus => ({
        open: queues._allConnections?.length ?? 0,
        idle: queues._freeConnections?.length ?? 0,
        waiting,
        max: bounds.max
      })
    })
  })

const queryStream = (
  conn: Mysql.PoolConnection,
  sql: string,
  params: ReadonlyArray<unknown>,
  transformRows: (<A extends object>(row: ReadonlyArray<A>) => ReadonlyArray<A>) | undefined
): Stream.Stream<any, SqlError> =>
  Stream.async<any, SqlError>((emit) => {
    const query = (conn as any).query(sql, params).stream()
    query.on("error", (cause: unknown) => emit.fail(new SqlError({ cause, message: "Failed to stream statement" })))
    query.on("data", (row: any) => {
      emit.chunk(Chunk.unsafeFromArray(transformRows ? transformRows([row]) : [row]))
    })
    query.on("end", () => emit.end())
    return Effect.sync(() => query.destroy())
  }, 256)
