/**
 * Ablation targets (BENCH_ABLATION=1): the raw @effect/sql client of replica-1 wrapped, one layer at a time, in what
 * the router adds around every statement (packages/replication/src/internal/router.ts), so each lever's client CPU
 * is measured by difference instead of guessed from a profile:
 *
 *   abl-reserve    + a routing SqlClient whose connection reserves a pooled connection in a scope per statement
 *   abl-deadline   + Effect.disconnect and Effect.timeoutFail (the router's statementDeadline)
 *   abl-count      + acquireUseRelease around it (the router's outstanding-statement counter)
 *   abl-span       + Metric.increment of a tagged counter and Effect.withSpan("fastorm.route") (the router's traced)
 *
 * then the real router (fastorm-sql), the repository on top (fastorm), and both FastORM and the raw client with the
 * tracer disabled (Layer.setTracerEnabled(false)).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import { DatabaseAdapterFactory, SqlCompiler } from "@fastorm/adapters"
import type { NodeInfo } from "@fastorm/test-support"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import type { Driver } from "./harness.js"
import { effectDriver } from "./harness.js"

export const ABLATION_NAMES = [
  "abl-reserve",
  "abl-deadline",
  "abl-count",
  "abl-span"
] as const
export type AblationName = typeof ABLATION_NAMES[number]

export const ABLATION_LABELS: Record<AblationName, string> = {
  "abl-reserve": "(b) + reserve/scope per statement",
  "abl-deadline": "… + disconnect + timeoutFail",
  "abl-count": "… + acquireUseRelease counter",
  "abl-span": "… + Metric.increment + fastorm.route span"
}

const LEVEL: Record<AblationName, number> = { "abl-reserve": 1, "abl-deadline": 2, "abl-count": 3, "abl-span": 4 }

class Node extends Context.Tag("bench/AblationNode")<Node, SqlClient.SqlClient>() {}
class Wrapped extends Context.Tag("bench/AblationWrapped")<Wrapped, SqlClient.SqlClient>() {}

const counter = Metric.counter("bench_routed_statements_total", { incremental: true }).pipe(
  Metric.tagged("node", "replica-1"),
  Metric.tagged("reason", "ordinary")
)

const wrapped = (level: number, dialect: "postgresql" | "mysql") =>
  Effect.gen(function*() {
    const node = yield* Node
    const outstanding = { n: 0 }
    const deadline = Duration.seconds(30)
    const wrap = <A>(run: (c: Connection) => Effect.Effect<A, SqlError>): Effect.Effect<A, SqlError> => {
      let e: Effect.Effect<A, SqlError> = Effect.scoped(Effect.flatMap(node.reserve, run))
      if (level >= 2) {
        e = Effect.disconnect(e).pipe(
          Effect.timeoutFail({
            duration: deadline,
            onTimeout: () => new SqlError({ message: "A statement timed out" })
          })
        )
      }
      if (level >= 3) {
        const inner = e
        e = Effect.acquireUseRelease(
          Effect.sync(() => outstanding.n++),
          () => inner,
          () => Effect.sync(() => outstanding.n--)
        )
      }
      if (level >= 4) {
        e = Effect.zipRight(
          Metric.increment(counter),
          Effect.withSpan(e, "fastorm.route", {
            kind: "internal",
            attributes: { "fastorm.node": "replica-1", "fastorm.reason": "ordinary", "fastorm.cluster": "bench" }
          })
        )
      }
      return e
    }
    const connection: Connection = {
      execute: (sql, params, transformRows) => wrap((c) => c.execute(sql, params, transformRows)),
      executeRaw: (sql, params) => wrap((c) => c.executeRaw(sql, params)),
      executeValues: (sql, params) => wrap((c) => c.executeValues(sql, params)),
      executeUnprepared: (sql, params, transformRows) => wrap((c) => c.executeUnprepared(sql, params, transformRows)),
      executeStream: (sql, params, transformRows) =>
        Stream.unwrapScoped(Effect.map(node.reserve, (c) => c.executeStream(sql, params, transformRows)))
    }
    return yield* SqlClient.make({
      acquirer: Effect.succeed(connection),
      compiler: yield* SqlCompiler.load(dialect),
      spanAttributes: [["fastorm.cluster", "bench"]]
    })
  })

/** An ablation target over replica-1 of the cluster. */
export const makeAblation = async (
  name: AblationName,
  node: NodeInfo,
  rows: number,
  find: (sql: SqlClient.SqlClient, id: number) => Effect.Effect<unknown, unknown>
): Promise<{ readonly driver: Driver; readonly close: () => Promise<void> }> => {
  const adapter = await Effect.runPromise(Effect.orDie(DatabaseAdapterFactory.create(node.url, {
    name: node.name,
    config: { poolSize: 16, maxOverflow: 0 }
  })))
  const dialect = adapter.dialect === "postgresql" ? "postgresql" : "mysql"
  const nodeLayer = Layer.scoped(Node, Effect.orDie(adapter.makeClient({ readOnly: true })))
  const layer = Layer.scoped(Wrapped, wrapped(LEVEL[name], dialect)).pipe(
    Layer.provideMerge(nodeLayer),
    Layer.provide(Reactivity.layer)
  )
  const runtime = ManagedRuntime.make(layer)
  await runtime.runPromise(Effect.void)
  return {
    driver: effectDriver(rows, runtime, {
      find: (id) => Effect.flatMap(Wrapped, (sql) => find(sql, id)),
      update: (id) => Effect.flatMap(Wrapped, (sql) => find(sql, id))
    }),
    close: () => runtime.dispose()
  }
}
