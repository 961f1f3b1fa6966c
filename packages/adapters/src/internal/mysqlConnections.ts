/**
 * The `Connection`s of a MySQL / MariaDB client: the pooled one (each statement borrows a connection), one per
 * `runCommitted` run (pooled too, and the cell its statements' GTIDs go to) and one per reserved connection (a
 * transaction's, and the cell of its last statement's GTID). Classes with their methods on the prototype: building
 * one per run or per transaction is one small object, with no closure per method and no side table.
 */
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import type { CompiledStatement } from "@fastorm/core"
import type * as Effect from "effect/Effect"
import type * as Mysql from "mysql2"
import type { Lead } from "./mysqlLead.js"
import type * as MysqlRunner from "./mysqlRunner.js"

type TransformRows = Parameters<Connection["execute"]>[2]
type Rows = Effect.Effect<ReadonlyArray<any>, SqlError>

const asRows = (results: unknown): ReadonlyArray<any> => Array.isArray(results) ? results : []
const asIs = (results: unknown): unknown => results

// Applied in the driver callback; without a transform (the direct runners' case) the shared `asRows`: no closure.
const rowsOf = (transformRows: TransformRows): MysqlRunner.MapResult =>
  transformRows === undefined ? asRows : (r: unknown) => transformRows(asRows(r))

// A write's count is read in the driver callback too: no `Effect.map` over the whole result for repositories' writes.
const affectedRows = (results: unknown): number =>
  Number((results as { affectedRows?: unknown } | null)?.affectedRows ?? 0)

/** The statement methods, over how one statement runs (`run`). */
abstract class MysqlConnection implements CompiledStatement.CountingConnection {
  constructor(readonly runner: MysqlRunner.Runner) {}
  protected abstract run(
    sql: string,
    values: ReadonlyArray<unknown>,
    rowsAsArray: boolean,
    method: MysqlRunner.Method,
    map: MysqlRunner.MapResult
  ): Effect.Effect<unknown, SqlError>
  abstract executeStream(sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows): ReturnType<
    Connection["executeStream"]
  >
  execute(sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows) {
    return this.run(sql, params, false, "execute", rowsOf(transformRows)) as Rows
  }
  executeRaw(sql: string, params: ReadonlyArray<unknown>) {
    return this.run(sql, params, false, "execute", asIs)
  }
  executePrepared(statement: CompiledStatement.CompiledStatement, params: ReadonlyArray<unknown>) {
    return this.run(statement.sql, params, false, "execute", asRows) as Rows
  }
  executeCounted(statement: CompiledStatement.CompiledStatement, params: ReadonlyArray<unknown>) {
    return this.run(statement.sql, params, false, "execute", affectedRows) as Effect.Effect<number, SqlError>
  }
  executeValues(sql: string, params: ReadonlyArray<unknown>) {
    return this.run(sql, params, true, "execute", asRows) as Effect.Effect<
      ReadonlyArray<ReadonlyArray<unknown>>,
      SqlError
    >
  }
  executeUnprepared(sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows) {
    return this.run(sql, params, false, "query", rowsOf(transformRows)) as Rows
  }
}

/** The client's pooled connection: each statement borrows a connection for its own duration; no GTID looked at. */
export class PooledConnection extends MysqlConnection implements CompiledStatement.BoundedConnection {
  // The cell a statement's GTID goes to: none for the client's own statements, the run itself for a committing run's.
  protected readonly cell: MysqlRunner.Committed | undefined = undefined
  // Whether a statement is a read a router may run elsewhere, which `cutReads` ends at once.
  protected readonly read: boolean = false
  constructor(runner: MysqlRunner.Runner, readonly stream: Connection["executeStream"]) {
    super(runner)
  }
  protected run(
    sql: string,
    values: ReadonlyArray<unknown>,
    rowsAsArray: boolean,
    method: MysqlRunner.Method,
    map: MysqlRunner.MapResult
  ) {
    return this.read
      ? this.runner.read(sql, values, rowsAsArray, method, map, this.cell)
      : this.runner.pooled(sql, values, rowsAsArray, method, map, this.cell)
  }
  executeWithin(statement: CompiledStatement.CompiledStatement, params: ReadonlyArray<unknown>, deadlineMs: number) {
    return this.runner.within(deadlineMs, statement.sql, params, asRows, this.read) as Effect.Effect<
      ReadonlyArray<any> | undefined,
      SqlError
    >
  }
  executeStream(sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows) {
    return this.stream(sql, params, transformRows)
  }
}

/** The pooled connection for reads a router may retry elsewhere: each statement tracked while in flight (`cutReads`). */
export class ReadConnection extends PooledConnection {
  protected override readonly read = true
}

/**
 * A read connection whose statements go with `lead` in front, in their round trip where the connection allows
 * (`NodeReads.leading`, `mysqlLead.ts`): made per session read, for the rows of its replica wait.
 */
export class LedConnection extends ReadConnection {
  constructor(runner: MysqlRunner.Runner, stream: Connection["executeStream"], readonly lead: Lead) {
    super(runner, stream)
  }
  protected override run(
    sql: string,
    values: ReadonlyArray<unknown>,
    rowsAsArray: boolean,
    method: MysqlRunner.Method,
    map: MysqlRunner.MapResult
  ) {
    return this.runner.led(this.lead, sql, values, rowsAsArray, method, map, this.cell)
  }
}

/**
 * The connection of one `runCommitted` run, and the cell its statements' GTIDs go to: each statement borrows a
 * pooled connection and writes its OK packet's GTID into this object. The cell travels with the statement, so a
 * statement run in a fiber the run forked (a deadline's) still tells its run, and a nested run has its own.
 */
export class CommittingConnection extends PooledConnection implements MysqlRunner.Committed {
  gtid: string | undefined = undefined
  protected override readonly cell: MysqlRunner.Committed = this
}

/**
 * A reserved connection (a transaction's), and the cell of the GTID its last statement committed (MariaDB reports
 * it in the OK packet). It streams on itself: the stream sees the transaction's writes.
 */
export class ReservedConnection extends MysqlConnection implements MysqlRunner.Committed {
  gtid: string | undefined = undefined
  /** `read`: held for a stream of reads (`NodeClient.reads.reserve`), which `cutReads` ends at once. */
  constructor(runner: MysqlRunner.Runner, readonly conn: Mysql.PoolConnection, readonly read = false) {
    super(runner)
  }
  protected run(
    sql: string,
    values: ReadonlyArray<unknown>,
    rowsAsArray: boolean,
    method: MysqlRunner.Method,
    map: MysqlRunner.MapResult
  ) {
    return this.runner.on(this.conn, sql, values, rowsAsArray, method, map, this)
  }
  executeStream(sql: string, params: ReadonlyArray<unknown>, transformRows: TransformRows) {
    // A stream ended early leaves rows on the way: the connection is closed, never reused.
    return this.runner.stream(this.conn, sql, params, transformRows, this.read)
  }
}
