/**
 * The workloads of `npm run bench` (issue 14): what one operation of each is, and what each target implements for
 * it. A target that does not implement a workload is not run on it. Every stack sends its own equivalent statement.
 */

/** Every workload, in the order a run measures them (the deletes remove rows the inserts added). */
export const WORKLOADS = [
  "point-read",
  "read-write",
  "list-50",
  "list-500",
  "select",
  "paginate",
  "cursor",
  "count",
  "group-by",
  "stream",
  "insert",
  "create-many",
  "update",
  "update-returning",
  "delete",
  "transaction"
] as const

/** One workload. */
export type Workload = typeof WORKLOADS[number]

/** The `paginate` workload's page and page size. */
export const PAGE = 3
export const PER_PAGE = 20
/** Rows per `cursor` page. */
export const CURSOR_LIMIT = 50
/** Rows the `stream` workload reads (its own table, seeded with this many rows). */
export const STREAM_ROWS = 100_000

/** What each workload's table is titled. */
export const WORKLOAD_LABELS: Record<Workload, string> = {
  "point-read": "point read by primary key",
  "read-write": "90% reads / 10% writes (read-your-writes on for FastORM)",
  "list-50": "50 rows by a non-key column (status), ordered by id",
  "list-500": "500 rows by a non-key column (status), ordered by id",
  "select": "two columns (id, name) of 50 rows by status, ordered by id",
  "paginate": `page ${PAGE} of ${PER_PAGE} rows by status, ordered by id, with the total`,
  "cursor": `the next ${CURSOR_LIMIT} rows after an id, ordered by id (keyset)`,
  "count": "count with a condition (status)",
  "group-by": "aggregate with GROUP BY (count and sum of score per status)",
  "stream": "stream 100 000 rows, one stream at a time: rows/s and memory, not q/s",
  "insert": "insert one row, returning it where the stack can",
  "create-many": "insert 100 rows in one call",
  "update": "update one row by id (the number of rows, no row returned)",
  "update-returning": "update one row by id, returning the updated row",
  "delete": "delete one row by id",
  "transaction": "a transaction: read a row by id, then update it"
}

/** Rows each read workload returns (for CPU per row). */
export const ROWS_RETURNED: Partial<Record<Workload, number>> = { "point-read": 1, "list-50": 50, "list-500": 500 }

/** A row to insert. */
export interface NewUser {
  readonly name: string
  readonly email: string
  readonly status: string
  readonly score: number
}

/** The operations a target implements; `R` is a Promise or an Effect. */
export interface Ops<R> {
  readonly find: (id: number) => R
  /** A plain update: the stack's own call that returns no row (a count at most). */
  readonly update: (id: number, score: number) => R
  /** An update that returns the updated row, as well as the stack can. */
  readonly updateReturning?: (id: number, score: number) => R
  readonly list?: (status: string, limit: number) => R
  /** `id` and `name` of `limit` rows by status, ordered by id. */
  readonly select?: (status: string, limit: number) => R
  /** Page `page` (from 1) of `perPage` rows by status ordered by id, and the number of matching rows. */
  readonly paginate?: (status: string, page: number, perPage: number) => R
  /** `limit` rows with an id above `after` (a multiple of `CURSOR_LIMIT`, 0 for the first page), ordered by id. */
  readonly cursor?: (after: number, limit: number) => R
  /** Reads every row of the stream table in id order, calling `onRow` for each, without holding them all. */
  readonly stream?: (onRow: (row: unknown) => void) => R
  readonly count?: (status: string) => R
  readonly groupBy?: () => R
  readonly insert?: (row: NewUser) => R
  readonly createMany?: (rows: ReadonlyArray<NewUser>) => R
  readonly remove?: (id: number) => R
  readonly transaction?: (id: number, score: number) => R
}

/** Whether `ops` implement `workload`. */
export const supports = (ops: Ops<unknown>, workload: Workload): boolean => {
  switch (workload) {
    case "point-read":
    case "read-write":
    case "update":
      return true
    case "update-returning":
      return ops.updateReturning !== undefined
    case "select":
      return ops.select !== undefined
    case "paginate":
      return ops.paginate !== undefined
    case "cursor":
      return ops.cursor !== undefined
    case "stream":
      return ops.stream !== undefined
    case "list-50":
    case "list-500":
      return ops.list !== undefined
    case "count":
      return ops.count !== undefined
    case "group-by":
      return ops.groupBy !== undefined
    case "insert":
      return ops.insert !== undefined
    case "create-many":
      return ops.createMany !== undefined
    case "delete":
      return ops.remove !== undefined
    case "transaction":
      return ops.transaction !== undefined
  }
}

let inserted = 0
const newUser = (): NewUser => {
  const n = ++inserted
  return {
    name: `new ${n}`,
    email: `new${n}-${process.pid}@example.com`,
    status: n % 3 === 0 ? "idle" : "active",
    score: n
  }
}

// Deletes take the ids the inserts added, in order, so each deletes a row that exists (ids after the seed's).
let nextDelete = 0
/** Where the deletes start: the first id after the seeded rows. */
export const startDeletesAt = (id: number): void => {
  nextDelete = id
}
/** Where the next delete starts. */
export const deletesAt = (): number => nextDelete

/** What the stream workload calls for each row (the harness counts rows and samples memory there). */
let streamRow: (row: unknown) => void = () => undefined
/** Sets what the stream workload calls for each row. */
export const onStreamRow = (f: (row: unknown) => void): void => {
  streamRow = f
}
const streamSink = (row: unknown) => streamRow(row)

const status = () => Math.random() < 0.5 ? "active" : "idle"

/** Starts one operation of `workload`. */
export const runOp = <R>(workload: Workload, rows: number, ops: Ops<R>): R => {
  const id = 1 + Math.floor(Math.random() * rows)
  switch (workload) {
    case "point-read":
      return ops.find(id)
    case "read-write":
      return Math.random() < 0.1 ? ops.update(id, Math.floor(Math.random() * 1_000_000)) : ops.find(id)
    case "list-50":
      return ops.list!(status(), 50)
    case "list-500":
      return ops.list!(status(), 500)
    case "select":
      return ops.select!(status(), 50)
    case "paginate":
      return ops.paginate!(status(), PAGE, PER_PAGE)
    case "cursor":
      // A full page after any seeded id that ends a page (the seeded ids are 1..rows, never deleted).
      return ops.cursor!(CURSOR_LIMIT * Math.floor(Math.random() * (rows / CURSOR_LIMIT - 1)), CURSOR_LIMIT)
    case "stream":
      return ops.stream!(streamSink)
    case "count":
      return ops.count!(status())
    case "group-by":
      return ops.groupBy!()
    case "insert":
      return ops.insert!(newUser())
    case "create-many":
      return ops.createMany!(Array.from({ length: 100 }, newUser))
    case "update":
      return ops.update(id, Math.floor(Math.random() * 1_000_000))
    case "update-returning":
      return ops.updateReturning!(id, Math.floor(Math.random() * 1_000_000))
    case "delete":
      return ops.remove!(nextDelete++)
    case "transaction":
      return ops.transaction!(id, Math.floor(Math.random() * 1_000_000))
  }
}
