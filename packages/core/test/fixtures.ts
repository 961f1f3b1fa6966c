import * as Reactivity from "@effect/experimental/Reactivity"
import * as MysqlClient from "@effect/sql-mysql2/MysqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import { SqliteTesting } from "@fastorm/adapters"
import type { ClusterNodes, NodeInfo } from "@fastorm/test-support"
import { loadCluster, pauseReplay, resumeReplay, waitReplicated } from "@fastorm/test-support"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { ReadConnection, WriteConnection } from "../src/Connections.js"
import * as Model from "../src/Model.js"
import * as Repository from "../src/Repository.js"
import * as Testing from "../src/Testing.js"

/** The model every backend test uses. */
export class User extends Model.Class<User>("User")({
  id: Model.Generated(Schema.Int),
  name: Schema.String,
  email: Schema.String,
  status: Schema.String,
  age: Schema.NullOr(Schema.Int)
}) {}

/**
 * A SQLite-dialect client over a driver that records statements and fails the ones `fail` picks, with the given
 * cause inside a `SqlError` (a driver error, or a connection error as a router reports it). `acquire`: a cause
 * every connection acquisition fails with instead.
 */
export const fakeClient = (fail: (sql: string) => unknown | undefined, options?: { readonly acquire?: unknown }) =>
  Effect.gen(function*() {
    const log: Array<string> = []
    const run = (sql: string) =>
      Effect.suspend(() => {
        log.push(sql)
        const cause = fail(sql)
        return cause === undefined
          ? Effect.succeed([] as ReadonlyArray<any>)
          : Effect.fail(new SqlError({ cause, message: "Failed to execute statement" }))
      })
    const connection: Connection = {
      execute: (sql) => run(sql),
      executeRaw: (sql) => run(sql),
      executeValues: (sql) => run(sql) as any,
      executeUnprepared: (sql) => run(sql),
      executeStream: () => Effect.dieMessage("not used") as any
    }
    const client = yield* SqlClient.make({
      acquirer: options?.acquire === undefined
        ? Effect.succeed(connection)
        : Effect.fail(new SqlError({ cause: options.acquire, message: "Failed to acquire a connection" })),
      compiler: Statement.makeCompilerSqlite(),
      spanAttributes: []
    }).pipe(Effect.provide(Reactivity.layer))
    return { client, log }
  })

/** Tables of this package's tests carry a core_ prefix: other packages share the clusters' database. */
export const UserRepo = Repository.make(User, { table: "core_users", idColumn: "id" })

/** A view answering which node and which connection ran the read (pid / server identity). */
export class NodeInfoRow extends Model.Class<NodeInfoRow>("NodeInfoRow")({
  id: Schema.Number,
  pid: Schema.Number,
  node: Schema.Union(Schema.Number, Schema.Boolean)
}) {}

/** Reads of the view go through a repository, so they are routed like any other repository read. */
export const NodeRepo = Repository.make(NodeInfoRow, { table: "core_node_info", idColumn: "id" })

/** What a backend offers a test besides the connections. */
export interface BackendShape {
  readonly name: "sqlite" | "postgres" | "mariadb"
  /** The `node` column value the primary reports (pg: in recovery = false; MariaDB: its server_id). */
  readonly primaryNode: number | boolean
  /** Waits until the replica behind ReadConnection has replayed everything the primary committed. */
  readonly sync: Effect.Effect<void>
  readonly pauseReplay: Effect.Effect<void>
  readonly resumeReplay: Effect.Effect<void>
  /** SQL (on the write client) that ends another session of the app user, for commit-failure tests. */
  readonly kill: (pid: number) => Effect.Effect<void, SqlError>
  /** The current connection's id on the server. */
  readonly pidSql: string
}

/** The backend under test. */
export class Backend extends Context.Tag("core-test/Backend")<Backend, BackendShape>() {}

const usersDdl = {
  sqlite: [
    "DROP TABLE IF EXISTS core_users",
    "CREATE TABLE core_users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, status TEXT NOT NULL, age INTEGER)",
    "DROP VIEW IF EXISTS core_node_info",
    "CREATE VIEW core_node_info AS SELECT 1 AS id, 0 AS pid, 0 AS node"
  ],
  postgres: [
    "DROP TABLE IF EXISTS core_users",
    "CREATE TABLE core_users (id SERIAL PRIMARY KEY, name TEXT NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, status TEXT NOT NULL, age INT)",
    "CREATE OR REPLACE VIEW core_node_info AS SELECT 1 AS id, pg_backend_pid() AS pid, pg_is_in_recovery() AS node"
  ],
  mariadb: [
    "DROP TABLE IF EXISTS core_users",
    "CREATE TABLE core_users (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, status VARCHAR(64) NOT NULL, age INT NULL) ENGINE=InnoDB"
  ]
} as const

// A MariaDB view cannot read @@server_id directly; a function can (created by root: binlog needs SUPER for it).
const mariaAdminDdl = [
  "CREATE OR REPLACE FUNCTION core_server_id() RETURNS INT UNSIGNED NOT DETERMINISTIC READS SQL DATA RETURN @@server_id",
  "CREATE OR REPLACE VIEW core_node_info AS SELECT 1 AS id, CONNECTION_ID() AS pid, core_server_id() AS node"
]

const runAll = (client: SqlClient.SqlClient, statements: ReadonlyArray<string>) =>
  Effect.forEach(statements, (statement) => client.unsafe(statement), { discard: true })

const promise = (f: () => Promise<void>) => Effect.orDie(Effect.tryPromise(f))

const replicaOf = (nodes: ClusterNodes): NodeInfo => nodes.replicas[0]!

/** Connections for one backend, wrapped by the recording layer, plus the Backend controls. */
type BackendLayer = Layer.Layer<ReadConnection | WriteConnection | Testing.Recorder | Backend, SqlError>

const sqliteLayer: BackendLayer = Layer.effectContext(Effect.gen(function*() {
  const write = yield* WriteConnection
  yield* runAll(write, usersDdl.sqlite)
  return Context.make(Backend, {
    name: "sqlite",
    primaryNode: 0,
    sync: Effect.void,
    pauseReplay: Effect.void,
    resumeReplay: Effect.void,
    kill: () => Effect.void,
    pidSql: "SELECT 0 AS pid"
  })
})).pipe(
  Layer.provideMerge(Testing.recording({ readAlias: "sqlite-reader", writeAlias: "sqlite-primary" })),
  Layer.provide(Layer.orDie(SqliteTesting.layer()))
)

const clusterLayer = (kind: "postgres" | "mariadb"): BackendLayer => {
  const nodes = loadCluster()[kind]
  const replica = replicaOf(nodes)
  const connect = (url: string) =>
    kind === "postgres"
      ? PgClient.make({ url: Redacted.make(url) })
      : MysqlClient.make({ url: Redacted.make(url) })
  const clients = Layer.scopedContext(Effect.gen(function*() {
    // Under our own tags: XxxClient.layer would provide the global SqlClient tag and collide.
    const write = yield* connect(nodes.primary.url)
    const read = yield* connect(replica.url)
    return Context.make(WriteConnection, write).pipe(Context.add(ReadConnection, read))
  })).pipe(Layer.provide(Reactivity.layer))
  const setup = Layer.scopedContext(Effect.gen(function*() {
    const write = yield* WriteConnection
    yield* runAll(write, usersDdl[kind])
    if (kind === "mariadb") {
      const admin = yield* MysqlClient.make({ url: Redacted.make(nodes.primary.adminUrl) })
      yield* runAll(admin, mariaAdminDdl)
    }
    const primaryNode = kind === "postgres"
      ? false
      : Number((yield* write.unsafe<{ id: number }>("SELECT @@server_id AS id"))[0]!.id)
    const sync = promise(() => waitReplicated(nodes, { replicas: [replica] }))
    yield* sync
    return Context.make(Backend, {
      name: kind,
      primaryNode,
      sync,
      pauseReplay: promise(() => pauseReplay(replica)),
      resumeReplay: promise(() => resumeReplay(replica)),
      kill: (pid) =>
        kind === "postgres"
          // pg_terminate_backend only signals: wait until the session is gone, so the next statement on it fails
          // for sure (a bounded loop of queries: layer() tests run under TestClock, where sleeps do not advance).
          ? Effect.zipRight(
            write`SELECT pg_terminate_backend(${pid})`,
            write<{ n: number }>`SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE pid = ${pid}`.pipe(
              Effect.repeat({ until: (rows) => rows[0]!.n === 0, times: 5000 }),
              Effect.asVoid
            )
          )
          : Effect.asVoid(write.unsafe(`KILL ${pid}`)),
      pidSql: kind === "postgres" ? "SELECT pg_backend_pid() AS pid" : "SELECT CONNECTION_ID() AS pid"
    })
  })).pipe(Layer.provide(Reactivity.layer))
  return setup.pipe(
    Layer.provideMerge(
      Testing.recording({ readAlias: replica.name, writeAlias: nodes.primary.name })
    ),
    Layer.provide(clients)
  )
}

/**
 * The backends the shared suite runs on; `hasReplicas`: the servers can answer "which node am I" and have a
 * connection to lose (not SQLite: one file). FASTORM_TEST_CLUSTER=off leaves only SQLite.
 */
export const backends: ReadonlyArray<
  { readonly name: BackendShape["name"]; readonly hasReplicas: boolean; readonly layer: () => BackendLayer }
> = process.env.FASTORM_TEST_CLUSTER === "off"
  ? [{ name: "sqlite", hasReplicas: false, layer: () => sqliteLayer }]
  : [
    { name: "sqlite", hasReplicas: false, layer: () => sqliteLayer },
    { name: "postgres", hasReplicas: true, layer: () => clusterLayer("postgres") },
    { name: "mariadb", hasReplicas: true, layer: () => clusterLayer("mariadb") }
  ]
