import type { NodeInfo } from "../cluster/types.js"

/**
 * One PostgreSQL node managed by Patroni. As a `NodeInfo` it works with `adminQuery`, `appQuery` and `nodeQuery`;
 * its `role` is the one it had when the cluster started (the leader moves: ask `Patroni.leader`).
 */
export interface PatroniNode extends NodeInfo {
  /** Patroni's REST API port on 127.0.0.1 (`GET /cluster`, `/leader`, `/patroni`). */
  readonly restPort: number
  /** The node's Patroni configuration (YAML; written as JSON, which YAML reads). */
  readonly configFile: string
  /** Patroni's own output (its decisions: leader race, promotion, demotion, rewind). */
  readonly patroniLog: string
}

/** A running Patroni cluster: three PostgreSQL 15 nodes on one etcd, all in one temp dir. */
export interface PatroniCluster {
  readonly dir: string
  /** Patroni's cluster name (`scope`), as `patronictl` wants it. */
  readonly scope: string
  readonly nodes: ReadonlyArray<PatroniNode>
  /** etcd's client URL. */
  readonly etcdUrl: string
  readonly timings: PatroniTimings
  /** Patroni's `synchronous_mode`: commits wait for the member Patroni names `sync_standby`. */
  readonly synchronousMode: boolean
}

/** Patroni's failure-detection settings (seconds), the DCS part of its configuration. */
export interface PatroniTimings {
  /** How long the leader key lives without a refresh: a dead leader is replaced after about this long. */
  readonly ttl: number
  /** Pause between two runs of each node's HA loop (the leader refreshes its key once per loop). */
  readonly loopWait: number
  /** How long an etcd or PostgreSQL operation is retried before the node gives up (a leader then demotes itself). */
  readonly retryTimeout: number
}

/** One member as Patroni's REST API `GET /cluster` shows it. */
export interface PatroniMember {
  readonly name: string
  /** "leader", "replica", "sync_standby", ... */
  readonly role: string
  /** "running", "streaming", "starting", "stopped", "crashed", ... */
  readonly state: string
  readonly host: string
  readonly port: number
  readonly timeline?: number | undefined
  /** Replication lag in bytes, or "unknown". */
  readonly lag?: number | string | undefined
}
