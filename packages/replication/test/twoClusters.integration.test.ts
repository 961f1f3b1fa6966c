/**
 * Two `FastOrm.layer`s in one app, both left unnamed as most apps leave them: each keeps its own session positions,
 * keyed by its primary (host, port, database). A write on one never changes where the other's reads go, and
 * read-your-writes still holds on the one that wrote. Tested with a PostgreSQL and a MariaDB layer in one fiber, and
 * with two PostgreSQL layers on two databases of the same server.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { ReadConnection, WriteConnection } from "@fastorm/core"
import { admin, waitReplicated } from "@fastorm/test-support"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ConnectionRouter, FastOrm } from "../src/index.js"
import type { Backend } from "./support/cluster.js"
import { backends, health, nodeByPort, noSession, pausedReplay, report } from "./support/cluster.js"

type Services = FastOrm.Services

/** An unnamed layer over `b` (its URLs with `database` instead of the cluster's own, when given). */
const layerOf = (b: Backend, database?: string) => {
  const url = (u: string) => database === undefined ? u : u.replace(/\/fastorm(\?|$)/, `/${database}$1`)
  return FastOrm.layer({
    write: url(b.nodes.primary.url),
    read: b.nodes.replicas.map((r) => url(r.url)),
    readWrite: { statementTimeout: "2 seconds", connectTimeout: "2 seconds", sessionWaitTimeout: "20 millis" },
    health
  })
}

const built = (layer: Layer.Layer<Services, unknown>) => Effect.orDie(Layer.build(layer))

/** Runs `effect` against one layer's services, in the caller's fiber (so in its session). */
const on = <A, E>(context: Context.Context<Services>, effect: Effect.Effect<A, E, Services>) =>
  Effect.provide(effect, context)

const table = (b: Backend) => `two_clusters_${b.name}_${process.pid}`

const createTable = (b: Backend) =>
  noSession(Effect.flatMap(WriteConnection, (sql) =>
    Effect.zipRight(
      sql.unsafe(`DROP TABLE IF EXISTS ${table(b)}`),
      sql.unsafe(
        b.name === "postgres"
          ? `CREATE TABLE ${table(b)} (id SERIAL PRIMARY KEY, label TEXT NOT NULL)`
          : `CREATE TABLE ${table(b)} (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(50) NOT NULL)`
      )
    )))

const insert = (b: Backend) =>
  Effect.flatMap(WriteConnection, (sql) => sql.unsafe(`INSERT INTO ${table(b)} (label) VALUES ('x')`))

/** `n` reads through ReadConnection in the current session: the node that answered each, by the server's word. */
const reads = (b: Backend, n: number) =>
  Effect.flatMap(
    ReadConnection,
    (sql: SqlClient.SqlClient) =>
      Effect.forEach(Array.from({ length: n }), () =>
        Effect.map(sql.unsafe<{ port: number }>(b.whoSql), (rows) => nodeByPort(b, rows[0]!.port).name))
  )

const count = (names: ReadonlyArray<string>) => {
  const out: Record<string, number> = {}
  for (const n of names) out[n] = (out[n] ?? 0) + 1
  return out
}

const [pg, maria] = backends() as [Backend, Backend]

describe("two unnamed layers in one app", () => {
  it.scopedLive(
    "a PostgreSQL and a MariaDB layer: a write on one leaves the other's reads on its replicas",
    () =>
      Effect.gen(function*() {
        const pgCtx = yield* built(layerOf(pg))
        const mariaCtx = yield* built(layerOf(maria))
        const identities = [
          ConnectionRouterName(pgCtx),
          ConnectionRouterName(mariaCtx)
        ]
        expect(identities[0]).not.toEqual(identities[1])
        yield* on(pgCtx, createTable(pg))
        yield* on(mariaCtx, createTable(maria))
        yield* Effect.promise(() => Promise.all([waitReplicated(pg.nodes), waitReplicated(maria.nodes)]))
        yield* pausedReplay(pg)

        // A PostgreSQL write in this session: its PostgreSQL reads need the primary (replay is paused) ...
        yield* on(pgCtx, insert(pg))
        const pgAfterPgWrite = count(yield* on(pgCtx, reads(pg, 4)))
        // ... and its MariaDB reads are ordinary reads, on MariaDB's replicas. (MariaDB's replay is paused only
        // after them: a stopped SQL thread makes a replica "not replicating", which would send them all to the
        // primary as fallback reads, whatever the session holds.)
        const mariaAfterPgWrite = count(yield* on(mariaCtx, reads(maria, 10)))
        // The other way round, in the same session.
        yield* pausedReplay(maria)
        yield* on(mariaCtx, insert(maria))
        const mariaAfterMariaWrite = count(yield* on(mariaCtx, reads(maria, 4)))
        const pgAfterBoth = count(yield* on(pgCtx, reads(pg, 4)))
        yield* report("two clusters, postgres + mariadb", {
          identities,
          pgAfterPgWrite,
          mariaAfterPgWrite,
          mariaAfterMariaWrite,
          pgAfterBoth
        })
        expect(pgAfterPgWrite).toEqual({ [pg.nodes.primary.name]: 4 })
        expect(mariaAfterPgWrite[maria.nodes.primary.name] ?? 0).toBe(0)
        expect(Object.values(mariaAfterPgWrite).reduce((a, n) => a + n, 0)).toBe(10)
        expect(mariaAfterMariaWrite).toEqual({ [maria.nodes.primary.name]: 4 })
        // PostgreSQL's position survived the MariaDB write: its reads still need the primary.
        expect(pgAfterBoth).toEqual({ [pg.nodes.primary.name]: 4 })
      }),
    60_000
  )

  it.scopedLive(
    "two PostgreSQL layers on two databases of one server keep separate session positions",
    () =>
      Effect.gen(function*() {
        const second = `fastorm_two_${process.pid}`
        yield* Effect.orDie(admin(pg.nodes.primary, `DROP DATABASE IF EXISTS ${second}`))
        yield* Effect.orDie(admin(pg.nodes.primary, `CREATE DATABASE ${second} OWNER app`))
        yield* Effect.addFinalizer(() =>
          Effect.ignore(admin(pg.nodes.primary, `DROP DATABASE IF EXISTS ${second} WITH (FORCE)`))
        )
        yield* Effect.promise(() => waitReplicated(pg.nodes))
        const aCtx = yield* built(layerOf(pg))
        const bCtx = yield* built(layerOf(pg, second))
        expect(ConnectionRouterName(aCtx)).not.toEqual(ConnectionRouterName(bCtx))
        yield* on(aCtx, createTable(pg))
        yield* Effect.promise(() => waitReplicated(pg.nodes))
        yield* pausedReplay(pg)

        yield* on(aCtx, insert(pg))
        const aReads = count(yield* on(aCtx, reads(pg, 4)))
        const bReads = count(yield* on(bCtx, reads(pg, 10)))
        yield* report("two clusters, two postgres databases", { aReads, bReads })
        expect(aReads).toEqual({ [pg.nodes.primary.name]: 4 })
        expect(bReads[pg.nodes.primary.name] ?? 0).toBe(0)
        expect(Object.values(bReads).reduce((a, n) => a + n, 0)).toBe(10)
      }),
    60_000
  )
})

/** The identity a layer's router keeps its session positions under. */
const ConnectionRouterName = (context: Context.Context<Services>) =>
  Context.get(context, ConnectionRouter.ConnectionRouter).cluster
