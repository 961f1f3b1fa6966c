/**
 * The real router over in-process fake nodes, a scripted monitor and scripted consistency operations: for tests of
 * what the router does with session positions, where the servers' own timing would only blur the case.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import type { DatabaseAdapter } from "@fastorm/adapters"
import { NodeClient, SqlCompiler } from "@fastorm/adapters"
import { HealthMonitor, HealthState } from "@fastorm/health"
import type { NodeHealth } from "@fastorm/health"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { ConsistencyOps } from "../../src/internal/consistency.js"
import * as Consistency from "../../src/internal/consistency.js"
import * as Engine from "../../src/internal/router.js"
import type { ReadWriteConfig } from "../../src/ReadWriteConfig.js"
import { resolve } from "../../src/ReadWriteConfig.js"
import type * as SessionToken from "../../src/SessionToken.js"

/** The connection lost after the statement was sent (the server shut down under it): its outcome is unknown. */
export const lostUnder = (sql: string) =>
  new SqlError({ message: `connection lost under ${sql}`, cause: Object.assign(new Error("x"), { code: "57P01" }) })

// Statements that mention "lost", and COMMIT, fail as if the connection broke once they were sent; every other
// statement answers with the name of the node that ran it.
const answer = (node: string, sql: string) =>
  sql.includes("lost") || sql === "COMMIT" ? Effect.fail(lostUnder(sql)) : Effect.succeed([{ node }])

/** A fake node's connection; `name` tells a scripted wait which replica it runs on. */
export interface FakeConnection extends Connection {
  readonly name: string
}

const connectionOf = (name: string): FakeConnection => ({
  name,
  execute: (sql) => answer(name, sql),
  executeRaw: (sql) => answer(name, sql),
  executeValues: () => Effect.succeed([]),
  executeUnprepared: (sql) => answer(name, sql),
  executeStream: () => Stream.empty
})

/**
 * A fake node's read connection led by a replay poll (`NodeReads.leading`): each statement hands the lead PostgreSQL's
 * poll row first, the position `shows` says the node has replayed (none: `null`, as on a node that is not a replica).
 */
const ledOf =
  (name: string, shows: (name: string) => SessionToken.Position | undefined) =>
  (_sql: string, onRows: (rows: ReadonlyArray<DatabaseAdapter.TextRow>) => void): FakeConnection => {
    const lead = <A>(effect: Effect.Effect<A, SqlError>) =>
      Effect.zipRight(
        Effect.sync(() => onRows([[shows(name)?.value ?? null, "read committed"]])),
        effect
      )
    const plain = connectionOf(name)
    return {
      ...plain,
      execute: (sql, params, transform) => lead(plain.execute(sql, params, transform)),
      executeRaw: (sql, params) => lead(plain.executeRaw(sql, params)),
      executeUnprepared: (sql, params, transform) => lead(plain.executeUnprepared(sql, params, transform))
    }
  }

const nodeOf = (name: string, carried?: (name: string) => SessionToken.Position | undefined) =>
  Effect.flatMap(SqlCompiler.load("postgresql"), (compiler) => {
    const connection = connectionOf(name)
    return Effect.map(
      NodeClient.make({
        connection,
        compiler,
        spanAttributes: [],
        statementDeadline: Duration.seconds(1),
        ...(carried === undefined ? {} : {
          reads: { connection, reserve: Effect.succeed(connection), cut: () => 0, leading: ledOf(name, carried) }
        })
      }),
      (client) => ({ name, weight: 1, client })
    )
  })

/** A node's health as the monitor reports it: HEALTHY in `role`, replayed up to `position`. */
export const healthy = (name: string, role: "primary" | "replica", position: string): NodeHealth.NodeHealth => ({
  ...HealthState.initial(name, role),
  status: "HEALTHY",
  role,
  lagSeconds: 0,
  replicating: role === "replica" ? true : undefined,
  position,
  consecutiveSuccesses: 1
})

/** What a test scripts: the monitor's snapshot and changes, the primary's positions and the replicas' waits. */
export interface Script {
  /** The monitor's snapshot, read at every statement. */
  readonly snapshot: () => ReadonlyArray<NodeHealth.NodeHealth>
  /** The status changes the router subscribes to; none when undefined. */
  readonly changes?: Queue.Queue<NodeHealth.StatusChange> | undefined
  /** The primary's positions, one per read; `lost` fails like a primary that died right after the write. */
  readonly positions: Array<"lost" | string>
  /** What a wait on the replica `name` shows it has replayed; undefined: not caught up. Default: never. */
  readonly waitFor?: (name: string) => SessionToken.Position | undefined
  /** A wait on the replica `name` as an effect, told whether the router abandoned it; replaces `waitFor`. */
  readonly waiting?: (name: string, abandoned: () => boolean) => Effect.Effect<SessionToken.Position | undefined>
  /**
   * What a replay poll carried in front of a session read on the replica `name` shows it has replayed (undefined:
   * behind), with PostgreSQL's decision over it (`ConsistencyOps.carried`). Default: replicas carry no poll.
   */
  readonly carried?: (name: string) => SessionToken.Position | undefined
  /** Whether the carried look is a wait of its own (MariaDB's): not caught up then means it gave up. */
  readonly carriedWaits?: boolean
  /** The router's configuration, over a 5 ms session wait. */
  readonly readWrite?: ReadWriteConfig | undefined
}

const monitorOf = (script: Script, changes: Queue.Queue<NodeHealth.StatusChange>) =>
  HealthMonitor.HealthMonitor.of({
    nodes: [],
    snapshot: Effect.sync(script.snapshot),
    health: () => Effect.die("unused"),
    status: () => Effect.die("unused"),
    changes: Stream.empty,
    subscribe: Effect.succeed(changes),
    check: Effect.die("unused"),
    checkNode: () => Effect.die("unused"),
    // A write whose connection was lost is reported to the monitor: nothing to do here.
    reportFailure: () => Effect.void,
    reportSuccess: () => Effect.void
  } as unknown as HealthMonitor.HealthMonitorShape)

const scripted = (script: Script): ConsistencyOps => {
  const next = () => {
    const position = script.positions.shift()
    return position === undefined || position === "lost"
      ? Effect.fail(
        new SqlError({ message: "connection lost", cause: Object.assign(new Error("x"), { code: "57P01" }) })
      )
      : Effect.succeed({ kind: "lsn" as const, value: position })
  }
  return {
    kind: "lsn",
    latest: next,
    carried: script.carried === undefined
      ? undefined
      : { ...Consistency.forDialect("postgresql")!.carried!, waits: script.carriedWaits === true },
    waitFor: (replica, _token, _timeout, abandoned) => {
      const name = (replica as FakeConnection).name
      return script.waiting !== undefined ? script.waiting(name, abandoned) : Effect.succeed(script.waitFor?.(name))
    }
  }
}

/** The router of the cluster `fake`: a configured primary and two replicas, a 5 ms session wait. */
export const makeRouter = (script: Script) =>
  Effect.gen(function*() {
    const config = Either.getOrThrow(resolve({ sessionWaitTimeout: Duration.millis(5), ...script.readWrite }))
    const changes = script.changes ?? (yield* Queue.unbounded<NodeHealth.StatusChange>())
    return yield* Engine.make({
      cluster: "fake",
      nodes: {
        roles: "configured",
        primary: yield* nodeOf("primary"),
        replicas: [yield* nodeOf("replica-1", script.carried), yield* nodeOf("replica-2", script.carried)]
      },
      config,
      compiler: yield* SqlCompiler.load("postgresql"),
      consistency: scripted(script)
    }).pipe(Effect.provideService(HealthMonitor.HealthMonitor, monitorOf(script, changes)))
  }).pipe(Effect.provide(Reactivity.layer))

/** The node that served a read. */
export const readNode = (router: Engine.Router) =>
  Effect.map(router.read.unsafe<{ node: string }>("SELECT 1"), (rows) => rows[0]!.node)
