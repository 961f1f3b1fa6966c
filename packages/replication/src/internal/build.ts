/**
 * Building `FastOrm.layer`: every option checked before anything connects, one adapter and one client per node,
 * the HealthMonitor, and the router. With `write` / `read` the roles are configured and the primary must answer at
 * start; with `nodes` every node may be either, and the layer waits (bounded) until the monitor names a primary
 * (ARCHITECTURE.md, "Topology").
 */
import type { DatabaseAdapter } from "@fastorm/adapters"
import { AdapterError, ConnectionUrl, DatabaseAdapterFactory, OptimalConfig } from "@fastorm/adapters"
import type { DialectFeaturesShape } from "@fastorm/core"
import { HealthMonitor, Topology } from "@fastorm/health"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ConnectionRouter from "../ConnectionRouter.js"
import type { FastOrmConfig, PoolConfig } from "../FastOrm.js"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import { resolve } from "../ReadWriteConfig.js"
import { PrimaryUnavailable } from "../RouterError.js"
import * as Failover from "./failover/coordinator.js"
import * as FailoverOps from "./failover/ops.js"
import { checkNodes, InvalidCluster, nodesOf, type ResolvedNode, shapeProblems } from "./nodes.js"

/** "77 ms", "5 s", "2.5 s": the figures a start-up error reports. */
const formatMillis = (ms: number): string => ms < 1000 ? `${Math.round(ms)} ms` : `${Number((ms / 1000).toFixed(1))} s`

/**
 * What happened to the primary at start, with the driver's code and how long it took: "connection refused
 * (ECONNREFUSED) after 77 ms"; "no answer within 5 s" only for a real timeout.
 */
const startupReason = (error: AdapterError.ConnectionFailed, elapsedMs: number, connectTimeout: Duration.Duration) =>
  error.problem === "timeout"
    ? `no answer within ${formatMillis(Duration.toMillis(connectTimeout))}${
      error.code === undefined ? "" : ` (${error.code})`
    }`
    : `${error.detail} after ${formatMillis(elapsedMs)}`

/**
 * The router's bounds are the nodes' bounds: the adapters' clients enforce them inside the driver. They are the nodes'
 * defaults, so a bound a node's URL sets is that node's own and stays (the most specific wins; where it is looser than
 * the router's, the router's guard keeps its own on top, ARCHITECTURE.md "Deadlines"); `pool` settings win over both.
 */
const boundsOf = (readWrite: ResolvedReadWriteConfig, dialect: string): PoolConfig | undefined =>
  dialect === "sqlite"
    ? undefined
    : { connectTimeout: readWrite.connectTimeout, statementTimeout: readWrite.statementTimeout }

/**
 * Core emits INSERT ... RETURNING only where the server has it (MariaDB 10.5+, never MySQL): ask the primary, which
 * also tells MariaDB from MySQL for the spans' `db.system.name`.
 */
const featuresOf = (
  adapter: DatabaseAdapter.DatabaseAdapter,
  client: DatabaseAdapter.NodeClient,
  readWrite: ResolvedReadWriteConfig
): Effect.Effect<{ readonly features: DialectFeaturesShape; readonly system: string }> =>
  adapter.dialect !== "mysql"
    ? Effect.succeed({ features: {}, system: adapter.dialect })
    : adapter.detectFeatures(client).pipe(
      Effect.timeout(readWrite.connectTimeout),
      Effect.map(({ features, version }) => ({
        features: { supportsReturning: features.supportsReturning },
        system: version.product
      })),
      Effect.orElseSucceed(() => ({
        features: { supportsReturning: adapter.features.supportsReturning },
        system: adapter.url.productHint ?? "mysql"
      }))
    )

/** The database as OpenTelemetry names it: the system, and the database name (SQLite: the file). */
const databaseOf = (adapter: DatabaseAdapter.DatabaseAdapter, system: string) => ({
  system,
  namespace: adapter.url.dialect === "sqlite" ? adapter.url.filename : adapter.url.database
})

/** Where a node listens (none for SQLite). */
const serverOf = (adapter: DatabaseAdapter.DatabaseAdapter) =>
  adapter.url.host === undefined ? undefined : { address: adapter.url.host, port: adapter.url.port }

/** Builds the router of `config`, with what core needs to know of the primary's server. */
export const build = (config: FastOrmConfig) =>
  Effect.gen(function*() {
    // Every option is checked before anything connects, the configuration's shape first.
    const shape = shapeProblems(config)
    if (shape.length > 0) return yield* new InvalidCluster({ reason: shape.join("; ") })
    const readWrite = yield* Either.match(resolve(config.readWrite), { onLeft: Effect.fail, onRight: Effect.succeed })
    const health: Record<string, unknown> = config.health ?? {}
    const healthProblems = [
      // The layer gives the monitor its nodes and cluster name: given in `health`, they would be replaced in silence.
      ...["nodes", "cluster"].filter((key) => health[key] !== undefined)
        .map((key) => `${key} is the layer's own (write / read / nodes, name), not a health option`),
      ...Either.match(HealthMonitor.checkConfig(health), { onLeft: (e) => e.problems, onRight: () => [] })
    ]
    if (healthProblems.length > 0) return yield* new HealthMonitor.InvalidHealthConfig({ problems: healthProblems })
    const { learnt, nodes } = nodesOf(config)
    const urls = yield* checkNodes(nodes, learnt)
    const dialect = urls[0]!.dialect
    const poolProblems = OptimalConfig.check(dialect, config.pool)
    if (poolProblems.length > 0) return yield* new AdapterError.InvalidPoolConfig({ problems: poolProblems })
    const defaults = boundsOf(readWrite, dialect)
    const adapters = yield* Effect.forEach(
      nodes,
      (node) => DatabaseAdapterFactory.create(node.url, { name: node.name, config: config.pool, defaults })
    )
    const cluster = config.name ?? ConnectionUrl.identity(urls[0]!)
    const failover = yield* failoverOf(config, learnt, dialect)
    return learnt
      ? yield* buildLearnt(config, readWrite, nodes, adapters, cluster, failover)
      : yield* buildConfigured(config, readWrite, nodes, adapters, urls[0]!, cluster)
  })

const buildConfigured = (
  config: FastOrmConfig,
  readWrite: ResolvedReadWriteConfig,
  nodes: ReadonlyArray<ResolvedNode>,
  adapters: ReadonlyArray<DatabaseAdapter.DatabaseAdapter>,
  primaryUrl: ConnectionUrl.ConnectionUrl,
  cluster: string
) =>
  Effect.gen(function*() {
    const [primaryNode, ...replicaNodes] = nodes as [ResolvedNode, ...Array<ResolvedNode>]
    const [primaryAdapter, ...replicaAdapters] = adapters as [
      DatabaseAdapter.DatabaseAdapter,
      ...Array<DatabaseAdapter.DatabaseAdapter>
    ]
    // The primary must answer at start (bounded), unless the user accepts starting degraded. Replicas never block.
    const [elapsed, made] = yield* Effect.timed(
      Effect.either(primaryAdapter.makeClient({ verify: !readWrite.startDegraded }))
    )
    if (Either.isLeft(made)) {
      const reason = startupReason(made.left, Duration.toMillis(elapsed), readWrite.connectTimeout)
      return yield* new PrimaryUnavailable({
        node: primaryNode.name,
        reason: `${reason}, connecting to ${ConnectionUrl.identity(primaryUrl)}`,
        cause: made.left
      })
    }
    const primaryClient = made.right
    // A network replica connects lazily and cannot fail here; a SQLite reader opens its file now.
    const replicaClients = yield* Effect.forEach(replicaAdapters, (adapter) => adapter.makeClient({ readOnly: true }))
    const monitor = yield* HealthMonitor.make({
      ...config.health,
      cluster,
      nodes: [
        { name: primaryNode.name, role: "primary", adapter: primaryAdapter },
        ...replicaAdapters.map((adapter, i) => ({ name: replicaNodes[i]!.name, role: "replica" as const, adapter }))
      ]
    })
    const { features, system } = yield* featuresOf(primaryAdapter, primaryClient, readWrite)
    const router = yield* ConnectionRouter.makeResolved({
      cluster,
      dialect: primaryAdapter.dialect,
      database: databaseOf(primaryAdapter, system),
      primary: {
        name: primaryNode.name,
        client: primaryClient,
        weight: primaryNode.weight,
        server: serverOf(primaryAdapter)
      },
      replicas: replicaClients.map((client, i) => ({
        name: replicaNodes[i]!.name,
        client,
        weight: replicaNodes[i]!.weight,
        server: serverOf(replicaAdapters[i]!)
      }))
    }, readWrite).pipe(Effect.provideService(HealthMonitor.HealthMonitor, monitor))
    return { router, features, monitor }
  })

const buildLearnt = (
  config: FastOrmConfig,
  readWrite: ResolvedReadWriteConfig,
  nodes: ReadonlyArray<ResolvedNode>,
  adapters: ReadonlyArray<DatabaseAdapter.DatabaseAdapter>,
  cluster: string,
  failover: { readonly admin: ConnectionUrl.ConnectionUrl; readonly afterMs: number } | undefined
) =>
  Effect.gen(function*() {
    // Any node may become the primary: no node's sessions are read-only (a replica refuses writes by itself).
    const clients = yield* Effect.forEach(adapters, (adapter) => adapter.makeClient())
    const monitor = yield* HealthMonitor.make({
      ...config.health,
      cluster,
      nodes: adapters.map((adapter, i) => ({ name: nodes[i]!.name, role: "any" as const, adapter }))
    })
    // The layer starts once the monitor names a primary (one round of probes, bounded), unless started degraded.
    const snapshot = yield* monitor.check.pipe(
      Effect.timeoutTo({ duration: readWrite.connectTimeout, onTimeout: () => undefined, onSuccess: (s) => s })
    )
    const primary = snapshot === undefined ? undefined : Topology.resolve(snapshot, undefined).primary
    if (primary === undefined && !readWrite.startDegraded) {
      const seen = (snapshot ?? []).map((h) =>
        `${h.name}: ${
          h.role !== undefined && h.status !== "UNHEALTHY"
            ? `answers as ${h.role}`
            : h.lastError?.message ?? "no answer"
        }`
      )
      return yield* new PrimaryUnavailable({
        node: "(none)",
        reason: `no node answers as the primary within ${formatMillis(Duration.toMillis(readWrite.connectTimeout))}${
          seen.length === 0 ? "" : ` (${seen.join("; ")})`
        }`
      })
    }
    const at = Math.max(0, nodes.findIndex((n) => n.name === primary))
    const { features, system } = yield* featuresOf(adapters[at]!, clients[at]!, readWrite)
    const router = yield* ConnectionRouter.makeResolved({
      cluster,
      dialect: adapters[0]!.dialect,
      database: databaseOf(adapters[at]!, system),
      nodes: clients.map((client, i) => ({
        name: nodes[i]!.name,
        client,
        weight: nodes[i]!.weight,
        server: serverOf(adapters[i]!)
      }))
    }, readWrite).pipe(Effect.provideService(HealthMonitor.HealthMonitor, monitor))
    if (failover !== undefined) {
      yield* Failover.start({
        nodes: yield* Effect.forEach(adapters, (adapter, i) =>
          Effect.map(adminAdapter(adapter, failover.admin, nodes[i]!.name), (admin) => ({
            name: nodes[i]!.name,
            endpoint: { host: adapter.url.host ?? "127.0.0.1", port: adapter.url.port ?? 5432 },
            admin
          }))),
        ops: FailoverOps.forDialect(adapters[0]!.dialect as "postgresql" | "mysql"),
        monitor,
        afterMs: failover.afterMs,
        interval: HealthMonitor.resolveThresholds(config.health ?? {}).interval
      })
    }
    return { router, features, monitor }
  })

/** An admin client of a node: the node's own URL with the failover's admin credentials. */
const adminAdapter = (
  adapter: DatabaseAdapter.DatabaseAdapter,
  admin: ConnectionUrl.ConnectionUrl,
  name: string
) =>
  Effect.flatMap(
    DatabaseAdapterFactory.create(
      ConnectionUrl.format({ ...adapter.url, username: admin.username, password: admin.password }),
      { name: `${name}-admin` }
    ),
    (made) => made.makeClient()
  )

/** The failover's settings, checked: only with `nodes`, an admin URL of the nodes' dialect, a finite `after`. */
const failoverOf = (config: FastOrmConfig, learnt: boolean, dialect: string) =>
  Effect.gen(function*() {
    const failover = config.failover
    if (failover === undefined || failover.mode === "off") return undefined
    const problems: Array<string> = []
    if (failover.mode !== "promote") problems.push(`failover.mode must be "promote" or "off"`)
    if (!learnt) problems.push("failover needs nodes (roles learnt from the servers), not write / read")
    if (dialect === "sqlite") problems.push("SQLite has no replicas to promote")
    const after = failover.after === undefined
      ? Option.some(Duration.seconds(10))
      : Duration.decodeUnknown(failover.after)
    if (Option.isNone(after) || !Duration.isFinite(after.value)) {
      problems.push("failover.after must be a finite duration")
    }
    const admin = ConnectionUrl.parseEither(failover.adminUrl)
    if (Either.isLeft(admin)) problems.push(`failover.adminUrl: ${admin.left.message}`)
    else if (admin.right.dialect !== dialect) {
      problems.push(`failover.adminUrl is ${admin.right.dialect}, the nodes ${dialect}`)
    }
    if (problems.length > 0) return yield* new InvalidCluster({ reason: problems.join("; ") })
    return {
      admin: Either.getOrThrow(admin),
      afterMs: Duration.toMillis(Option.getOrThrow(after))
    }
  })
