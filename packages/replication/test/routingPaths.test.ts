/**
 * Every path a statement can take through the router (an @effect/sql template, `.raw`, `.values`, `.unprepared`,
 * a compiled statement, a `.stream`, a compiled statement's stream) lands where the README's routing table says, because every path asks the one
 * decision. Driven through `FastOrmTest.layer` (the real router over scripted nodes); placement is read from the
 * router's own counts (node and reason), which every path updates.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { describe, expect, it } from "@effect/vitest"
import { CompiledStatement, CompiledStream, Database, ReadConnection, WriteConnection } from "@fastorm/core"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { ConnectionRouter, FastOrmTest, RouterError } from "../src/index.js"
import type { ReadWriteConfig } from "../src/index.js"

type Path = "template" | "raw" | "values" | "unprepared" | "compiled" | "stream" | "compiled stream"
const paths: ReadonlyArray<Path> = ["template", "raw", "values", "unprepared", "compiled", "stream", "compiled stream"]

/** Runs `text` on `client` through one path; the outcome does not matter here, only where it was placed. */
const through = (path: Path, client: SqlClient.SqlClient, text: string): Effect.Effect<unknown, SqlError> => {
  switch (path) {
    case "template":
      return client.unsafe(text)
    case "raw":
      return client.unsafe(text).raw
    case "values":
      return client.unsafe(text).values
    case "unprepared":
      return client.unsafe(text).unprepared
    case "compiled":
      return CompiledStatement.run(client, CompiledStatement.make(text), [])
    case "stream":
      return Stream.runCollect(client.unsafe(text).stream)
    case "compiled stream":
      return Stream.runCollect(
        CompiledStream.stream(client, CompiledStatement.asArrays(CompiledStatement.make(text)), [])
      )
  }
}

const READ = "SELECT label FROM items ORDER BY id"
const WRITE = "INSERT INTO items (label) VALUES ('x')"
const LOCKING = "SELECT label FROM items FOR UPDATE"

interface Row {
  readonly situation: string
  readonly sql: string
  readonly client?: "read" | "write"
  readonly config?: ReadWriteConfig.ReadWriteConfig
  readonly setup?: Effect.Effect<void, never, FastOrmTest.Controls>
  readonly wrap?: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | WriteConnection>
  /** `node|reason` of the placed statement, or the router error's tag. */
  readonly expected: string | ReadonlyArray<string>
}

const bothDown = Effect.zipRight(
  FastOrmTest.setStatus("replica-1", "UNHEALTHY"),
  FastOrmTest.setStatus("replica-2", "UNHEALTHY")
)

const rows: ReadonlyArray<Row> = [
  { situation: "an ordinary read", sql: READ, expected: ["replica-1|ordinary", "replica-2|ordinary"] },
  { situation: "a write", sql: WRITE, expected: "primary|write" },
  { situation: "a write through WriteConnection", sql: WRITE, client: "write", expected: "primary|write" },
  { situation: "a locking read", sql: LOCKING, expected: "primary|locking" },
  { situation: "a read in Database.forceWrite", sql: READ, wrap: Database.forceWrite, expected: "primary|forceWrite" },
  { situation: "a read through WriteConnection", sql: READ, client: "write", expected: "primary|primary" },
  { situation: "consistency: strong", sql: READ, config: { consistency: "strong" }, expected: "primary|primary" },
  {
    situation: "enableReadWriteSplit: false",
    sql: READ,
    config: { enableReadWriteSplit: false },
    expected: "primary|primary"
  },
  { situation: "no eligible replica: the fallback", sql: READ, setup: bothDown, expected: "primary|fallback" },
  {
    situation: "no eligible replica with replicaOnly: NoHealthyReplica",
    sql: READ,
    config: { readPreference: "replicaOnly" },
    setup: bothDown,
    expected: "NoHealthyReplica"
  }
]

const placed = Effect.map(ConnectionRouter.ConnectionRouter, (router) => router.stats)

describe("every path follows the routing table", () => {
  for (const row of rows) {
    for (const path of paths) {
      it.effect(`${row.situation}: ${path}`, () =>
        Effect.gen(function*() {
          const write = yield* WriteConnection
          yield* write`CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT)`
          yield* write`INSERT INTO items (label) VALUES ('a')`
          yield* row.setup ?? Effect.void
          yield* FastOrmTest.clear
          const client = row.client === "write" ? write : yield* ReadConnection
          const wrap = row.wrap ?? ((effect) => effect)
          const exit = yield* Effect.exit(RouterError.refine(wrap(through(path, client, row.sql))))
          const stats = yield* Effect.flatten(placed)
          const where = Object.keys(stats.byNodeAndReason)
          if (typeof row.expected === "string" && !row.expected.includes("|")) {
            expect(exit._tag === "Failure" && JSON.stringify(exit.cause).includes(row.expected)).toBe(true)
            expect(where).toEqual([])
          } else {
            expect(where).toHaveLength(1)
            expect(typeof row.expected === "string" ? [row.expected] : row.expected).toContain(where[0])
          }
        }).pipe(Effect.provide(FastOrmTest.layer({ readWrite: row.config ?? {} }))))
    }
  }

  for (const path of paths) {
    it.effect(`a statement inside Database.transaction runs on the transaction's connection: ${path}`, () =>
      Effect.gen(function*() {
        const write = yield* WriteConnection
        const read = yield* ReadConnection
        yield* write`CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT)`
        yield* FastOrmTest.clear
        yield* Effect.exit(Database.transaction(through(path, read, READ)))
        const log = yield* FastOrmTest.statements
        // BEGIN, the statement, COMMIT: one reserved connection of the primary.
        expect(new Set(log.map((s) => `${s.node}#${s.connection}`)).size).toBe(1)
        expect(log.map((s) => s.node)).toEqual(["primary", "primary", "primary"])
        expect(log[1]!.sql).toBe(READ)
        expect(Object.keys((yield* Effect.flatten(placed)).byNodeAndReason)).toEqual(["primary|transaction"])
      }).pipe(Effect.provide(FastOrmTest.layer())))
  }
})
