/**
 * The replica demo shared by postgres-replicas.ts and mariadb-replicas.ts: routing, forced reads, transactions,
 * read-your-writes, and a replica that is down. Only the SQL that differs by server is given by each entry file.
 */
import { Database, Model, ReadConnection, Repository, WriteConnection } from "@fastorm/core"
import { ConnectionRouter, FastOrm, FastOrmLive, SessionToken } from "@fastorm/replication"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Net from "node:net"

class User extends Model.Class<User>("User")({
  id: Model.Generated(Schema.Int),
  name: Schema.String,
  email: Schema.String,
  status: Schema.String
}) {}

const Users = Repository.make(User, { table: "example_users", idColumn: "id" })

// Which node answered, by the server's own word (its port), named as FastOrm.layer names them.
const nodeByPort = new Map<number, string>()
const env = { write: process.env["FASTORM_WRITE_URL"] ?? "", read: process.env["FASTORM_READ_URLS"] ?? "" }

/** What differs between the servers. */
export interface Server {
  /** "PostgreSQL" or "MariaDB", as `npm run cluster` labels its export lines. */
  readonly label: string
  /** Whether a URL belongs to this server. */
  readonly accepts: (url: string) => boolean
  /** A query answering the server's own port, as `port`. */
  readonly portSql: string
  /** The column definitions of the example table. */
  readonly columns: string
  /** The cluster's name of the first replica, for the kill -STOP hint. */
  readonly replicaName: string
}

let server: Server

const whoAnswered = (client: typeof ReadConnection.Service) =>
  Effect.map(
    client.unsafe<{ port: number }>(server.portSql),
    (rows) => nodeByPort.get(Number(rows[0]!.port)) ?? `port ${rows[0]!.port}`
  )

const section = (title: string) => Console.log(`\n=== ${title}`)

const showStats = Effect.gen(function*() {
  const router = yield* ConnectionRouter.ConnectionRouter
  const stats = yield* router.stats
  yield* Console.table(
    Object.entries(stats.byNodeAndReason).map(([key, statements]) => {
      const [node, reason] = key.split("|")
      return { node, reason, statements }
    })
  )
})

const demo = Effect.gen(function*() {
  const read = yield* ReadConnection
  const write = yield* WriteConnection
  const router = yield* ConnectionRouter.ConnectionRouter
  yield* write`DROP TABLE IF EXISTS example_users`
  yield* write.unsafe(`CREATE TABLE example_users (${server.columns})`)
  yield* router.resetStats

  yield* section("Ordinary reads go to the replicas, in turn")
  // A fresh session: the DDL above is this fiber's own write, and would make its reads session reads.
  yield* Effect.locally(
    Effect.gen(function*() {
      for (let i = 1; i <= 4; i++) yield* Console.log(`read ${i} answered by ${yield* whoAnswered(read)}`)
    }),
    SessionToken.currentTokens,
    {}
  )

  yield* section("Writes, forced reads and transactions run on the primary")
  const john = yield* Users.create({ name: "John", email: "john@example.com", status: "active" })
  yield* Console.log(`created user ${john.id} (${john.name})`)
  const fresh = yield* Users.find(john.id, { forceWrite: true })
  yield* Console.log(
    `find(id, { forceWrite: true }) -> ${Option.match(fresh, { onNone: () => "none", onSome: (u) => u.email })}`
  )
  const active = yield* Users.where("status", "active").forceWrite().get()
  yield* Console.log(`where("status", "active").forceWrite().get() -> ${active.map((u) => u.name).join(", ")}`)
  yield* Console.log(`Database.forceWrite(read) answered by ${yield* Database.forceWrite(whoAnswered(read))}`)
  yield* Database.transaction(Effect.gen(function*() {
    const again = yield* Users.find(john.id)
    yield* Users.update(john.id, { status: "idle" })
    yield* Console.log(
      `in a transaction: find -> ${
        Option.isSome(again) ? "found" : "none"
      }, update, and reads answered by ${yield* whoAnswered(
        read
      )}`
    )
  }))

  yield* section("Read-your-writes (consistency: \"session\", the default)")
  const ada = yield* Users.create({ name: "Ada", email: "ada@example.com", status: "active" })
  const token = Option.getOrElse(yield* FastOrm.sessionToken, () => "(none)")
  yield* Console.log(`after the write, the session's token is ${token}`)
  yield* router.resetStats
  const seen = yield* Users.find(ada.id)
  yield* Console.log(
    `find right after create -> ${
      Option.isSome(seen) ? "found" : "MISSING"
    } (a replica that has replayed the token serves it, else the primary)`
  )
  yield* showStats
  // Another request of the same user, in a fresh session: the token travels as an opaque string (a header, a cookie).
  if (token !== "(none)") {
    const later = yield* FastOrm.withSessionToken(token, Users.find(ada.id)).pipe(
      Effect.locally(SessionToken.currentTokens, {})
    )
    yield* Console.log(
      `next request with FastOrm.withSessionToken(token, ...) -> ${Option.isSome(later) ? "found" : "MISSING"}`
    )
  }

  yield* section("Where every statement ran (a transaction's statements run on its own connection, unrouted)")
  yield* router.resetStats
  for (let i = 0; i < 6; i++) yield* Users.count()
  yield* Users.count({ forceWrite: true })
  yield* Users.update(john.id, { status: "active" })
  yield* showStats
})

/** A port with nothing listening: a replica that is down. */
const closedPort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

const replicaDown = Effect.gen(function*() {
  yield* section("A replica that is down (a third replica on a closed port)")
  let failed = 0
  for (let i = 0; i < 30; i++) {
    yield* Effect.catchAll(Effect.asVoid(Users.count()), () => Effect.sync(() => failed++))
    yield* Effect.sleep("50 millis")
  }
  const stats = yield* (yield* ConnectionRouter.ConnectionRouter).stats
  yield* Console.log(
    `30 reads, ${failed} failed; replica-down was tried ${stats.byNode["replica-down"] ?? 0} time(s): a read it ` +
      "refuses is retried on the next replica at once, and the monitor marks it UNHEALTHY so it gets no more"
  )
  yield* showStats
  yield* Console.log(
    "To watch a real replica fail over, stop one with the cluster's pids while this runs:\n" +
      `  kill -STOP <pid of ${server.replicaName}>   (resume with kill -CONT)`
  )
})

const withDownReplica = (port: number) =>
  FastOrm.layerConfig(Config.map(FastOrm.config, (config): FastOrm.FastOrmConfig => {
    // This demo is given a primary and replicas (FASTORM_WRITE_URL / FASTORM_READ_URLS), not FASTORM_NODES.
    if (config.write === undefined) return config
    const write = typeof config.write === "string" || Redacted.isRedacted(config.write)
      ? config.write
      : config.write.url
    const down = new URL(typeof write === "string" ? write : Redacted.value(write))
    down.port = String(port)
    const read = config.read === undefined ? [] : Array.isArray(config.read) ? config.read : [config.read]
    return {
      ...config,
      write: config.write,
      read: [...read, { url: Redacted.make(down.toString()), name: "replica-down" }],
      // Eventual consistency: this part is about health, not about the session's own writes.
      readWrite: { consistency: "eventual" as const },
      health: { interval: "250 millis", failureThreshold: 2 }
    }
  }))

const main = Effect.gen(function*() {
  if (!server.accepts(env.write)) {
    yield* Console.error(
      `Set FASTORM_WRITE_URL and FASTORM_READ_URLS to a ${server.label} cluster: run \`npm run cluster\` and copy ` +
        `its "# ${server.label}" export line.`
    )
    return yield* Effect.sync(() => {
      process.exitCode = 1
    })
  }
  yield* demo.pipe(Effect.provide(FastOrmLive))
  yield* replicaDown.pipe(Effect.provide(withDownReplica(yield* closedPort)))
})

/** Runs the demo against the cluster in FASTORM_WRITE_URL / FASTORM_READ_URLS. */
export const run = (target: Server): void => {
  server = target
  if (env.write !== "") nodeByPort.set(Number(new URL(env.write).port), "primary")
  env.read.split(",").filter((u) => u.length > 0).forEach((u, i) =>
    nodeByPort.set(Number(new URL(u).port), `replica-${i + 1}`)
  )
  Effect.runPromise(main).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
