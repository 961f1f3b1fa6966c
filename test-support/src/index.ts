export { loadCluster } from "./cluster/clusterFile.js"
export {
  APP_PASSWORD,
  APP_USER,
  CERT_USER,
  CLIENT_KEY_PASSPHRASE,
  CLUSTER_FILE_ENV,
  DATABASE,
  PLAINTEXT_USER
} from "./cluster/constants.js"
export {
  freezeNode,
  isNodeRunning,
  killNode,
  pauseReplay,
  resumeReplay,
  startNode,
  type StartNodeOptions,
  stopNode,
  unfreezeNode
} from "./cluster/controls.js"
export {
  promoteMariaReplica,
  type PromotionOptions,
  restoreMariaCluster,
  reviveMariaPrimary,
  stopFetching
} from "./cluster/mariaPromotion.js"
export {
  type PgBouncerNode,
  type PgBouncerNodes,
  type PgBouncerSettings,
  startPgBouncer,
  type StartPgBouncerOptions,
  startPgBouncers,
  stopPgBouncer,
  stopPgBouncers,
  throughPgBouncer
} from "./cluster/pgbouncer.js"
export { restorePrimary, waitReplicated, type WaitReplicatedOptions } from "./cluster/replication.js"
export {
  adminQuery,
  appQuery,
  type Login,
  nodeQuery,
  NodeQueryError,
  sleepSql,
  type SleepyNode,
  sleepyNodes,
  type Statement
} from "./cluster/sql.js"
export { startClusters, type StartClustersOptions, stopClusters } from "./cluster/start.js"
export { type TlsFiles, withOptions } from "./cluster/tls.js"
export type { ClusterInfo, ClusterKind, ClusterNodes, NodeInfo, NodeRole } from "./cluster/types.js"
export { admin, control, scopedPgBouncer, scratchTable, type Unsafe } from "./effect.js"
export * as DelayProxy from "./faults/DelayProxy.js"
export * as FaultProxy from "./faults/FaultProxy.js"
export * as History from "./faults/History.js"
export {
  createUser,
  dropUser,
  type MarkedSleep,
  markedSleep,
  replicaWriteAttempts,
  restoreAppPassword,
  sessionCount,
  setPassword,
  type TerminateOptions,
  terminateSessions,
  untilRunning,
  waitSessions,
  type WaitSessionsOptions
} from "./faults/nodeFaults.js"
export * as TlsFront from "./faults/TlsFront.js"
export { tempFile } from "./files.js"
export { captureLogs, consoleErrors, type LogLine } from "./logs.js"
export * as Patroni from "./patroni/Patroni.js"
export { poolOnly } from "./poolOnly.js"
export { recordingTracer } from "./recordingTracer.js"
export { type KeepAliveTimer, keepAliveTimers, newKeepAliveTimers } from "./tcpTimers.js"
export { LOADED_MACHINE_SLACK_MS } from "./timing.js"
export { type WaitOptions, waitUntil, waitUntilAsync } from "./wait.js"
