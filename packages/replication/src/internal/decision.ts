/**
 * The routing decision: one pure function from a statement's situation (its kind, the client it came through,
 * `WriteOnly`, an open transaction, the session's position) and the cluster's state (configuration, the monitor's
 * snapshot, what the router learnt) to a target. Every path asks it: templates, compiled statements, raw, values,
 * unprepared statements and streams; execution only carries out what it says (ARCHITECTURE.md, "The routing
 * decision"). Its table test is the README's routing table.
 */
import type { NodeHealth as Health } from "@fastorm/health"
import type { ResolvedReadWriteConfig } from "../ReadWriteConfig.js"
import type { Position } from "../SessionToken.js"
import type { Learnt, Topology } from "./eligibility.js"
import { coveringCandidates, primaryOf, readCandidates, sessionCandidates } from "./eligibility.js"
import type { Candidate, SelectionState } from "./selection.js"
import { order } from "./selection.js"
import type { StatementKind } from "./statementKind.js"

/** Why a statement ran where it ran; carried by spans and metrics. */
export type Reason =
  | "write"
  | "locking"
  | "transaction"
  | "forceWrite"
  | "primary"
  | "session"
  | "ordinary"
  | "fallback"
  | "retry"

/** One statement's situation. */
export interface Request {
  /** The client it was issued on: `ReadConnection` routes, `WriteConnection` always uses the primary. */
  readonly client: "read" | "write"
  readonly kind: StatementKind
  /** `WriteOnly` is set (`forceWrite`, `Database.forceWrite`). */
  readonly writeOnly: boolean
  /** Inside `Database.transaction` (or any @effect/sql transaction). */
  readonly inTransaction: boolean
  /** The position the session must see on this cluster, if it wrote there. */
  readonly token: Position | undefined
}

/** Where a statement goes. */
export type Route =
  /** The open transaction's own connection. */
  | { readonly _tag: "Transaction" }
  /** The primary `node`; `write` statements record the session's position and are never retried. */
  | { readonly _tag: "Primary"; readonly node: string; readonly reason: Reason; readonly write: boolean }
  /** No node is the primary now (a promotion in progress, a conflict, a demoted primary): `PrimaryUnavailable`. */
  | { readonly _tag: "NoPrimary"; readonly why: "none" | "conflict" | "demoted" }
  /**
   * These replicas in this order (a retry takes the next), then the fallback on `primary` (the node that is the
   * primary now, if any).
   */
  | {
    readonly _tag: "Replicas"
    readonly reason: "ordinary" | "session"
    readonly order: ReadonlyArray<Candidate>
    readonly primary: string | undefined
  }
  /** Wait (bounded) for `replica` to replay `token`; read there if it does, else `otherwise`. */
  | {
    readonly _tag: "Wait"
    readonly replica: Candidate
    readonly token: Position
    readonly primary: string | undefined
    readonly otherwise: Route
  }
  /** No replica can serve: the primary `node`, within the fallback permits. */
  | { readonly _tag: "Fallback"; readonly node: string }
  /** No replica can serve and the configuration forbids the primary (`replicaOnly`): `NoHealthyReplica`. */
  | { readonly _tag: "Refuse" }

/** The cluster's state at the moment of the decision. */
export interface View {
  readonly topology: Topology
  readonly config: ResolvedReadWriteConfig
  readonly snapshot: ReadonlyArray<Health.NodeHealth>
  readonly learnt: Learnt
  /** The strategies' state (round-robin cursor, weighted counters): advanced by each decision that picks. */
  readonly selection: SelectionState
  readonly random?: (() => number) | undefined
}

const transaction: Route = { _tag: "Transaction" }
const refuse: Route = { _tag: "Refuse" }

/** Why no node is the primary, from the snapshot (the monitor's routing). */
const noPrimaryOf = (snapshot: ReadonlyArray<Health.NodeHealth>): Route => ({
  _tag: "NoPrimary",
  why: snapshot.some((h) => h.configuredRole === "primary" && h.role === "replica")
    ? "demoted"
    : snapshot.filter((h) => h.role === "primary" && h.status !== "UNHEALTHY" && h.status !== "UNKNOWN").length > 1
    ? "conflict"
    : "none"
})

/**
 * The session position that applies to this cluster: only with `consistency: "session"`, on a dialect with positions,
 * and of the cluster's own kind (a position of another kind was made elsewhere and says nothing here).
 */
export const sessionPosition = (
  token: Position | undefined,
  topology: Topology,
  config: ResolvedReadWriteConfig
): Position | undefined =>
  token === undefined || config.consistency !== "session" || topology.positionKind === undefined ||
    (token.kind !== "unknown" && token.kind !== topology.positionKind)
    ? undefined
    : token

/** Decides where one statement runs. */
export const decide = (request: Request, view: View): Route => {
  if (request.inTransaction) return transaction
  const current = primaryOf(view.snapshot)?.name
  const primary = (reason: Reason, write: boolean): Route =>
    current === undefined ? noPrimaryOf(view.snapshot) : { _tag: "Primary", node: current, reason, write }
  if (request.kind === "write") return primary("write", true)
  if (request.kind === "locking") return primary("locking", true)
  if (request.writeOnly) return primary("forceWrite", false)
  const { config, topology } = view
  if (
    request.client === "write" || !config.enableReadWriteSplit || config.readPreference === "primary" ||
    config.consistency === "strong" || topology.replicas.length === 0
  ) return primary("primary", false)
  const token = sessionPosition(request.token, topology, config)
  if (token === undefined) {
    const eligible = readCandidates(topology, config, view.snapshot, view.learnt)
    if (eligible.length > 0) {
      return {
        _tag: "Replicas",
        reason: "ordinary",
        order: order(config.strategy, eligible, view.selection, view.random),
        primary: current
      }
    }
    return config.readPreference === "replicaOnly"
      ? refuse
      : current === undefined
      ? noPrimaryOf(view.snapshot)
      : { _tag: "Fallback", node: current }
  }
  const noReplica = config.readPreference === "replicaOnly" ? refuse : primary("session", false)
  // No replica can be shown to have a write whose position is unknown: not worth a wait.
  if (token.kind === "unknown") return noReplica
  const ready = coveringCandidates(
    sessionCandidates(topology, config, view.snapshot, view.learnt, current),
    token,
    view.snapshot,
    view.learnt
  )
  if (ready.length > 0) {
    return {
      _tag: "Replicas",
      reason: "session",
      order: order(config.strategy, ready, view.selection, view.random),
      primary: current
    }
  }
  // Only a session read no replica is known to cover looks at the ordinary candidates: one to wait on.
  const eligible = readCandidates(topology, config, view.snapshot, view.learnt)
  if (eligible.length === 0) return noReplica
  return {
    _tag: "Wait",
    replica: order(config.strategy, eligible, view.selection, view.random)[0]!,
    token,
    primary: current,
    otherwise: noReplica
  }
}
