export { loadCluster } from "./cluster/clusterFile.js"
export { APP_PASSWORD, APP_USER, CLUSTER_FILE_ENV, DATABASE } from "./cluster/constants.js"
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
export { waitReplicated, type WaitReplicatedOptions } from "./cluster/replication.js"
export { startClusters, type StartClustersOptions, stopClusters } from "./cluster/start.js"
export type { ClusterInfo, ClusterKind, ClusterNodes, NodeInfo, NodeRole } from "./cluster/types.js"
