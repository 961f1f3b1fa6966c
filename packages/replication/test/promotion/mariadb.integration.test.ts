/**
 * Following a promoted primary on MariaDB: the primary killed, then a replica promoted the way MaxScale's monitor does
 * it (`STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0`, the other replica re-pointed with
 * `MASTER_USE_GTID = slave_pos`), under the History-checked load, through `FastOrm.layer({ nodes })`; then the old
 * primary back writable while the others replicate from the new one (fenced). The promotion runs with an 8 s wait for
 * a primary (`primaryWaitTimeout`): what finds no primary during it waits instead of failing. The shared MariaDB cluster is rebuilt
 * as it was afterwards, for the files that follow.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import {
  appQuery,
  History,
  killNode,
  loadCluster,
  LOADED_MACHINE_SLACK_MS,
  type NodeInfo,
  promoteMariaReplica,
  restoreMariaCluster,
  reviveMariaPrimary,
  stopFetching,
  waitReplicated,
  waitUntil
} from "@fastorm/test-support"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { ConnectionRouter, FastOrm } from "../../src/index.js"
import { report } from "../support/cluster.js"
import { mostAdvanced } from "../support/mostAdvanced.js"
import { startLoad, verdictsOf } from "./load.js"

const cluster = loadCluster().mariadb
const all = [cluster.primary, ...cluster.replicas]
// The replica the first test promotes: the one that fetched the most when the primary died, as MaxScale picks it.
let promoted: NodeInfo = cluster.replicas[0]!
const PROBE_INTERVAL_MS = 200

beforeAll(async () => {
  await appQuery(
    cluster.primary,
    "CREATE TABLE IF NOT EXISTS promo_kv (id INT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(64) NOT NULL, v VARCHAR(64) NOT NULL)"
  )
  await waitReplicated(cluster)
}, 60_000)

// The next test files expect the cluster as it was started: the original primary, both replicas following it.
afterAll(() => restoreMariaCluster(cluster), 120_000)

// `primaryWaitTimeout`: how long a statement that finds no primary waits for one (default 0: it fails at once).
const app = (primaryWaitTimeout: Duration.DurationInput = "0 millis") =>
  FastOrm.layer({
    name: "maria-nodes",
    nodes: all.map((n) => ({ url: n.url, name: n.name })),
    readWrite: {
      statementTimeout: "2 seconds",
      connectTimeout: "1 second",
      sessionWaitTimeout: "200 millis",
      primaryWaitTimeout
    },
    health: {
      interval: `${PROBE_INTERVAL_MS} millis`,
      timeout: "1 second",
      failureThreshold: 2,
      backoffCap: "1 second"
    },
    pool: { poolSize: 2, maxOverflow: 4 }
  })

/** The load's deadlines with an 8 s wait for a primary: a wait that gives up still ends within them. */
const WAITING_DEADLINES = { readMs: 10_000, writeMs: 10_000 } as const

const nodeOf = (port: unknown) => all.find((n) => n.port === Number(port))?.name ?? `port-${port}`

describe("following a promoted primary: MariaDB, promoted as MaxScale does", () => {
  it.scopedLive(
    "the primary killed and a replica promoted: the writes follow it, nothing acknowledged is lost; with a wait for " +
      "a primary no write fails but those racing the kill (outcome unknown)",
    () =>
      Effect.gen(function*() {
        const router = yield* ConnectionRouter.ConnectionRouter
        yield* waitUntil(router.currentPrimary, (p) => p === cluster.primary.name, {
          what: "the app to name the primary",
          timeoutMs: 10_000
        })
        const load = yield* startLoad("maria-promote", nodeOf, "mariadb", WAITING_DEADLINES)
        yield* waitUntil(Effect.sync(() => load.ackedWrites()), (n) => n >= 30, {
          what: "30 acknowledged writes",
          timeoutMs: 20_000
        })
        const t0 = performance.now()
        // When the app names a new primary (a waiting write should run there at once, not after a pause); only the
        // promoted node can be named: the other replica stays read-only.
        const named = { at: 0, name: "" }
        yield* Effect.forkScoped(Effect.repeat(
          Effect.map(router.currentPrimary, (p) => {
            if (p !== undefined && p !== cluster.primary.name && named.at === 0) {
              named.at = performance.now()
              named.name = p
            }
          }),
          { schedule: Schedule.spaced("5 millis"), until: () => named.at !== 0 }
        ))
        yield* Effect.promise(() => killNode(cluster.primary))
        promoted = mostAdvanced(yield* Effect.promise(() => stopFetching(cluster)))
        yield* Effect.promise(() => promoteMariaReplica(cluster, promoted))
        const promotedAt = performance.now()
        const resumed = yield* waitUntil(
          Effect.sync(() =>
            load.history.ops.find((op) =>
              op.kind === "write" && op.status === "ok" && op.node === promoted.name && op.invokedAt >= t0
            )
          ),
          (op) => op !== undefined,
          { what: `a write acknowledged by ${promoted.name}`, timeoutMs: 20_000 }
        ).pipe(Effect.zipRight(Effect.sync(() =>
          load.history.ops.find((op) =>
            op.kind === "write" && op.status === "ok" && op.node === promoted.name && op.invokedAt >= t0
          )!
        )))
        yield* Effect.sleep("2 seconds")
        yield* load.stop
        const rows = yield* Effect.promise(() =>
          appQuery<{ k: string; v: string }>(promoted, `SELECT k, v FROM promo_kv WHERE k IN (?, ?, ?)`, [...load.keys])
        )
        const final = History.finalStateOf(rows.map((r) => ({ key: r.k, value: r.v })))
        const verdicts = verdictsOf(load, final)
        const followMs = Math.round(resumed.completedAt! - promotedAt)
        const figures = {
          killed: cluster.primary.name,
          promoted: promoted.name,
          promotionTookMs: Math.round(promotedAt - t0),
          writesFollowedMsAfterPromotion: followMs,
          namedMsAfterPromotion: Math.round(named.at - promotedAt),
          ...load.figures()
        }
        yield* report("mariadb primary killed, replica promoted", figures)
        expect(History.report(verdicts)).not.toMatch(/^FAIL/m)
        // Within one probe interval plus 1 s of the new primary accepting writes (and a loaded machine's slack).
        expect(followMs).toBeLessThanOrEqual(PROBE_INTERVAL_MS + 1_000 + LOADED_MACHINE_SLACK_MS)
        expect(figures.ordinaryReadsFailed).toBe(0)
        // Every write that found no primary waited for the promoted one (up to 8 s, under the load's 10 s deadline):
        // only a write sent to the primary as it died can fail, and it fails as unknown, never as failed; the
        // session reads that only a primary could serve waited too.
        expect(figures.writesFailed).toBe(0)
        expect(figures.sessionReadsFailed).toBe(0)
        expect(named.name).toBe(promoted.name)
        expect(yield* router.currentPrimary).toBe(promoted.name)
      }).pipe(Effect.provide(app("8 seconds"))),
    120_000
  )

  it.scopedLive(
    "the old primary back writable while the others replicate from the new one: fenced",
    () =>
      Effect.gen(function*() {
        const router = yield* ConnectionRouter.ConnectionRouter
        // The app starts with the cluster as the previous test left it: the promoted replica is the primary.
        yield* waitUntil(router.currentPrimary, (p) => p === promoted.name, {
          what: `the app to name ${promoted.name} the primary`,
          timeoutMs: 10_000
        })
        yield* Effect.promise(() => reviveMariaPrimary(cluster.primary))
        const load = yield* startLoad("maria-fenced", nodeOf, "mariadb")
        yield* Effect.sleep("3 seconds")
        yield* load.stop
        const onOld = yield* Effect.promise(() =>
          appQuery<{ n: unknown }>(cluster.primary, "SELECT count(*) AS n FROM promo_kv WHERE k LIKE ?", [
            `${load.prefix}%`
          ])
        )
        const figures = { old: cluster.primary.name, primary: yield* router.currentPrimary, ...load.figures() }
        yield* report("mariadb old primary back writable", figures)
        expect(figures.primary).toBe(promoted.name)
        expect(Number(onOld[0]!.n)).toBe(0)
        expect(figures.writesBy).toEqual({ [promoted.name]: figures.writesAcked })
        expect(figures.writesAcked).toBeGreaterThan(10)
      }).pipe(Effect.provide(app())),
    120_000
  )
})
