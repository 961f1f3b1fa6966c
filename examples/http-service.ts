/**
 * A small users API on `FastOrmLive`, with the health, readiness and metrics endpoints beside it:
 *
 *   npm run example:http                       # SQLite (./http-service.db), http://localhost:3000
 *   FASTORM_WRITE_URL=postgresql://app:pw@db:5432/app FASTORM_READ_URLS=postgresql://app:pw@replica:5432/app \
 *     npm run example:http                     # a PostgreSQL or MariaDB cluster (README, "Configuration from the environment")
 *
 *   curl localhost:3000/users -d '{"name":"Ada","email":"ada@example.com"}'
 *   curl localhost:3000/users/1
 *   curl localhost:3000/health/ready           # 200, or 503 while the primary does not answer
 *   curl localhost:3000/metrics                # Prometheus text
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as SqlClient from "@effect/sql/SqlClient"
import { Model, Repository } from "@fastorm/core"
import { HealthEndpoints } from "@fastorm/http"
import { FastOrmLive } from "@fastorm/replication"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { createServer } from "node:http"
import { resolve } from "node:path"

class User extends Model.Class<User>("User")({
  id: Model.Generated(Schema.Int),
  name: Schema.String,
  email: Schema.String
}) {}

const Users = Repository.make(User, { table: "example_users", idColumn: "id" })

const NewUser = Schema.Struct({ name: Schema.String, email: Schema.String })
const UserId = Schema.Struct({ id: Schema.NumberFromString.pipe(Schema.int()) })

/** The table, on whichever dialect the environment points at. */
const createTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.onDialectOrElse({
    pg: () =>
      sql`CREATE TABLE IF NOT EXISTS example_users (id SERIAL PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL)`,
    mysql: () =>
      sql`CREATE TABLE IF NOT EXISTS example_users (
        id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200) NOT NULL, email VARCHAR(200) NOT NULL)`,
    orElse: () =>
      sql`CREATE TABLE IF NOT EXISTS example_users (
        id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT NOT NULL)`
  }))

const badRequest = (error: { readonly message: string }) =>
  HttpServerResponse.unsafeJson({ error: error.message }, { status: 400 })

const api = HttpRouter.empty.pipe(
  HttpRouter.get("/users", Effect.flatMap(Users.all(), (users) => HttpServerResponse.json(users))),
  HttpRouter.post(
    "/users",
    HttpServerRequest.schemaBodyJson(NewUser).pipe(
      Effect.flatMap(Users.create),
      Effect.flatMap((user) => HttpServerResponse.json(user, { status: 201 })),
      Effect.catchTags({ ParseError: badRequest, RequestError: badRequest })
    )
  ),
  HttpRouter.get(
    "/users/:id",
    HttpRouter.schemaPathParams(UserId).pipe(
      Effect.flatMap(({ id }) => Users.find(id)),
      Effect.flatMap(Option.match({
        onNone: () => Effect.succeed(HttpServerResponse.unsafeJson({ error: "not found" }, { status: 404 })),
        onSome: (user) => HttpServerResponse.json(user)
      })),
      Effect.catchTags({ ParseError: badRequest })
    )
  ),
  // GET /health/live, /health/ready and /metrics.
  HttpRouter.concat(HealthEndpoints.router())
)

// SQLite unless the environment names a cluster: FastOrmLive reads FASTORM_* from the ConfigProvider.
const sqlite = `sqlite:///${resolve("http-service.db")}`
const Environment = Layer.setConfigProvider(
  ConfigProvider.fromEnv().pipe(
    ConfigProvider.orElse(() =>
      ConfigProvider.fromMap(new Map([["FASTORM_WRITE_URL", sqlite], ["FASTORM_READ_URLS", sqlite]]))
    )
  )
)

const Database = Layer.effectDiscard(createTable).pipe(Layer.provideMerge(FastOrmLive))

HttpServer.serve(api).pipe(
  HttpServer.withLogAddress,
  Layer.provide(NodeHttpServer.layer(createServer, { port: Number(process.env.PORT ?? 3000) })),
  Layer.provide(Database),
  Layer.provide(Environment),
  Layer.launch,
  NodeRuntime.runMain
)
